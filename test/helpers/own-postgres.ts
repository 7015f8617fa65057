import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../../src/runner/free-port.js';

/**
 * A PostgreSQL instance of a test's own (initdb in a temporary directory, its own port and socket
 * directory), so it can be stopped and started without disturbing the shared one on 5432.
 */
export interface OwnPostgres {
  url: string;
  port: number;
  start(): Promise<void>;
  /** `pg_ctl stop -m fast`: connections are terminated (57P01), then the server is gone (ECONNREFUSED). */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/** initdb and pg_ctl: on PATH, else the newest /usr/lib/postgresql/<version>/bin (Debian, Ubuntu). */
function findBinDir(): string | null {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  } catch {
    // not on PATH
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, 'bin') : null;
}

/**
 * initdb refuses to run as root: as root the instance runs as the `postgres` user (uid/gid of
 * the spawned commands; its directory is chowned to it). Why it cannot run, or null.
 */
function runAs(): { uid: number; gid: number } | null | string {
  if (process.getuid?.() !== 0) return null;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return 'running as root and there is no "postgres" user to run initdb as';
  }
}

function run(bin: string, args: string[], as: { uid: number; gid: number } | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(as ? { uid: as.uid, gid: as.gid } : {}), env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${bin} ${args.join(' ')} exited ${code}:\n${output}`))));
  });
}

/** Starts an instance, or says why it cannot (no binaries, no user to run them as): the caller skips. */
export async function startOwnPostgres(): Promise<OwnPostgres | string> {
  const binDir = findBinDir();
  if (!binDir) return 'PostgreSQL server binaries (initdb, pg_ctl) not found';
  const as = runAs();
  if (typeof as === 'string') return as;
  const dir = mkdtempSync(join(tmpdir(), 'dashgate-own-pg-'));
  if (as) chownSync(dir, as.uid, as.gid);
  const data = join(dir, 'data');
  const port = await findFreePort();
  const pgCtl = join(binDir, 'pg_ctl');
  await run(join(binDir, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], as);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const own: OwnPostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start: () => run(pgCtl, ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start'], as),
    stop: () => run(pgCtl, ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop'], as),
    async destroy() {
      await run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], as).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await own.start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return own;
}
