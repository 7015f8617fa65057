/**
 * Faults under load (issue 14), run by hand, never in CI: prints figures, asserts nothing.
 *
 *   node --import tsx bench/faults/run.ts [postgres-restart] [app-restart] [sigterm]
 *
 * Each scenario starts the real CLI (`dashgate serve`), a trivial app in its own process and
 * CLIENTS (16) request loops with a session cookie, then breaks something on a timeline and
 * counts, per phase, what the clients got: 2xx, each other status, connection errors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hashPassword } from '../../src/auth/passwords.js';
import { findFreePort } from '../../src/runner/free-port.js';
import { openStore } from '../../src/store/store.js';
import { startOwnPostgres, type OwnPostgres } from '../../test/helpers/own-postgres.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLIENTS = Number(process.env.BENCH_FAULT_CLIENTS ?? 16);
const PASSWORD = 'correct horse battery';
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** node:http with keep-alive off per call site's agent; status 0 = connection error. */
function http(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((done) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => done({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', () => done({ status: 0, body: '', headers: {} }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done({ status: 0, body: '', headers: {} }));
    req.end(options.body);
  });
}

async function signIn(base: string, username: string, headers: Record<string, string> = {}): Promise<Answer & { cookie?: string }> {
  const page = await http(`${base}/_dashgate/login`);
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
  const body = new URLSearchParams({ csrf, username, password: PASSWORD, next: '/' }).toString();
  const res = await http(`${base}/_dashgate/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base, ...headers }, body });
  const cookie = [res.headers['set-cookie'] ?? []].flat()[0]?.split(';')[0];
  return { ...res, ...(cookie ? { cookie } : {}) };
}

function startApp(port: number): Promise<ChildProcess> {
  const app = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1', () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((done) => app.stdout!.once('data', () => done(app)));
}

interface Gateway {
  base: string;
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startServe(upstream: string, dataDir: string, config: Record<string, unknown>, databaseUrl?: string): Promise<Gateway> {
  const port = await findFreePort();
  const configFile = join(dataDir, 'dashgate.yaml');
  writeFileSync(configFile, JSON.stringify({ log: { level: 'info', format: 'json' }, ...config }));
  const args = [join(ROOT, 'bin/dashgate.js'), 'serve', '--upstream', upstream, '--port', String(port), '--data-dir', dataDir, '--config', configFile, ...(databaseUrl ? ['--database-url', databaseUrl] : [])];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Gateway['lines'] = [];
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const all = pending.split('\n');
    pending = all.pop()!;
    for (const line of all) {
      try {
        lines.push(JSON.parse(line));
      } catch {
        // not JSON
      }
    }
  });
  child.stderr!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if ((await http(`${base}/_dashgate/health`)).status === 200) return { base, child, lines, exited };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error('the gateway did not start');
}

/** Counts per phase: "200", "503 store_unavailable", "error" (connection refused or reset)… */
class Tally {
  phase = 'before';
  readonly phases = new Map<string, Map<string, number>>();
  /** Counted under the phase the request started in. */
  add(outcome: string, phase = this.phase): void {
    const counts = this.phases.get(phase) ?? new Map<string, number>();
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    this.phases.set(phase, counts);
  }
  print(title: string): void {
    console.log(`  ${title}`);
    for (const [phase, counts] of this.phases) console.log(`    ${phase.padEnd(14)} ${[...counts].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  }
}

const outcome = (res: Answer) => (res.status === 0 ? 'error' : `${res.status}${res.headers['x-dashgate'] ? ` ${res.headers['x-dashgate']}` : ''}`);

function loops(count: number, work: () => Promise<void>): { stop(): Promise<void> } {
  let running = true;
  const all = Array.from({ length: count }, async () => {
    while (running) await work();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(all);
    },
  };
}

async function postgresRestart(mode: 'refuse' | 'grace'): Promise<void> {
  console.log(`\npostgres-restart (session.store_outage: ${mode}, cache_ttl 5s): ${CLIENTS} clients on a proxied path, one browser signing in again and again; PostgreSQL stopped for 8 s`);
  const own = await startOwnPostgres();
  if (typeof own === 'string') return void console.log(`  skipped: ${own}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-fault-bench-'));
  const appPort = await findFreePort();
  const app = await startApp(appPort);
  let gw: Gateway | undefined;
  try {
    const store = await openStore({ url: own.url, dataDir });
    for (const name of ['alice', 'bob']) await store.users.create({ username: name, passwordHash: await hashPassword(PASSWORD) });
    await store.close();
    gw = await startServe(`http://127.0.0.1:${appPort}`, dataDir, { session: { cache_ttl: '5s', store_outage: mode, outage_grace: '5m' } }, own.url);
    const base = gw.base;
    const cookie = (await signIn(base, 'alice')).cookie!;
    const proxied = new Tally();
    const signIns = new Tally();
    const traffic = loops(CLIENTS, async () => {
      const phase = proxied.phase;
      proxied.add(outcome(await http(`${base}/data`, { headers: { cookie, accept: 'application/json' } })), phase);
    });
    const browser = loops(1, async () => {
      const phase = signIns.phase;
      signIns.add(outcome(await signIn(base, 'bob', { accept: 'text/html', 'sec-fetch-mode': 'navigate' })), phase);
      await sleep(100);
    });
    await sleep(3000);
    await stopFor(own, 8000, [proxied, signIns]);
    const startedAt = Date.now();
    let readyAfter = -1;
    while (readyAfter < 0 && Date.now() - startedAt < 20_000) {
      if ((await http(`${base}/_dashgate/ready`)).status === 200) readyAfter = Date.now() - startedAt;
      else await sleep(50);
    }
    await sleep(3000);
    await traffic.stop();
    await browser.stop();
    proxied.print('proxied requests with a signed-in session');
    signIns.print('browser sign-ins');
    const limited = gw.lines.filter((line) => line.kind === 'store.unavailable').length;
    const repeated = gw.lines.filter((line) => line.kind === 'store.unavailable').reduce((n, line) => n + Number(line.repeated ?? 0), 0);
    console.log(`  readiness ok ${readyAfter} ms after PostgreSQL was started; gateway ${gw.child.exitCode === null ? 'alive' : `exited ${gw.child.exitCode}`}`);
    console.log(`  store.unavailable log lines: ${limited} (standing for ${limited + repeated} failed queries); store.recovered: ${gw.lines.filter((line) => line.kind === 'store.recovered').length}; store.connection_lost: ${gw.lines.filter((line) => line.kind === 'store.connection_lost').length}`);
  } finally {
    gw?.child.kill('SIGKILL');
    app.kill('SIGKILL');
    await own.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Stops PostgreSQL for `ms`, marking the tallies' phases. */
async function stopFor(own: OwnPostgres, ms: number, tallies: Tally[]): Promise<void> {
  await own.stop();
  for (const tally of tallies) tally.phase = 'db down 0-5s';
  await sleep(5000);
  for (const tally of tallies) tally.phase = 'db down 5s+';
  await sleep(ms - 5000);
  await own.start();
  for (const tally of tallies) tally.phase = 'after start';
}

async function appRestart(): Promise<void> {
  console.log(`\napp-restart: ${CLIENTS} clients; the app SIGKILLed, started again 3 s later`);
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-fault-bench-'));
  const appPort = await findFreePort();
  let app = await startApp(appPort);
  let gw: Gateway | undefined;
  try {
    const store = await openStore({ dataDir });
    await store.users.create({ username: 'alice', passwordHash: await hashPassword(PASSWORD) });
    await store.close();
    gw = await startServe(`http://127.0.0.1:${appPort}`, dataDir, {});
    const base = gw.base;
    const cookie = (await signIn(base, 'alice')).cookie!;
    const tally = new Tally();
    let firstOkAfterStart = -1;
    let startedAt = 0;
    const traffic = loops(CLIENTS, async () => {
      const phase = tally.phase;
      const res = await http(`${base}/data`, { headers: { cookie, accept: 'application/json' } });
      tally.add(outcome(res), phase);
      if (tally.phase === 'after start' && res.status === 200 && firstOkAfterStart < 0) firstOkAfterStart = Date.now() - startedAt;
    });
    await sleep(3000);
    app.kill('SIGKILL');
    tally.phase = 'app down';
    await sleep(3000);
    app = await startApp(appPort);
    startedAt = Date.now();
    tally.phase = 'after start';
    await sleep(3000);
    await traffic.stop();
    tally.print('proxied requests');
    console.log(`  first 200 ${firstOkAfterStart} ms after the app listened again; gateway ${gw.child.exitCode === null ? 'alive' : `exited ${gw.child.exitCode}`}; upstream log lines: ${gw.lines.filter((line) => String(line.kind ?? '').startsWith('upstream.')).length}`);
  } finally {
    gw?.child.kill('SIGKILL');
    app.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function sigterm(): Promise<void> {
  console.log(`\nsigterm: ${CLIENTS} clients on a path the app answers after 300 ms; SIGTERM after 3 s`);
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-fault-bench-'));
  const appPort = await findFreePort();
  const app = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => setTimeout(() => s.end('ok'), 300)).listen(${appPort}, '127.0.0.1', () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((done) => app.stdout!.once('data', done));
  let gw: Gateway | undefined;
  try {
    gw = await startServe(`http://127.0.0.1:${appPort}`, dataDir, { access: { default: 'public' } });
    const base = gw.base;
    const tally = new Tally();
    let inFlight = 0;
    let inFlightAtSignal = 0;
    const traffic = loops(CLIENTS, async () => {
      if (tally.phase !== 'before') return void (await sleep(50));
      inFlight++;
      const res = await http(`${base}/data`);
      inFlight--;
      tally.add(outcome(res), 'before');
    });
    await sleep(3000);
    inFlightAtSignal = inFlight;
    const signalledAt = Date.now();
    gw.child.kill('SIGTERM');
    tally.phase = 'after SIGTERM';
    const exit = await gw.exited;
    const exitMs = Date.now() - signalledAt;
    await traffic.stop();
    tally.print('requests started before the signal (new ones stop at the signal)');
    console.log(`  in flight at SIGTERM: ${inFlightAtSignal}; exit ${exit.code ?? exit.signal} ${exitMs} ms after the signal`);
  } finally {
    gw?.child.kill('SIGKILL');
    app.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const chosen = process.argv.slice(2);
const want = (name: string) => chosen.length === 0 || chosen.includes(name);
if (want('postgres-restart')) {
  await postgresRestart('refuse');
  await postgresRestart('grace');
}
if (want('app-restart')) await appRestart();
if (want('sigterm')) await sigterm();
