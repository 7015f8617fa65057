/**
 * Child processes of the benchmark and what /proc says about them.
 *
 * Every server is started in its own process group (detached) with its output in a log file, so
 * it can be stopped with everything it started (nginx workers, gunicorn workers, the app under
 * `dashgate run`) and its log shown when it fails. CPU time and resident memory are read from
 * /proc for a process and its descendants.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { join } from 'node:path';

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export interface Managed {
  name: string;
  pid: number;
  child: ChildProcess;
  log: string;
  /** Set once the process has exited. */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

export class Processes {
  private readonly all: Managed[] = [];

  constructor(private readonly logDir: string) {}

  start(name: string, command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Managed {
    const log = join(this.logDir, `${name.replace(/[^\w.-]+/g, '_')}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command}): is it installed?`);
    const managed: Managed = { name, pid: child.pid, child, log };
    child.on('error', () => {});
    child.on('exit', (code, signal) => (managed.exit = { code, signal }));
    this.all.push(managed);
    return managed;
  }

  /** SIGTERM to every process group and every descendant seen, then SIGKILL to whatever is left after `graceMs`. */
  async stopAll(graceMs = 3000): Promise<void> {
    const pids = new Set<number>();
    for (const m of this.all) for (const pid of tree(m.pid)) pids.add(pid);
    for (const m of this.all) signalGroup(m.pid, 'SIGTERM');
    for (const pid of pids) signal(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && [...pids].some(alive)) await sleep(50);
    this.killAllSync(pids);
  }

  /** Last resort (process 'exit'): SIGKILL every group and every process in `extra`. */
  killAllSync(extra: Iterable<number> = []): void {
    for (const m of this.all) signalGroup(m.pid, 'SIGKILL');
    for (const pid of extra) if (alive(pid)) signal(pid, 'SIGKILL');
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // Already gone.
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

function alive(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Fields after the command name of /proc/<pid>/stat: [0] is the state, [1] the parent. */
function statFields(pid: number): string[] | undefined {
  const stat = readStat(pid);
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
}

/** A process and all its descendants (as they are now). */
export function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = Number(statFields(Number(entry))?.[1]);
    if (!parent) continue;
    const list = children.get(parent) ?? [];
    list.push(Number(entry));
    children.set(parent, list);
  }
  const out: number[] = [];
  const visit = (pid: number) => {
    out.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  if (existsSync(`/proc/${root}`)) visit(root);
  return out;
}

export function parentOf(pid: number): number {
  return Number(statFields(pid)?.[1] ?? 0);
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** CPU seconds (user + system, all threads) the processes have used so far; a process that is gone counts 0. */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / TICKS_PER_SECOND;
}

/** Resident memory of one process, MiB. */
export function rssMiB(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Summed resident memory of processes (shared pages of forked workers count once per process). */
export function rssSumMiB(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + rssMiB(pid), 0);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function logTail(m: Managed, lines = 25): string {
  try {
    return readFileSync(m.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTP request (no keep-alive), for readiness checks and sanity checks. */
export function httpRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: { connection: 'close', ...options.headers }, timeout: options.timeoutMs ?? 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Waits until `url` answers (any status below 500), failing early with the process's log when
 * it exits first.
 */
export async function waitForHttp(url: string, m: Managed, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (m.exit) throw new Error(`${m.name} exited (code ${m.exit.code}, signal ${m.exit.signal}) before ${url} answered. Its log (${m.log}):\n${logTail(m)}`);
    try {
      const answer = await httpRequest(url, { timeoutMs: 2000 });
      if (answer.status < 500) return;
      last = `status ${answer.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${m.name} did not answer ${url} within ${timeoutMs / 1000} s (last: ${last}). Its log (${m.log}):\n${logTail(m)}`);
}
