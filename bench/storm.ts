/**
 * The sign-in storm (issue 14 item 2, issue 11's last bench line): clients that sign in through
 * the login form as fast as they can, each as its own user from its own address, so neither the
 * per-account nor the per-address lock of the throttle serialises them and every attempt runs
 * the password hash (argon2id) on a correct password.
 *
 * The addresses are sent as X-Forwarded-For; the gateway under the storm trusts 127.0.0.1 as a
 * proxy (server.trusted_proxies), so it reads them as the clients' addresses.
 */
import { Agent, request } from 'node:http';
import type { Credentials } from './anchors.js';
import { measure, warm, type Load, type Measured, type Route } from './measure.js';
import { sleep } from './processes.js';
import { problems } from './report.js';

export interface StormCounts {
  ok: number;
  /** Answers other than 303, by status (429/503 once sign-in has a hashing limit). */
  refused: Record<string, number>;
  errors: number;
  /** Wall-clock milliseconds of the successful sign-ins (GET form + POST). */
  latencies: number[];
}

export interface Storm {
  counts(): StormCounts;
  stop(): Promise<void>;
}

function call(agent: Agent, url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent, timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

export function startStorm(url: string, users: Credentials[]): Storm {
  const agent = new Agent({ keepAlive: true, maxSockets: users.length });
  const counts: StormCounts = { ok: 0, refused: {}, errors: 0, latencies: [] };
  let running = true;
  const loop = async (user: Credentials, i: number) => {
    const headers = { 'x-forwarded-for': `10.77.${i >> 8}.${(i & 255) + 1}` };
    while (running) {
      const started = performance.now();
      try {
        const page = await call(agent, `${url}/_dashgate/login`, 'GET', headers);
        const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
        const body = new URLSearchParams({ csrf, username: user.username, password: user.password, next: '/' }).toString();
        const res = await call(agent, `${url}/_dashgate/login`, 'POST', { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body);
        if (res.status === 303) {
          counts.ok++;
          counts.latencies.push(performance.now() - started);
        } else {
          counts.refused[res.status] = (counts.refused[res.status] ?? 0) + 1;
          // Told to wait: wait as a well-behaved client would (briefly), then go on.
          if (res.status === 429 || res.status === 503) await new Promise((r) => setTimeout(r, 100));
        }
      } catch {
        counts.errors++;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const loops = users.map((user, i) => loop(user, i));
  return {
    counts: () => ({ ok: counts.ok, refused: { ...counts.refused }, errors: counts.errors, latencies: [...counts.latencies] }),
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

export interface StormResult {
  gateway: string;
  clients: number;
  how: string;
  quiet: { rps: number; p50: number; p99: number; problems: string; gatewayCores: number };
  storm: { rps: number; p50: number; p99: number; problems: string; gatewayCores: number };
  p99Ratio: number;
  seconds: number;
  signIns: number;
  signInsPerSecond: number;
  signInP50Ms: number;
  signInP99Ms: number;
  refused: Record<string, number>;
  clientErrors: number;
  /** CPU the storm's clients (this process) used, in cores. */
  clientCpuCores: number;
  rows: Measured[];
}

let active: Storm | undefined;

/** Stops a storm still running (on SIGINT or a failure). */
export async function stopStorm(): Promise<void> {
  await active?.stop().catch(() => {});
  active = undefined;
}

/**
 * Callbacks through `route` at `load.connections`, quiet and then while `users.length` clients sign
 * in continuously (ramped up for a second first); sign-ins are counted over the measured run only.
 */
export async function stormComparison(route: Route, users: Credentials[], load: Load): Promise<StormResult> {
  await warm('callback', route, load);
  const quiet = await measure('callback', route, load, load.connections);
  const storm = startStorm(route.url, users);
  active = storm;
  await sleep(1000);
  const [before, cpu0, t0] = [storm.counts(), process.cpuUsage(), performance.now()];
  const during = await measure('callback', route, load, load.connections);
  const [after, clientCpu, elapsed] = [storm.counts(), process.cpuUsage(cpu0), (performance.now() - t0) / 1000];
  await stopStorm();
  const latencies = after.latencies.slice(before.latencies.length);
  const refused = Object.fromEntries(Object.entries(after.refused).map(([status, n]) => [status, n - (before.refused[status] ?? 0)]).filter(([, n]) => Number(n) > 0));
  const summary = (m: Measured) => ({ rps: m.wrk.rps, p50: m.wrk.p50, p99: m.wrk.p99, problems: problems(m.wrk), gatewayCores: m.proxyCpuSeconds / m.wrk.seconds });
  return {
    gateway: route.label,
    clients: users.length,
    how: `${users.length} concurrent sign-in loops in the benchmark process (GET the form, POST a correct password), one user each, X-Forwarded-For 10.77.0.1–${users.length}; the gateway trusts 127.0.0.1 as a proxy and allows 1e6 free failures`,
    quiet: summary(quiet),
    storm: summary(during),
    p99Ratio: during.wrk.p99 / quiet.wrk.p99,
    seconds: elapsed,
    signIns: after.ok - before.ok,
    signInsPerSecond: (after.ok - before.ok) / elapsed,
    signInP50Ms: percentile(latencies, 50),
    signInP99Ms: percentile(latencies, 99),
    refused,
    clientErrors: after.errors - before.errors,
    clientCpuCores: (clientCpu.user + clientCpu.system) / 1e6 / elapsed,
    rows: [quiet, during],
  };
}

export function stormReport(s: StormResult, connections: number): string {
  const line = (name: string, m: StormResult['quiet']) =>
    `  ${name.padEnd(6)} ${m.rps.toFixed(0).padStart(6)} req/s  p50 ${m.p50.toFixed(2).padStart(8)} ms  p99 ${m.p99.toFixed(2).padStart(8)} ms  gateway CPU ${m.gatewayCores.toFixed(2)} cores  ${m.problems}`;
  const refused = Object.entries(s.refused).map(([status, n]) => `${n}× ${status}`).join(', ') || 'none';
  return [
    `Sign-in storm: ${s.gateway}, callbacks at ${connections} connections`,
    `  ${s.how}`,
    line('quiet', s.quiet),
    line('storm', s.storm),
    `  p99 storm / quiet ${s.p99Ratio.toFixed(2)}×; ${s.signInsPerSecond.toFixed(1)} sign-ins/s (${s.signIns} in ${s.seconds.toFixed(1)} s; one sign-in p50 ${s.signInP50Ms.toFixed(0)} ms, p99 ${s.signInP99Ms.toFixed(0)} ms); refused: ${refused}; client errors: ${s.clientErrors}; the clients used ${s.clientCpuCores.toFixed(2)} cores`,
  ].join('\n');
}
