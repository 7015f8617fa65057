/**
 * What the access log and the metrics cost on the hot path: the gateway's CPU time per proxied
 * request (from /proc, user + system) with the access log off, JSON, combined, and JSON plus
 * metrics, in one run, rounds alternating so drift on a shared machine hits every variant alike.
 * Load: wrk at BENCH_CONNECTIONS (default 8) against a keep-alive Node upstream answering 2 KB,
 * public access (no session lookup), the compiled gateway. Not a test: it prints figures.
 *
 *   npm run build && node --import tsx bench/observability.ts
 */
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { cpuSeconds, freePort, Processes, sleep, tree, waitForHttp } from './processes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ROOT = join(import.meta.dirname, '..');

const VARIANTS: Array<{ name: string; env: Record<string, string> }> = [
  { name: 'access log off, no metrics', env: { DASHGATE_LOG__ACCESS: 'off' } },
  { name: 'access log json', env: { DASHGATE_LOG__ACCESS: 'json' } },
  { name: 'access log combined', env: { DASHGATE_LOG__ACCESS: 'combined' } },
  { name: 'access log json + metrics', env: { DASHGATE_LOG__ACCESS: 'json', DASHGATE_METRICS__LISTEN: '127.0.0.1:0' } },
];

/** wrk, run without blocking this process (it serves the upstream). */
function wrk(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', reject);
    child.on('close', () => resolve({ stdout, stderr }));
  });
}

const body = Buffer.alloc(2000, 'x');
const upstream = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;

const tmp = mkdtempSync(join(tmpdir(), 'dashgate-bench-obs-'));
const processes = new Processes(tmp);
const results = new Map<string, Array<{ rps: number; cpuUs: number }>>();
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of VARIANTS) {
      const port = await freePort();
      const dataDir = join(tmp, `data-${round}-${variant.name.replace(/\W+/g, '_')}`);
      const gw = processes.start(`gateway ${variant.name} ${round}`, process.execPath, [join(ROOT, 'bin/dashgate.js'), 'serve', '--upstream', upstreamUrl, '--port', String(port), '--data-dir', dataDir], {
        env: { DASHGATE_ACCESS__DEFAULT: 'public', DASHGATE_LOG__FORMAT: 'json', ...variant.env },
      });
      const url = `http://127.0.0.1:${port}/`;
      await waitForHttp(url, gw);
      // Warm-up, then the measured run.
      await wrk(['-t1', `-c${CONNECTIONS}`, '-d1s', url]);
      const pids = tree(gw.pid);
      const cpuBefore = cpuSeconds(pids);
      const run = await wrk(['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, url]);
      const cpu = cpuSeconds(pids) - cpuBefore;
      const requests = Number(/(\d+) requests in/.exec(run.stdout)?.[1] ?? 0);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(run.stdout)?.[1] ?? 0);
      if (!requests) throw new Error(`wrk measured nothing:\n${run.stdout}${run.stderr}`);
      const list = results.get(variant.name) ?? [];
      list.push({ rps, cpuUs: (cpu / requests) * 1e6 });
      results.set(variant.name, list);
      process.kill(-gw.pid, 'SIGTERM');
      await sleep(500);
    }
  }
} finally {
  await processes.stopAll();
  upstream.close();
  rmSync(tmp, { recursive: true, force: true });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const base = median(results.get(VARIANTS[0]!.name)!.map((r) => r.cpuUs));
console.log(`\n${ROUNDS} rounds of ${SECONDS} s, ${CONNECTIONS} connections, medians:\n`);
console.log('| variant | req/s | gateway CPU / request | vs off |');
console.log('|---|---:|---:|---:|');
for (const variant of VARIANTS) {
  const list = results.get(variant.name)!;
  const cpu = median(list.map((r) => r.cpuUs));
  console.log(`| ${variant.name} | ${Math.round(median(list.map((r) => r.rps)))} | ${cpu.toFixed(1)} µs | ${(cpu / base).toFixed(3)}× |`);
}
