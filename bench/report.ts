/** Tables for the terminal; the JSON file gets the same figures unrounded. */
import { errorCount, type WrkResult } from './wrk.js';

export interface Row {
  kind: string;
  target: string;
  label: string;
  connections: number;
  wrk: WrkResult;
  /** req/s ÷ direct req/s in the same run (null for direct). */
  ratio: number | null;
  addedP50Ms: number | null;
  addedP99Ms: number | null;
  /** CPU of the proxy's processes per request (null for direct). */
  proxyCpuUsPerRequest: number | null;
  appCpuUsPerRequest: number;
  proxyRssMiB: number | null;
  appRssMiB: number;
  proxyPids: number[];
  appPids: number[];
}

const f = (value: number | null | undefined, digits = 0): string => (value === null || value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits));

function table(header: string[], rows: string[][], align: Array<'l' | 'r'>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (align[i] === 'l' ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].map((l) => `  ${l.trimEnd()}`).join('\n');
}

export function problems(r: WrkResult): string {
  const e = r.socketErrors;
  const parts = [];
  if (r.non2xx) parts.push(`${r.non2xx} non-2xx`);
  if (errorCount(r)) parts.push(`errors c${e.connect}/r${e.read}/w${e.write}/t${e.timeout}`);
  return parts.join(', ') || 'ok';
}

export function loadTable(title: string, rows: Row[]): string {
  const header = ['', 'req/s', '×direct', 'p50 ms', 'p99 ms', '+p99 ms', 'proxy µs/req', 'app µs/req', 'proxy RSS MiB', 'app RSS MiB', 'errors'];
  const body = rows.map((r) => [
    r.label,
    f(r.wrk.rps),
    r.ratio === null ? '1' : f(r.ratio, 3),
    f(r.wrk.p50, 2),
    f(r.wrk.p99, 2),
    r.addedP99Ms === null ? '' : f(r.addedP99Ms, 2),
    f(r.proxyCpuUsPerRequest),
    f(r.appCpuUsPerRequest),
    f(r.proxyRssMiB),
    f(r.appRssMiB),
    problems(r.wrk),
  ]);
  return `${title}\n${table(header, body, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'])}`;
}

export function latencyTable(title: string, rows: Row[]): string {
  const header = ['', 'p50 ms', 'p99 ms', '+p50 ms', '+p99 ms', 'req/s', 'proxy µs/req', 'errors'];
  const body = rows.map((r) => [
    `${r.kind.padEnd(8)} ${r.label}`,
    f(r.wrk.p50, 3),
    f(r.wrk.p99, 3),
    r.addedP50Ms === null ? '' : f(r.addedP50Ms, 3),
    r.addedP99Ms === null ? '' : f(r.addedP99Ms, 3),
    f(r.wrk.rps),
    f(r.proxyCpuUsPerRequest),
    problems(r.wrk),
  ]);
  return `${title}\n${table(header, body, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'])}`;
}

export interface MemoryLine {
  name: string;
  pids: number[];
  idleMiB: number;
  afterMiB: number;
}

export function memoryTable(lines: MemoryLine[]): string {
  const body = lines.map((l) => [l.name, `${l.pids.length}`, f(l.idleMiB, 1), f(l.afterMiB, 1)]);
  return `Resident memory (VmRSS, MiB; summed over a server's processes)\n${table(['', 'processes', 'idle after start', 'after the runs'], body, ['l', 'r', 'r', 'r'])}`;
}

export interface TargetCheck {
  target: string;
  measured: string;
  /** null: the row it needs was not measured (skipped). */
  met: boolean | null;
}

/**
 * Issue 11's targets, read off this run's rows (Dashgate `serve` with one worker, and `run` on a
 * Unix socket). Reported, never asserted: on a shared machine one run is one sample.
 */
