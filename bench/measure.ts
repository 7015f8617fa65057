/**
 * What is sent (the request kinds), where (routes: the app directly, or a proxy with its
 * credentials), and one measured wrk run with the CPU time and memory of the processes behind it.
 */
import { TRIVIAL_PATH } from './anchors.js';
import { cpuSeconds, httpRequest, rssSumMiB } from './processes.js';
import type { Row } from './report.js';
import { wrk, type RequestSpec } from './wrk.js';

/** The dropdown → graph callback as Dash's renderer sends it (two outputs, a ~7.5 KB figure back). */
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

export type Kind = 'callback' | 'layout' | 'trivial';

export const KINDS: Record<Kind, { title: string; spec: RequestSpec; expect: string }> = {
  callback: {
    title: 'Dash callback  POST /_dash-update-component (dropdown → graph)',
    spec: { method: 'POST', path: '/_dash-update-component', body: CALLBACK_BODY, headers: { 'content-type': 'application/json' } },
    expect: '"figure"',
  },
  layout: { title: 'Dash layout  GET /_dash-layout', spec: { method: 'GET', path: '/_dash-layout' }, expect: '"props"' },
  trivial: { title: `Trivial upstream  GET ${TRIVIAL_PATH} (nginx, 2 KB JSON, keep-alive)`, spec: { method: 'GET', path: TRIVIAL_PATH }, expect: '"items"' },
};

/** One way to reach an app: directly, or through a proxy with its credentials. */
export interface Route {
  id: string;
  label: string;
  url: string;
  headers: Record<string, string>;
  /** The proxy's processes (none for direct). */
  proxyPids(): number[];
  appPids(): number[];
}

export interface Load {
  seconds: number;
  connections: number;
  warmupSeconds: number;
  /** Where wrk's scripts go. */
  scriptDir: string;
}

export type Measured = Row & { proxyCpuSeconds: number; appCpuSeconds: number };

function specFor(kind: Kind, route: Route): RequestSpec {
  const spec = KINDS[kind].spec;
  return { ...spec, headers: { ...spec.headers, ...route.headers } };
}

/** One wrk run; CPU time is read from /proc before and after, for the proxy's and the app's processes. */
export async function measure(kind: Kind, route: Route, load: Load, connections: number, direct?: Row): Promise<Measured> {
  const proxyPids = route.proxyPids();
  const appPids = route.appPids();
  const [proxy0, app0] = [cpuSeconds(proxyPids), cpuSeconds(appPids)];
  const r = await wrk(route.url, specFor(kind, route), { connections, seconds: load.seconds, scriptDir: load.scriptDir });
  const [proxyCpuSeconds, appCpuSeconds] = [cpuSeconds(proxyPids) - proxy0, cpuSeconds(appPids) - app0];
  const perRequest = (s: number) => (r.requests ? (s / r.requests) * 1e6 : NaN);
  return {
    kind,
    target: route.id,
    label: route.label,
    connections,
    wrk: r,
    ratio: direct ? r.rps / direct.wrk.rps : null,
    addedP50Ms: direct ? r.p50 - direct.wrk.p50 : null,
    addedP99Ms: direct ? r.p99 - direct.wrk.p99 : null,
    proxyCpuUsPerRequest: proxyPids.length ? perRequest(proxyCpuSeconds) : null,
    appCpuUsPerRequest: perRequest(appCpuSeconds),
    proxyRssMiB: proxyPids.length ? rssSumMiB(proxyPids) : null,
    appRssMiB: rssSumMiB(appPids),
    proxyPids,
    appPids,
    proxyCpuSeconds,
    appCpuSeconds,
  };
}

/** Load not measured, at the same concurrency, before the measured run (gunicorn imports plotly on the first callback, caches fill). */
export async function warm(kind: Kind, route: Route, load: Load): Promise<void> {
  if (load.warmupSeconds > 0) await wrk(route.url, specFor(kind, route), { connections: load.connections, seconds: load.warmupSeconds, scriptDir: load.scriptDir });
}

/** One request per route before any load: a misconfigured proxy (a 401, a login redirect) stops the run here. */
export async function check(kind: Kind, route: Route): Promise<void> {
  const spec = specFor(kind, route);
  const answer = await httpRequest(`${route.url}${spec.path}`, { method: spec.method, headers: spec.headers, body: spec.body, timeoutMs: 30_000 });
  if (answer.status < 200 || answer.status > 299 || !answer.body.includes(KINDS[kind].expect)) {
    throw new Error(`${route.label}: ${spec.method} ${route.url}${spec.path} answered ${answer.status} ${answer.body.slice(0, 300)}`);
  }
}
