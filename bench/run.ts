/**
 * Load benchmark, in one run on one machine (issue 11 item 6, issue 14's sign-in storm): the
 * Dash app reached directly, and through nginx auth_basic, Caddy basicauth and Dashgate (serve
 * over TCP, run over a Unix socket, and 2 workers when the build has them); callbacks,
 * /_dash-layout and a trivial keep-alive upstream at BENCH_CONNECTIONS, latency at 1 connection,
 * and a sign-in storm. Prints tables and writes bench/results/<time>.json. Not a test: nothing
 * here passes or fails. docs/benchmarks.md says what each figure means.
 *
 *   npm run bench                                   # 10 s per run, 32 connections
 *   BENCH_SECONDS=2 npm run bench                   # a quick check that every row is produced
 *
 * BENCH_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_WARMUP_SECONDS (1), BENCH_STORM_CLIENTS (20),
 * BENCH_GUNICORN_ARGS (extra gunicorn arguments for the app, e.g. "--threads 4"),
 * BENCH_PYTHON (.venv/bin/python), BENCH_KEEP_TMP=1 (keep configs, data and logs).
 *
 * Needs wrk, nginx, caddy and openssl (apt-get install wrk nginx caddy openssl). Every server is
 * its own process group, so CPU time and memory are read per server from /proc, and everything
 * is stopped on exit, on SIGINT and when a step fails.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { anchorVersions, requireTools, startCaddy, startNginxAuth, startTrivialUpstream, type Credentials } from './anchors.js';
import { prepareDataDir, ROOT, signIn, startRun, startServe, supportsSocketPlaceholder, type Gateway, type GatewayStart } from './dashgate.js';
import { check, KINDS, measure, warm, type Kind, type Load, type Route } from './measure.js';
import { freePort, Processes, rssSumMiB, sleep, tree, waitForHttp } from './processes.js';
import { latencyTable, loadTable, memoryTable, targetChecks, targetTable, type MemoryLine, type Row } from './report.js';
import { stopStorm, stormComparison, stormReport } from './storm.js';
import { killWrk } from './wrk.js';

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const CONNECTIONS = num('BENCH_CONNECTIONS', 32);
const STORM_CLIENTS = num('BENCH_STORM_CLIENTS', 20);
const PYTHON = process.env.BENCH_PYTHON ?? process.env.E2E_PYTHON ?? join(ROOT, '.venv/bin/python');
const GUNICORN_EXTRA = (process.env.BENCH_GUNICORN_ARGS ?? '').split(' ').filter(Boolean);
const PASSWORD = 'benchmark passphrase 1';
const USER: Credentials = { username: 'bench', password: PASSWORD };
const STORM_USERS: Credentials[] = Array.from({ length: STORM_CLIENTS }, (_, i) => ({ username: `storm${i + 1}`, password: PASSWORD }));

/** Configs, data directories, wrk scripts and every server's log; removed at the end unless the run failed. */
const tmp = mkdtempSync(join(os.tmpdir(), 'dashgate-bench-'));
mkdirSync(join(tmp, 'logs'));
const procs = new Processes(join(tmp, 'logs'));
const load: Load = { seconds: num('BENCH_SECONDS', 10), connections: CONNECTIONS, warmupSeconds: num('BENCH_WARMUP_SECONDS', 1), scriptDir: tmp };
const notes: string[] = [];
/** Left behind by `dashgate run` (its socket's directory): removed once everything has stopped. */
const leftovers: string[] = [];

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

function commandLineOfThisRun(): string {
  const env = Object.entries(process.env)
    .filter(([name]) => /^BENCH_|^E2E_PYTHON$/.test(name))
    .map(([name, value]) => `${name}=${shellQuote(value ?? '')}`);
  const viaNpm = process.env.npm_lifecycle_event === 'bench';
  const invoked = viaNpm ? ['npm', 'run', 'bench'] : [process.execPath, ...process.execArgv, relative(process.cwd(), process.argv[1]!)];
  const extra = process.argv.slice(2).map(shellQuote);
  return [...env, ...invoked, ...(extra.length && viaNpm ? ['--'] : []), ...extra].join(' ');
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** bin/dashgate.js runs dist/ only when it is newer than src/ (else the sources through tsx): build it when stale. */
function ensureBuild(): string {
  const marker = join(ROOT, 'dist/.built');
  if (existsSync(marker) && statSync(marker).mtimeMs >= newestMtime(join(ROOT, 'src'))) return 'dist/ (compiled, up to date)';
  console.error('dist/ is older than src/: building it (npm run build) so that the compiled gateway is measured …');
  if (spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'inherit' }).status !== 0) throw new Error('npm run build failed');
  return 'dist/ (compiled by this run)';
}