export function targetChecks(rows: Row[], latency: Row[], storm: { p99Ratio: number } | undefined, dashgateIdleMiB: number): TargetCheck[] {
  const at = (list: Row[], kind: string, target: string) => list.find((r) => r.kind === kind && r.target === target);
  const x = (r: Row | undefined) => (r?.ratio === null || r?.ratio === undefined ? '—' : `${r.ratio.toFixed(3)}×`);
  const checks: TargetCheck[] = [];
  for (const kind of ['callback', 'layout']) {
    const [dg, nginx, caddy] = ['dashgate', 'nginx', 'caddy'].map((t) => at(rows, kind, t));
    checks.push({
      target: `${kind} over TCP: Dashgate ahead of nginx and Caddy`,
      measured: `Dashgate ${x(dg)}, nginx ${x(nginx)}, Caddy ${x(caddy)} of direct`,
      met: dg && nginx && caddy ? dg.wrk.rps > Math.max(nginx.wrk.rps, caddy.wrk.rps) : null,
    });
  }
  for (const [kind, floor] of [['callback', 0.97], ['layout', 0.8]] as const) {
    const unix = at(rows, kind, 'dashgate-unix');
    checks.push({ target: `${kind} through dashgate run on a Unix socket ≥ ${floor}× direct`, measured: unix ? x(unix) : 'not measured', met: unix ? unix.ratio! >= floor : null });
  }
  const [dgT, nginxT, caddyT] = ['dashgate', 'nginx', 'caddy'].map((t) => at(rows, 'trivial', t));
  checks.push({
    target: 'trivial upstream: Dashgate more req/s than nginx and Caddy',
    measured: `Dashgate ${f(dgT?.wrk.rps)}, nginx ${f(nginxT?.wrk.rps)}, Caddy ${f(caddyT?.wrk.rps)} req/s`,
    met: dgT && nginxT && caddyT ? dgT.wrk.rps > Math.max(nginxT.wrk.rps, caddyT.wrk.rps) : null,
  });
  checks.push({ target: 'trivial upstream: ≤ 60 µs gateway CPU per request', measured: `${f(dgT?.proxyCpuUsPerRequest)} µs`, met: dgT ? dgT.proxyCpuUsPerRequest! <= 60 : null });
  const added50 = ['callback', 'trivial'].map((kind) => at(latency, kind, 'dashgate'));
  checks.push({
    target: 'added p50 at 1 connection ≤ 0.3 ms (callback, trivial)',
    measured: added50.map((r) => `${f(r?.addedP50Ms, 3)} ms`).join(', '),
    met: added50.every((r) => r) ? added50.every((r) => r!.addedP50Ms! <= 0.3) : null,
  });
  const added99 = ['callback', 'layout', 'trivial'].map((kind) => at(rows, kind, 'dashgate'));
  checks.push({
    target: 'added p99 at the load connections ≤ 2 ms (callback, layout, trivial)',
    measured: added99.map((r) => `${f(r?.addedP99Ms, 2)} ms`).join(', '),
    met: added99.every((r) => r) ? added99.every((r) => r!.addedP99Ms! <= 2) : null,
  });
  checks.push({ target: 'proxied p99 during the sign-in storm ≤ 2× quiet', measured: storm ? `${storm.p99Ratio.toFixed(2)}×` : 'not measured', met: storm ? storm.p99Ratio <= 2 : null });
  checks.push({ target: 'idle RSS ≤ 80 MiB (Dashgate serve, right after start)', measured: `${f(dashgateIdleMiB, 1)} MiB`, met: dashgateIdleMiB <= 80 });
  return checks;
}

export function targetTable(checks: TargetCheck[]): string {
  const body = checks.map((c) => [c.met === null ? 'skipped' : c.met ? 'met' : 'NOT MET', c.target, c.measured]);
  return `Issue 11 targets (one sample on a shared machine: read with the noise in mind)\n${table(['', 'target', 'this run'], body, ['l', 'l', 'l'])}`;
}
