/**
 * The anchors Dashgate is compared with, from Debian's packages, configured in bench/conf/:
 *   - nginx serving trivial.json with keep-alive: the trivial upstream;
 *   - nginx with auth_basic in front of the Dash app and of the trivial upstream;
 *   - Caddy with basicauth in front of both.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, waitForHttp, type Managed, type Processes } from './processes.js';

export const CONF_DIR = resolve(import.meta.dirname, 'conf');
export const TRIVIAL_PATH = '/trivial.json';

/** Fails with one clear message naming every missing tool. */
export function requireTools(tools: Array<[string, string]>): void {
  const missing = tools.filter(([command]) => spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0);
  if (missing.length) throw new Error(`missing: ${missing.map(([command, hint]) => `${command} (${hint})`).join(', ')}`);
}

function output(command: string, args: string[]): string {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  return `${run.stdout ?? ''}${run.stderr ?? ''}`.trim();
}

export function anchorVersions(): { nginx: string; caddy: string; wrk: string; openssl: string } {
  return {
    nginx: output('nginx', ['-v']).replace(/^nginx version:\s*nginx\//, ''),
    caddy: output('caddy', ['version']).split('\n')[0]!,
    wrk: output('wrk', ['-v']).split('\n')[0]!.replace(/ Copyright.*/, ''),
    openssl: output('openssl', ['version']),
  };
}

function render(template: string, values: Record<string, string | number>): string {
  let text = readFileSync(join(CONF_DIR, template), 'utf8');
  for (const [name, value] of Object.entries(values)) text = text.replaceAll(`@${name}@`, String(value));
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new Error(`${template}: no value for ${left[0]}`);
  return text;
}

/** nginx as root runs its workers as `nobody`, who cannot read files under our private temporary directory. */
function userLine(): string {
  return process.getuid?.() === 0 ? 'user root;' : '# (not root: workers run as the current user)';
}

function startNginx(procs: Processes, name: string, tmp: string, template: string, values: Record<string, string | number>): Managed {
  const prefix = join(tmp, name);
  mkdirSync(join(prefix, 'tmp'), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, render(template, { USER_LINE: userLine(), CONF_DIR, ...values }));
  const test = spawnSync('nginx', ['-t', '-q', '-c', conf, '-p', `${prefix}/`, '-e', 'stderr'], { encoding: 'utf8' });
  if (test.status !== 0) throw new Error(`nginx refused ${conf}:\n${test.stderr}`);
  return procs.start(name, 'nginx', ['-c', conf, '-p', `${prefix}/`, '-e', 'stderr', '-g', 'daemon off;']);
}

export interface TrivialUpstream {
  url: string;
  port: number;
  process: Managed;
}

export async function startTrivialUpstream(procs: Processes, tmp: string): Promise<TrivialUpstream> {
  const port = await freePort();
  const process = startNginx(procs, 'nginx-trivial', tmp, 'nginx-trivial.conf', { PORT: port });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}${TRIVIAL_PATH}`, process);
  return { url, port, process };
}

export interface Anchor {
  dashUrl: string;
  trivialUrl: string;
  process: Managed;
  /** The Authorization header every request carries. */
  headers: Record<string, string>;
}

export interface Credentials {
  username: string;
  password: string;
}

function basicHeader({ username, password }: Credentials): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

/** nginx auth_basic; the password file holds an apr1 hash (`openssl passwd -apr1`). */
export async function startNginxAuth(procs: Processes, tmp: string, upstreams: { dashPort: number; trivialPort: number }, user: Credentials): Promise<Anchor> {
  const hash = spawnSync('openssl', ['passwd', '-apr1', '-stdin'], { input: `${user.password}\n`, encoding: 'utf8' });
  if (hash.status !== 0) throw new Error(`openssl passwd -apr1 failed: ${hash.stderr}`);
  const htpasswd = join(tmp, 'htpasswd');
  writeFileSync(htpasswd, `${user.username}:${hash.stdout.trim()}\n`, { mode: 0o644 });
  const [portDash, portTrivial] = [await freePort(), await freePort()];
  const process = startNginx(procs, 'nginx-auth', tmp, 'nginx-auth.conf', {
    DASH_PORT: upstreams.dashPort,
    TRIVIAL_PORT: upstreams.trivialPort,
    PORT_DASH: portDash,
    PORT_TRIVIAL: portTrivial,
    HTPASSWD: htpasswd,
  });
  const anchor = { dashUrl: `http://127.0.0.1:${portDash}`, trivialUrl: `http://127.0.0.1:${portTrivial}`, process, headers: basicHeader(user) };
  await waitForHttp(`${anchor.trivialUrl}${TRIVIAL_PATH}`, process);
  return anchor;
}

/** Caddy basicauth; bcrypt from `caddy hash-password` (Caddy caches a successful check). */
export async function startCaddy(procs: Processes, tmp: string, upstreams: { dashPort: number; trivialPort: number }, user: Credentials): Promise<Anchor> {
  const hash = spawnSync('caddy', ['hash-password', '--plaintext', user.password], { encoding: 'utf8' });
  if (hash.status !== 0) throw new Error(`caddy hash-password failed: ${hash.stderr}`);
  const [portDash, portTrivial] = [await freePort(), await freePort()];
  const home = join(tmp, 'caddy');
  mkdirSync(home, { recursive: true });
  const env = {
    BENCH_CADDY_HASH: hash.stdout.trim(),
    BENCH_CADDY_STORAGE: join(home, 'storage'),
    BENCH_CADDY_PORT_DASH: String(portDash),
    BENCH_CADDY_PORT_TRIVIAL: String(portTrivial),
    BENCH_DASH_PORT: String(upstreams.dashPort),
    BENCH_TRIVIAL_PORT: String(upstreams.trivialPort),
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
  };
  const process = procs.start('caddy', 'caddy', ['run', '--config', join(CONF_DIR, 'Caddyfile'), '--adapter', 'caddyfile'], { env });
  const anchor = { dashUrl: `http://127.0.0.1:${portDash}`, trivialUrl: `http://127.0.0.1:${portTrivial}`, process, headers: basicHeader(user) };
  await waitForHttp(`${anchor.trivialUrl}${TRIVIAL_PATH}`, process);
  return anchor;
}
