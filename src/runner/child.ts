import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { request } from 'node:http';
import type { Logger } from 'pino';
import { nonLoopbackListeners } from './exposure.js';

export interface ChildAppOptions {
  /** The command and its arguments; `{port}` is replaced by the chosen port, `{socket}` by the socket path. */
  command: readonly string[];
  port: number;
  /** When the command names `{socket}`: the Unix socket the app listens on (in a directory only this user can enter). */
  socketPath?: string;
  logger: Logger;
  /** How long the app may take to answer its first request. */
  startTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * `setpriv --pdeathsig SIGTERM` (util-linux, on every Debian and in the image) asks the kernel to
 * send the app SIGTERM when the gateway dies, even by SIGKILL, when no code of the gateway runs.
 * Without it (another system), the app is still stopped on every exit the gateway sees.
 */
const DEATH_SIGNAL_WRAPPER = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => findProgram(path));

/**
 * Runs the protected app as a child on a private loopback port (`HOST=127.0.0.1`, `PORT`, which
 * Dash's `app.run()` reads), restarts it with back-off when it dies, and stops it with the
 * gateway. Warns loudly when the app also listens on a non-loopback address.
 */
export class ChildApp {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ChildAppOptions) {
    if (options.command.length === 0) throw new TypeError('command must name a program to run');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the app and resolves once it answers HTTP on its port. */
  async start(): Promise<void> {
    const program = this.options.command[0]!;
    if (!findProgram(program, (this.options.env ?? process.env).PATH)) throw new Error(`cannot run the app: ${program} is not an executable file${program.includes('/') ? '' : ' on PATH'}`);
    this.spawnChild();
    await this.waitUntilAnswering(this.options.startTimeoutMs ?? 60_000);
    this.checkExposure();
  }

  /** Sends `signal` to the app and waits for it to exit (SIGKILL after 10 s). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    signalGroup(child, signal);
    const killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(killTimer);
  }

  private spawnChild(): void {
    const port = String(this.options.port);
    const socket = this.options.socketPath ?? '';
    const [program, ...args] = this.options.command.map((part) => part.replaceAll('{port}', port).replaceAll('{socket}', socket));
    const startedAt = Date.now();
    // Its own process group, so stopping reaches everything it started (gunicorn's workers, a
    // shell's children); the death signal covers a gateway that cannot stop it.
    const [file, argv] = DEATH_SIGNAL_WRAPPER ? [DEATH_SIGNAL_WRAPPER, ['--pdeathsig', 'SIGTERM', '--', program!, ...args]] : [program!, args];
    const child = spawn(file, argv, {
      stdio: 'inherit',
      detached: true,
      env: { ...(this.options.env ?? process.env), HOST: '127.0.0.1', PORT: port, ...(socket ? { DASHGATE_APP_SOCKET: socket } : {}) },
    });
    this.child = child;
    child.on('error', (err) => this.options.logger.error({ err, command: program }, 'could not start the app'));
    child.on('exit', (code, signal) => {
      if (this.stopping) return;
      // A run that lasted a minute counts as healthy: back-off starts again from one second.
      if (Date.now() - startedAt > 60_000) this.restarts = 0;
      const delay = Math.min(30_000, 1000 * 2 ** this.restarts++);
      this.options.logger.error({ code, signal, restartInMs: delay }, 'the app exited; restarting');
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.stopping) {
          this.spawnChild();
          this.waitUntilAnswering(this.options.startTimeoutMs ?? 60_000).then(
            () => this.options.logger.info('the app is answering again'),
            (err: Error) => this.options.logger.error({ err: err.message }, 'the app did not come back'),
          );
        }
      }, delay);
    });
  }

  private async waitUntilAnswering(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const child = this.child!;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the app exited (code ${child.exitCode ?? child.signalCode}) before it answered on ${this.describe()}`);
      if (await answers(this.where())) return;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    throw new Error(`the app did not answer on ${this.describe()} within ${Math.round(timeoutMs / 1000)} s`);
  }

  private where(): { socketPath: string } | { host: string; port: number } {
    return this.options.socketPath ? { socketPath: this.options.socketPath } : { host: '127.0.0.1', port: this.options.port };
  }

  private describe(): string {
    return this.options.socketPath ? `the socket ${this.options.socketPath}` : `port ${this.options.port}`;
  }

  private checkExposure(): void {
    // A socket in a directory only this user can enter is reached by nobody else; the TCP check is for ports.
    if (this.options.socketPath) return;
    const exposed = nonLoopbackListeners(this.options.port);
    if (exposed.length > 0) {
      this.options.logger.warn(
        { port: this.options.port, addresses: exposed },
        `SECURITY WARNING: the app also listens on ${exposed.join(', ')}:${this.options.port}. Anyone who can reach that address bypasses Dashgate. Bind the app to 127.0.0.1 (Dash: app.run(host="127.0.0.1"); gunicorn: -b 127.0.0.1:{port}).`,
      );
    }
  }
}

function findProgram(program: string, path = ''): boolean {
  const candidates = program.includes('/') ? [program] : path.split(':').filter(Boolean).map((dir) => `${dir}/${program}`);
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Signals the app's process group (the app and what it started), or the app alone if the group is gone. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
}

function answers(where: { socketPath: string } | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ ...where, path: '/', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}
