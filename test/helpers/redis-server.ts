import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

/**
 * A redis-server of the test's own on `port` (never the shared one on 6379, which other tests
 * use): no persistence, stopped by the test whenever it likes. `args` are added (e.g. TLS).
 */
export async function startRedisServer(port: number, args: string[] = []): Promise<{ port: number; kill(): Promise<void> }> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' });
  await untilListening(port, child);
  return { port, kill: () => stop(child) };
}

/** A Sentinel on `port` with the given config file (its `sentinel monitor` line names the primary); Sentinel rewrites the file. */
export async function startSentinel(port: number, configFile: string): Promise<{ kill(): Promise<void> }> {
  const child = spawn('redis-server', [configFile, '--sentinel', '--port', String(port), '--bind', '127.0.0.1'], { stdio: 'ignore' });
  await untilListening(port, child);
  return { kill: () => stop(child) };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function untilListening(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server on ${port} did not start`);
}
