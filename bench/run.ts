/**
 * Load benchmark: the same requests sent to an app directly and through Dashgate, in one run,
 * at the same concurrency. Prints requests/s, p50, p99 and the gateway/direct ratio, plus the
 * gateway's CPU per request and idle memory. Not a test: nothing here passes or fails.
 *
 *   npm run bench                         # defaults: 10 s per run, 32 connections (needs wrk: apt-get install wrk)
 *   BENCH_SECONDS=20 BENCH_CONNECTIONS=64 npm run bench
 *
 * Every process gets its own PID so CPU use is read per process from /proc:
 *   - the Dash fixture (test/fixtures/dash_app) under gunicorn -w 2,
 *   - a trivial Node upstream (answers "ok"), to show the gateway's own cost,
 *   - the gateway (node bin/dashgate.js serve), a separate process from the load tool.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findFreePort } from '../src/runner/free-port.js';

const ROOT = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const PYTHON = process.env.E2E_PYTHON ?? join(ROOT, '.venv/bin/python');
const PASSWORD = 'benchmark passphrase 1';
const scriptDir = mkdtempSync(join(tmpdir(), 'dashgate-wrk-'));

const CALLBACK_BODY = JSON.stringify({
  output: '..graph.figure...chosen.children..',
  outputs: [
    { id: 'graph', property: 'figure' },
    { id: 'chosen', property: 'children' },
  ],
  inputs: [{ id: 'city', property: 'value', value: 'Oslo' }],
  changedPropIds: ['city.value'],
  state: [],
});

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
}

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function start(command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  children.push(child);
  return child;
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const ok = await new Promise<boolean>((done) => {
      const req = request(url, (res) => {
        res.resume();
        done(true);
      });
      req.on('error', () => done(false));
      req.end();
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer`);
}

/** CPU seconds (user + system) a process and its threads have used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/**
 * One wrk run (C, one thread: it leaves the most CPU to the processes being measured on a
 * 2-core machine). Method, body and headers go through a small Lua script.
 */
async function load(url: string, options: { method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string> }): Promise<Result> {
  const script = join(scriptDir, `run-${Math.random().toString(36).slice(2)}.lua`);
  const lines = [`wrk.method = ${JSON.stringify(options.method ?? 'GET')}`];
  if (options.body) lines.push(`wrk.body = ${JSON.stringify(options.body)}`);
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`);
  writeFileSync(script, `${lines.join('\n')}\n`);
  const run = spawnSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', '-s', script, url], { encoding: 'utf8' });
  if (run.error || run.status !== 0) throw new Error(`wrk failed (install it: apt-get install wrk): ${run.error?.message ?? run.stderr}`);
  const out = run.stdout;
  const number = (pattern: RegExp) => Number(pattern.exec(out)?.[1] ?? NaN);
  const ms = (label: string) => {
    const match = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!match) return NaN;
    return Number(match[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[match[2]!]!;
  };
  const requests = number(/(\d+) requests in/);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: number(/Requests\/sec:\s+([\d.]+)/),
    p50: ms('50'),
    p99: ms('99'),
    errors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    non2xx: number(/Non-2xx or 3xx responses: (\d+)/) || 0,
    requests,
  };
}

async function signIn(gatewayUrl: string): Promise<string> {
  const page = await fetch(`${gatewayUrl}/_dashgate/login`);
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  const res = await fetch(`${gatewayUrl}/_dashgate/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, username: 'bench', password: PASSWORD, next: '/' }),
  });
  if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