function machine(pythonVersions: string) {
  const git = (args: string[]) => spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const [python, dash, gunicorn] = pythonVersions.split(' ');
  return {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? '',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
    versions: { node: process.version, ...anchorVersions(), python, dash, gunicorn },
    git: { commit: git(['rev-parse', '--short', 'HEAD']), branch: git(['rev-parse', '--abbrev-ref', 'HEAD']), srcChanged: git(['status', '--porcelain', '--', 'src']) !== '' },
  };
}

function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
}

async function main(): Promise<void> {
  requireTools([
    ['wrk', 'apt-get install wrk'],
    ['nginx', 'apt-get install nginx'],
    ['caddy', 'apt-get install caddy'],
    ['openssl', 'apt-get install openssl'],
  ]);
  const py = spawnSync(PYTHON, ['-c', 'import sys, dash, gunicorn; print(sys.version.split()[0], dash.__version__, gunicorn.__version__)'], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`${PYTHON} cannot import dash and gunicorn (set BENCH_PYTHON): ${py.stderr || py.error?.message}`);
  const build = ensureBuild();
  const startedAt = new Date();
  const command = commandLineOfThisRun();
  const host = machine(py.stdout.trim());
  const v = host.versions;
  console.log(`Dashgate benchmark, ${startedAt.toISOString()}
  command: ${command}
  machine: ${host.cores} cores (${host.cpu}), ${host.memoryGiB} GiB, Linux ${host.kernel}, load average ${host.loadAverageAtStart.join(' ')} at start
  versions: node ${v.node}, nginx ${v.nginx}, caddy ${v.caddy}, ${v.wrk}, python ${v.python}, dash ${v.dash}, gunicorn ${v.gunicorn}
  gateway: ${host.git.branch}@${host.git.commit}${host.git.srcChanged ? ' (src/ has uncommitted changes)' : ''}, runs from ${build}
  load: wrk -t1 -c${CONNECTIONS}, ${load.seconds} s per run after ${load.warmupSeconds} s of warm-up; the app under gunicorn -w 2 ${GUNICORN_EXTRA.join(' ')}(sync workers)
  columns: ×direct = req/s over the app reached directly (over TCP, also for the Unix-socket row); +p50/+p99 = added to direct;
           µs/req = CPU (user + system, /proc) of the proxy's / the app's processes per request; RSS summed over a server's processes
`);

  // The apps: Dash under gunicorn on TCP, and nginx serving the trivial JSON.
  const dataTemplate = prepareDataDir(tmp, [USER, ...STORM_USERS]);
  const dashPort = await freePort();
  const gunicorn = ['-m', 'gunicorn', '-w', '2', ...GUNICORN_EXTRA, '--chdir', 'test/fixtures/dash_app', '--log-level', 'warning'];
  const dashApp = procs.start('gunicorn-tcp', PYTHON, [...gunicorn, '-b', `127.0.0.1:${dashPort}`, 'app:server'], { cwd: ROOT });
  const dashUrl = `http://127.0.0.1:${dashPort}`;
  const trivial = await startTrivialUpstream(procs, tmp);
  await waitForHttp(`${dashUrl}/_dash-layout`, dashApp);

  // The proxies. Optional Dashgate variants are feature-detected: a build without them skips their rows.
  const upstreams = { dashPort, trivialPort: trivial.port };
  const [nginx, caddy] = await Promise.all([startNginxAuth(procs, tmp, upstreams, USER), startCaddy(procs, tmp, upstreams, USER)]);
  const serve = (name: string, label: string, upstream: string, config?: Record<string, unknown>) => startServe(procs, { name, label, tmp, dataTemplate, upstream, config });
  const noSocket: GatewayStart = { ok: false, reason: 'this build of `dashgate run` has no {socket} placeholder (see `dashgate run --help`)' };
  const twoWorkers = { server: { workers: 2 } };
  // The storm's gateway believes X-Forwarded-For from 127.0.0.1, so each storm client is its own address, and never throttles.
  const stormConfig = { server: { trusted_proxies: ['127.0.0.1'] }, throttle: { account_free_failures: 1_000_000, ip_free_failures: 1_000_000 } };
  const [gwDash, gwTrivial, gwUnix, gwStorm, gw2Dash] = await Promise.all([
    serve('dashgate-dash', 'Dashgate serve → Dash (TCP)', dashUrl),
    serve('dashgate-trivial', 'Dashgate serve → trivial', trivial.url),
    supportsSocketPlaceholder()
      ? startRun(procs, { name: 'dashgate-run-unix', label: 'Dashgate run → Dash (Unix socket), gateway', tmp, dataTemplate, command: [PYTHON, ...gunicorn, '-b', 'unix:{socket}', 'app:server'] })
      : noSocket,
    serve('dashgate-storm', 'Dashgate serve → Dash (TCP), storm', dashUrl, stormConfig),
    serve('dashgate-2w-dash', 'Dashgate serve, 2 workers → Dash (TCP)', dashUrl, twoWorkers),
  ]);
  const gw2Trivial = gw2Dash.ok ? await serve('dashgate-2w-trivial', 'Dashgate serve, 2 workers → trivial', trivial.url, twoWorkers) : gw2Dash;
  const must = (start: GatewayStart): Gateway => {
    if (!start.ok) throw new Error(start.reason);
    return start.gateway;
  };
  const [dgDash, dgTrivial, dgStorm] = [must(gwDash), must(gwTrivial), must(gwStorm)];
  const optional = (start: GatewayStart, what: string): Gateway | undefined => {
    if (start.ok) return start.gateway;
    notes.push(`${what} skipped: ${start.reason}`);
    return undefined;
  };
  const dgUnix = optional(gwUnix, 'Dashgate run on a Unix socket');
  if (dgUnix?.socketDir) leftovers.push(dgUnix.socketDir);
  const dg2Dash = optional(gw2Dash, 'Dashgate with server.workers: 2');
  const dg2Trivial = gw2Dash.ok ? optional(gw2Trivial, 'Dashgate with server.workers: 2 on the trivial upstream') : undefined;
  const gateways = [dgDash, dgTrivial, dgUnix, dg2Dash, dg2Trivial, dgStorm].filter((g): g is Gateway => g !== undefined);

  // Idle memory: everything started, nothing served yet but readiness checks.
  await sleep(1000);
  const servers: Array<{ name: string; pids: () => number[] }> = [
    { name: 'gunicorn -w 2, TCP (the app)', pids: () => tree(dashApp.pid) },
    { name: 'nginx, trivial upstream', pids: () => tree(trivial.process.pid) },
    { name: 'nginx auth_basic', pids: () => tree(nginx.process.pid) },
    { name: 'Caddy basicauth', pids: () => tree(caddy.process.pid) },
    ...gateways.map((g) => ({ name: g.label, pids: () => g.gatewayPids() })),
    ...(dgUnix ? [{ name: 'gunicorn -w 2 under dashgate run (the app)', pids: () => dgUnix.appPids() }] : []),
  ];
  const idle = new Map(servers.map((s) => [s.name, rssSumMiB(s.pids())]));

  // Routes, each signed in the way its proxy wants: Basic for nginx and Caddy, a session cookie for Dashgate.
  const tcpApp = () => tree(dashApp.pid);
  const trivialApp = () => tree(trivial.process.pid);
  const through = async (id: string, label: string, g: Gateway, appPids: () => number[]): Promise<Route> => ({ id, label, url: g.url, headers: { cookie: await signIn(g.url, USER) }, proxyPids: g.gatewayPids, appPids });
  const dashRoutes: Route[] = [
    { id: 'direct', label: 'direct (gunicorn -w 2, TCP)', url: dashUrl, headers: {}, proxyPids: () => [], appPids: tcpApp },
    { id: 'nginx', label: 'nginx auth_basic', url: nginx.dashUrl, headers: nginx.headers, proxyPids: () => tree(nginx.process.pid), appPids: tcpApp },
    { id: 'caddy', label: 'Caddy basicauth', url: caddy.dashUrl, headers: caddy.headers, proxyPids: () => tree(caddy.process.pid), appPids: tcpApp },
    await through('dashgate', 'Dashgate serve (TCP)', dgDash, tcpApp),
    ...(dgUnix ? [await through('dashgate-unix', 'Dashgate run (Unix socket)', dgUnix, dgUnix.appPids)] : []),
    ...(dg2Dash ? [await through('dashgate-2w', 'Dashgate serve, 2 workers', dg2Dash, tcpApp)] : []),
  ];
  const routes: Record<Kind, Route[]> = {
    callback: dashRoutes,
    layout: dashRoutes,
    trivial: [
      { id: 'direct', label: 'direct (nginx static)', url: trivial.url, headers: {}, proxyPids: () => [], appPids: trivialApp },
      { id: 'nginx', label: 'nginx auth_basic', url: nginx.trivialUrl, headers: nginx.headers, proxyPids: () => tree(nginx.process.pid), appPids: trivialApp },
      { id: 'caddy', label: 'Caddy basicauth', url: caddy.trivialUrl, headers: caddy.headers, proxyPids: () => tree(caddy.process.pid), appPids: trivialApp },
      await through('dashgate', 'Dashgate serve', dgTrivial, trivialApp),
      ...(dg2Trivial ? [await through('dashgate-2w', 'Dashgate serve, 2 workers', dg2Trivial, trivialApp)] : []),
    ],
  };
  const stormRoute = await through('dashgate-storm', 'Dashgate serve (TCP), trusting 127.0.0.1 as a proxy', dgStorm, tcpApp);
  for (const kind of Object.keys(routes) as Kind[]) for (const route of routes[kind]) await check(kind, route);
  await check('callback', stormRoute);

  // Throughput at CONNECTIONS, each target warmed first.
  const rows: Row[] = [];
  for (const kind of Object.keys(routes) as Kind[]) {
    const kindRows: Row[] = [];
    for (const route of routes[kind]) {
      progress(`${kind}: ${route.label} …`);
      await warm(kind, route, load);
      kindRows.push(await measure(kind, route, load, CONNECTIONS, kindRows[0]));
    }
    progress('');
    rows.push(...kindRows);
    console.log(`${loadTable(`${KINDS[kind].title}, ${CONNECTIONS} connections`, kindRows)}\n`);
  }

  // Latency at one connection (the targets are already warm).
  const latency: Row[] = [];
  for (const kind of ['callback', 'trivial'] as const) {
    const kindRows: Row[] = [];
    for (const route of routes[kind]) {
      progress(`latency, ${kind}: ${route.label} …`);
      kindRows.push(await measure(kind, route, load, 1, kindRows[0]));
    }
    latency.push(...kindRows);
  }
  progress('');
  console.log(`${latencyTable('Latency at 1 connection (wrk -c1); + is added to direct', latency)}\n`);

  progress('sign-in storm …');
  const storm = await stormComparison(stormRoute, STORM_USERS, load);
  progress('');
  console.log(`${stormReport(storm, CONNECTIONS)}\n`);

  const memory: MemoryLine[] = servers.map((s) => ({ name: s.name, pids: s.pids(), idleMiB: idle.get(s.name)!, afterMiB: rssSumMiB(s.pids()) }));
  console.log(`${memoryTable(memory)}\n`);
  const targets = targetChecks(rows, latency, storm, idle.get(dgDash.label)!);
  console.log(`${targetTable(targets)}\n`);
  for (const note of notes) console.log(`Note: ${note}`);

  const resultsDir = join(ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${startedAt.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
  const settings = { seconds: load.seconds, connections: CONNECTIONS, warmupSeconds: load.warmupSeconds, stormClients: STORM_CLIENTS, gunicorn: ['-w', '2', ...GUNICORN_EXTRA], wrk: '-t1 --latency --timeout 5s' };
  const result = { startedAt, finishedAt: new Date(), command, settings, machine: { ...host, loadAverageAtEnd: os.loadavg() }, build, notes, rows, latency, storm, memory, targets };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`${notes.length ? '\n' : ''}Written: ${relative(process.cwd(), file)}`);
}

let failed = false;
let interrupted = false;
let stopping: Promise<void> | undefined;
function stopEverything(): Promise<void> {
  stopping ??= (async () => {
    killWrk();
    await stopStorm();
    await procs.stopAll();
    for (const dir of leftovers) rmSync(dir, { recursive: true, force: true });
    if (process.env.BENCH_KEEP_TMP || (failed && !interrupted)) console.error(`kept ${tmp} (configs, data, and logs/ of every server)`);
    else rmSync(tmp, { recursive: true, force: true });
  })();
  return stopping;
}

process.on('exit', () => {
  killWrk();
  procs.killAllSync();
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    progress('');
    console.error(`\n${sig}: stopping every server …`);
    interrupted = true;
    void stopEverything().finally(() => process.exit(130));
  });
}

main().then(
  async () => {
    await stopEverything();
    process.exit(0);
  },
  async (err: Error) => {
    if (interrupted) return; // The signal handler stops everything and exits.
    progress('');
    failed = true;
    console.error(`\nbenchmark failed: ${err.message}`);
    await stopEverything();
    process.exit(1);
  },
);
