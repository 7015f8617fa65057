import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const BIN = resolve(import.meta.dirname, '../../bin/dashgate.js');

export interface CliProcess {
  child: ChildProcess;
  /** Parsed JSON log lines seen so far on stdout. */
  logs: Array<Record<string, unknown> & { msg?: string }>;
  stderr(): string;
  /** Resolves with the first log line for which `match` holds (rejects if the process exits first). */
  waitForLog(match: (line: Record<string, unknown> & { msg?: string }) => boolean): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs the real `dashgate` CLI in a child process with JSON logs and no DASHGATE_* variables
 * from the test's own environment beyond `env`.
 */
export function startCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('DASHGATE_')));
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...base, DASHGATE_LOG__FORMAT: 'json', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: CliProcess['logs'] = [];
  const waiters: Array<{ match: (line: CliProcess['logs'][number]) => boolean; resolve: (line: Record<string, unknown>) => void }> = [];
  let stderr = '';
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const text of lines) {
      if (!text.trim()) continue;
      let line: CliProcess['logs'][number];
      try {
        line = JSON.parse(text);
      } catch {
        continue;
      }
      logs.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.match(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  return {
    child,
    logs,
    stderr: () => stderr,
    waitForLog(match) {
      const seen = logs.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolveLine, reject) => {
        waiters.push({ match, resolve: resolveLine });
        void exited.then(({ code, signal }) => reject(new Error(`dashgate exited (${code ?? signal}) before the expected log line; stderr:\n${stderr}`)));
      });
    },
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