async function startGatewayProcess(upstream: string, dataDir: string, configFile?: string): Promise<{ url: string; pid: number }> {
  const port = await findFreePort();
  const args = ['bin/dashgate.js', 'serve', '--upstream', upstream, '--port', String(port), '--data-dir', dataDir, ...(configFile ? ['--config', configFile] : [])];
  const child = start('node', args, { DASHGATE_LOG__LEVEL: 'warn', DASHGATE_LOG__FORMAT: 'json' });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/_dashgate/health`);
  return { url, pid: child.pid! };
}

function row(name: string, direct: Result, gateway: Result): string {
  const ratio = (gateway.rps / direct.rps).toFixed(3);
  const dp99 = (gateway.p99 - direct.p99).toFixed(2);
  const fmt = (r: Result) => `${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2).padStart(7)} ms  p99 ${r.p99.toFixed(2).padStart(7)} ms${r.errors + r.non2xx ? `  (${r.errors} errors, ${r.non2xx} non-2xx)` : ''}`;
  return `${name}\n  direct   ${fmt(direct)}\n  gateway  ${fmt(gateway)}\n  ratio gateway/direct ${ratio}   added p99 ${dp99} ms`;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-bench-'));
  const add = spawnSync('node', ['bin/dashgate.js', 'users', 'add', 'bench', '--data-dir', dataDir, '--password-stdin'], { cwd: ROOT, input: PASSWORD, encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`users add failed: ${add.stderr}`);

  console.log(`Dashgate benchmark: ${SECONDS} s per run, ${CONNECTIONS} connections, node ${process.version}, ${(await import('node:os')).cpus().length} cores, gunicorn -w 2 ${process.env.BENCH_GUNICORN_ARGS ?? ''}\n`);

  // The real Dash app.
  const dashPort = await findFreePort();
  // BENCH_GUNICORN_ARGS="--threads 4" runs gthread workers, which keep connections alive.
  const extra = (process.env.BENCH_GUNICORN_ARGS ?? '').split(' ').filter(Boolean);
  start(PYTHON, ['-m', 'gunicorn', '-w', '2', ...extra, '-b', `127.0.0.1:${dashPort}`, '--chdir', 'test/fixtures/dash_app', '--log-level', 'warning', 'app:server']);
  const dashUrl = `http://127.0.0.1:${dashPort}`;
  await waitFor(`${dashUrl}/_dash-layout`);
  const dashGateway = await startGatewayProcess(dashUrl, dataDir);
  const cookie = await signIn(dashGateway.url);
  const idleRss = rssMiB(dashGateway.pid);

  const callback = { method: 'POST' as const, body: CALLBACK_BODY, headers: { 'content-type': 'application/json' } };
  // Warm both paths (gunicorn workers import plotly lazily on the first callback).
  await load(`${dashUrl}/_dash-update-component`, { ...callback });
  const runs: Array<[string, string, Parameters<typeof load>[1]]> = [
    ['Dash callback  POST /_dash-update-component', '/_dash-update-component', callback],
    ['Dash layout    GET /_dash-layout', '/_dash-layout', {}],
  ];
  for (const [name, path, options] of runs) {
    const direct = await load(`${dashUrl}${path}`, options);
    const cpuBefore = cpuSeconds(dashGateway.pid);
    const gateway = await load(`${dashGateway.url}${path}`, { ...options, headers: { ...options.headers, cookie } });
    const cpuPerRequest = ((cpuSeconds(dashGateway.pid) - cpuBefore) / gateway.requests) * 1e6;
    console.log(`${row(name, direct, gateway)}   gateway CPU ${cpuPerRequest.toFixed(0)} µs/request\n`);
  }

  // The same callback through a gateway with access rules: five path rules to walk past, and
  // callback rules, so every callback body is read, parsed and judged before it is forwarded.
  const rulesFile = join(dataDir, 'rules.yaml');
  writeFileSync(
    rulesFile,
    [
      'access:',
      '  rules:',
      ...['/public/**', '/reports/**', '/admin/**', '/exports/*.csv', '/team/*/edit'].map((path, i) => `    - { path: "${path}", ${i === 0 ? 'policy: public' : 'groups: [finance]'} }`),
      'dash:',
      '  callbacks:',
      '    - { outputs: [salary-table.data, "secret-*.children"], groups: [hr] }',
      '    - { outputs: [\'{"type":"salary-cell","index":"*"}.children\'], groups: [hr] }',
      '',
    ].join('\n'),
  );
  const rulesGateway = await startGatewayProcess(dashUrl, dataDir, rulesFile);
  const rulesCookie = await signIn(rulesGateway.url);
  {
    const direct = await load(`${dashUrl}/_dash-update-component`, callback);
    const cpuBefore = cpuSeconds(rulesGateway.pid);
    const gateway = await load(`${rulesGateway.url}/_dash-update-component`, { ...callback, headers: { ...callback.headers, cookie: rulesCookie } });
    const cpuPerRequest = ((cpuSeconds(rulesGateway.pid) - cpuBefore) / gateway.requests) * 1e6;
    console.log(`${row('Dash callback with access + callback rules', direct, gateway)}   gateway CPU ${cpuPerRequest.toFixed(0)} µs/request\n`);
  }

  // A trivial upstream: what the gateway itself costs per request.
  const trivialPort = await findFreePort();
  start('node', ['-e', `require('http').createServer((q,s)=>s.end('ok')).listen(${trivialPort},'127.0.0.1')`]);
  const trivialUrl = `http://127.0.0.1:${trivialPort}`;
  await waitFor(trivialUrl);
  const trivialGateway = await startGatewayProcess(trivialUrl, dataDir);
  const trivialCookie = await signIn(trivialGateway.url);
  await load(`${trivialGateway.url}/`, { headers: { cookie: trivialCookie } });
  const direct = await load(`${trivialUrl}/`, {});
  const cpuBefore = cpuSeconds(trivialGateway.pid);
  const gateway = await load(`${trivialGateway.url}/`, { headers: { cookie: trivialCookie } });
  const cpuPerRequest = ((cpuSeconds(trivialGateway.pid) - cpuBefore) / gateway.requests) * 1e6;
  console.log(`${row('Trivial upstream  GET /', direct, gateway)}   gateway CPU ${cpuPerRequest.toFixed(0)} µs/request\n`);

  console.log(`Gateway resident memory: ${idleRss.toFixed(0)} MiB idle after start, ${rssMiB(dashGateway.pid).toFixed(0)} MiB after the Dash runs, ${rssMiB(trivialGateway.pid).toFixed(0)} MiB after the trivial runs`);
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(scriptDir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
