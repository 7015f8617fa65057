/**
 * Dashgate under test, from this worktree's bin/dashgate.js (the compiled dist/ when it is up
 * to date): `serve` in front of an app that already runs, `run` with the app as its child on a
 * Unix socket, and the bench users it signs in with.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { commandLine, freePort, parentOf, httpRequest, logTail, sleep, tree, waitForHttp, type Managed, type Processes } from './processes.js';
import type { Credentials } from './anchors.js';

export const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/dashgate.js');

function cli(args: string[], input?: string): { status: number | null; out: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, input, encoding: 'utf8' });
  return { status: run.status, out: `${run.stdout ?? ''}${run.stderr ?? ''}` };
}

/** `dashgate run` replaces {socket} with a Unix socket (issue 11). */
export function supportsSocketPlaceholder(): boolean {
  return cli(['run', '--help']).out.includes('{socket}');
}

/** A data directory holding the users, copied for each gateway so none shares a database with another. */
export function prepareDataDir(tmp: string, users: Credentials[]): string {
  const dir = join(tmp, 'dashgate-data-template');
  const file = join(tmp, 'users.json');
  writeFileSync(file, JSON.stringify(Object.fromEntries(users.map((u) => [u.username, u.password]))));
  // Plain passwords (dash-auth's format) are hashed with the gateway's own scheme (argon2id).
  const run = cli(['users', 'import', file, '--format', 'json', '--data-dir', dir]);
  if (run.status !== 0) throw new Error(`dashgate users import failed:\n${run.out}`);
  return dir;
}

export interface Gateway {
  name: string;
  /** Readable name for tables. */
  label: string;
  url: string;
  process: Managed;
  /** The gateway's own processes (for `run`: without the app it started). */
  gatewayPids(): number[];
  /** The app `dashgate run` started, empty for `serve`. */
  appPids(): number[];
  /** The directory of the app's Unix socket under `dashgate run`, which the gateway leaves behind when it exits. */
  socketDir?: string;
}

export type GatewayStart = { ok: true; gateway: Gateway } | { ok: false; reason: string };

interface StartOptions {
  name: string;
  label: string;
  tmp: string;
  dataTemplate: string;
  /** Settings of dashgate.yaml (written as JSON, which YAML reads). */
  config?: Record<string, unknown>;
}

async function start(procs: Processes, options: StartOptions, subcommand: string[], appCommand: string[] = []): Promise<GatewayStart> {
  const dir = join(options.tmp, options.name);
  mkdirSync(dir, { recursive: true });
  const dataDir = join(dir, 'data');
  cpSync(options.dataTemplate, dataDir, { recursive: true });
  const configFile = join(dir, 'dashgate.yaml');
  writeFileSync(configFile, `${JSON.stringify({ log: { level: 'warn', format: 'json' }, ...options.config }, null, 2)}\n`);
  const port = await freePort();
  const args = [BIN, ...subcommand, '--port', String(port), '--data-dir', dataDir, '--config', configFile, ...(appCommand.length ? ['--', ...appCommand] : [])];
  const m = procs.start(options.name, process.execPath, args, { cwd: ROOT });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/_dashgate/health`, m, 90_000);
  } catch (err) {
    await sleep(100);
    const log = logTail(m);
    // A setting this version does not know (server.workers before issue 11 lands) is a skipped row, not a failure.
    const unknown = /(\S+): unknown setting/.exec(log);
    if (m.exit && unknown) return { ok: false, reason: `this build refuses ${unknown[1]} ("unknown setting")` };
    throw err;
  }
  // Under `dashgate run` the app is a child of the gateway: its main process is a descendant that
  // is not a gateway process (cluster workers run bin/dashgate.js too) and whose parent is one.
  const isGateway = (pid: number) => commandLine(pid).includes('bin/dashgate.js');
  const appPids = () => {
    const family = tree(m.pid);
    const roots = family.filter((pid) => !isGateway(pid) && isGateway(parentOf(pid)));
    return roots.flatMap((pid) => tree(pid));
  };
  const gatewayPids = () => {
    const app = new Set(appPids());
    return tree(m.pid).filter((pid) => !app.has(pid));
  };
  const socket = appPids().map((pid) => /-b unix:(\S+)/.exec(commandLine(pid))?.[1]).find(Boolean);
  const socketDir = socket && /\/dashgate-app-[^/]+$/.test(dirname(socket)) ? dirname(socket) : undefined;
  return { ok: true, gateway: { name: options.name, label: options.label, url, process: m, gatewayPids, appPids, socketDir } };
}

export function startServe(procs: Processes, options: StartOptions & { upstream: string }): Promise<GatewayStart> {
  return start(procs, options, ['serve', '--upstream', options.upstream]);
}

export function startRun(procs: Processes, options: StartOptions & { command: string[] }): Promise<GatewayStart> {
  return start(procs, options, ['run', '--start-timeout', '90'], options.command);
}

/** Signs in through the login form as a browser does; returns the session cookie. */
export async function signIn(url: string, user: Credentials, headers: Record<string, string> = {}): Promise<string> {
  const page = await httpRequest(`${url}/_dashgate/login`, { headers });
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
  if (!csrf) throw new Error(`${url}/_dashgate/login: no sign-in form (status ${page.status})`);
  const res = await httpRequest(`${url}/_dashgate/login`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, username: user.username, password: user.password, next: '/' }).toString(),
  });
  const cookie = [res.headers['set-cookie'] ?? []].flat()[0]?.split(';')[0];
  if (res.status !== 303 || !cookie) throw new Error(`sign-in as ${user.username} at ${url} failed: ${res.status} ${res.body.slice(0, 200)}`);
  return cookie;
}
