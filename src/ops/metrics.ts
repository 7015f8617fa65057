import { createServer, type Server } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';
import type { AuditEvent } from '../store/types.js';
import type { Refusal } from '../pipeline/outcome.js';
import { ERROR_TABLE } from '../errors.js';

/**
 * What became of a proxied request, one value per request: the `outcome` label of
 * `dashgate_requests_total` and the access log's `outcome` field.
 */
export type RequestOutcome =
  | 'proxied' // the app answered (whatever its status)
  | 'login' // not signed in: a redirect to sign-in, or 401 login_required for a script
  | 'unauthorized' // a bad API token or Basic password (401)
  | 'forbidden' // signed in, not allowed (403)
  | 'second_factor' // a second factor to set up or use first
  | 'throttled' // too many failed credentials (429)
  | 'upstream_error' // the app could not be reached or answered what the gateway cannot pass on (502/504)
  | 'bad_request' // a request the gateway refuses as malformed (4xx)
  | 'error'; // the gateway or its store failed (5xx: INTERNAL, STORE_UNAVAILABLE, SIGN_IN_BUSY)

export function outcomeOfRefusal(refusal: Refusal): RequestOutcome {
  switch (refusal.kind) {
    case 'login_required':
      return 'login';
    case 'invalid_credentials':
      return 'unauthorized';
    case 'forbidden':
      return 'forbidden';
    case 'second_factor':
      return 'second_factor';
    case 'throttled':
      return 'throttled';
    case 'error':
      if (refusal.code.startsWith('UPSTREAM_') || refusal.code === 'UNREADABLE_PAGE' || refusal.code === 'PAGE_TOO_LARGE') return 'upstream_error';
      return ERROR_TABLE[refusal.code].status >= 500 ? 'error' : 'bad_request';
  }
}

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const statusClass = (status: number) => STATUS_CLASSES[Math.min(4, Math.max(0, Math.floor(status / 100) - 1))]!;

/** Sign-in methods as labels: a fixed set, so a label never grows with what clients send. */
const FIRST_FACTORS = new Set(['password', 'passkey', 'sso', 'api_token', 'basic']);
const SECOND_FACTORS = new Set(['totp', 'recovery', 'passkey', 'mfa']);
const firstFactorLabel = (method: string) => {
  const first = method.split('+', 1)[0]!.split(':', 1)[0]!;
  return FIRST_FACTORS.has(first) ? first : 'other';
};
const secondFactorLabel = (method: string) => {
  const name = method === 'recovery_code' ? 'recovery' : method;
  return SECOND_FACTORS.has(name) ? name : 'other';
};

export interface MetricsSources {
  /** Sessions not ended and not expired (asked on each scrape). */
  activeSessions?: () => Promise<number>;
  /** WebSockets open through the gateway now. */
  openWebSockets?: () => number;
  /** With redis.url: whether this process hears Redis, and its error counters so far. */
  redis?: () => { up: boolean; publishErrors: number; lockErrors: number; outages: number };
}

/**
 * The gateway's Prometheus metrics, on a registry of its own (several gateways can live in one
 * process, as tests do). Names follow the field (oauth2-proxy's `oauth2_proxy_requests_total`,
 * Authelia's `authelia_authn`): `dashgate_` and a unit suffix; every label has a fixed set of
 * values. The hot path touches pre-bound children only: no label lookup per request.
 */
export function createMetrics(options: { version: string }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({ name: 'dashgate_requests_total', help: 'Proxied requests (and WebSocket handshakes) by outcome and status class.', labelNames: ['outcome', 'code'], registers: [registry] });
  const duration = new Histogram({
    name: 'dashgate_request_duration_seconds',
    help: 'Time from a request’s arrival to the end of its answer, by outcome.',
    labelNames: ['outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const upstreamDuration = new Histogram({
    name: 'dashgate_upstream_response_seconds',
    help: 'Time from forwarding a request to the app’s response headers.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const upstreamErrors = new Counter({ name: 'dashgate_upstream_errors_total', help: 'Requests the app did not answer usably, by reason.', labelNames: ['reason'], registers: [registry] });
  const authn = new Counter({ name: 'dashgate_authn_total', help: 'Sign-ins and credential checks by first factor (password, passkey, sso, api_token, basic) and result (success, failure, throttled, refused).', labelNames: ['method', 'result'], registers: [registry] });
  const secondFactor = new Counter({ name: 'dashgate_second_factor_total', help: 'Second-factor checks by method (totp, recovery, passkey, mfa at the provider) and result.', labelNames: ['method', 'result'], registers: [registry] });
  const throttled = new Counter({ name: 'dashgate_throttled_total', help: 'Attempts refused by the throttle before any check ran, by kind.', labelNames: ['kind'], registers: [registry] });
  const storeQueries = new Histogram({ name: 'dashgate_store_query_duration_seconds', help: 'Queries to the store (SQLite or PostgreSQL).', labelNames: ['result'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5], registers: [registry] });
  const storeErrors = new Counter({ name: 'dashgate_store_errors_total', help: 'Store queries that failed.', registers: [registry] });
  new Gauge({ name: 'dashgate_build_info', help: 'The running version (value 1).', labelNames: ['version', 'node_version'], registers: [registry], aggregator: 'first' }).set({ version: options.version, node_version: process.version }, 1);

  const requestChildren = new Map<string, ReturnType<typeof requests.labels>>();
  const durationChildren = new Map<RequestOutcome, ReturnType<typeof duration.labels>>();
  const storeOk = storeQueries.labels('ok');
  const storeFailed = storeQueries.labels('error');
  let sources: MetricsSources = {};
  let sessionsValue = 0;

  new Gauge({
    name: 'dashgate_active_sessions',
    help: 'Sessions signed in and not expired (all instances share them: the same figure on each).',
    registers: [registry],
    aggregator: 'max',
    async collect() {
      // One COUNT per scrape (the scrape interval bounds it); the last value while the store is down.
      if (!sources.activeSessions) return;
      sessionsValue = await sources.activeSessions().catch(() => sessionsValue);
      this.set(sessionsValue);
    },
  });
  new Gauge({
    name: 'dashgate_websockets_open',
    help: 'WebSockets open through the gateway.',
    registers: [registry],
    collect() {
      if (sources.openWebSockets) this.set(sources.openWebSockets());
    },
  });

  new Gauge({
    name: 'dashgate_redis_up',
    help: 'Whether this process hears Redis (1) or serves from the store alone (0); absent without redis.url.',
    registers: [registry],
    aggregator: 'min',
    collect() {
      if (sources.redis) this.set(sources.redis().up ? 1 : 0);
    },
  });
  // Counters kept by the Redis link itself (ops/redis.ts), reported as they are.
  for (const [name, key, help] of [
    ['dashgate_redis_errors_total', 'publishErrors', 'Changes that could not be published to Redis (sent again once it is back).'],
    ['dashgate_redis_lock_errors_total', 'lockErrors', 'Credential locks Redis could not give (the instance’s own lock was used).'],
    ['dashgate_redis_outages_total', 'outages', 'Times this process lost Redis.'],
  ] as const) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        if (!sources.redis) return;
        // The link's own running total, reported as it is.
        const value = sources.redis()[key];
        this.reset();
        if (value > 0) this.inc(value);
      },
    });
  }

  return {
    registry,
    /** Where gauges read their values (set once the gateway's parts exist). */
    setSources(given: MetricsSources): void {
      sources = given;
    },
    request(outcome: RequestOutcome, status: number, seconds: number): void {
      const code = statusClass(status);
      const key = `${outcome} ${code}`;
      let counter = requestChildren.get(key);
      if (!counter) requestChildren.set(key, (counter = requests.labels(outcome, code)));
      counter.inc();
      let histogram = durationChildren.get(outcome);
      if (!histogram) durationChildren.set(outcome, (histogram = duration.labels(outcome)));
      histogram.observe(seconds);
    },
    upstream(seconds: number): void {
      upstreamDuration.observe(seconds);
    },
    upstreamError(reason: 'unavailable' | 'timeout' | 'bad_response'): void {
      upstreamErrors.inc({ reason });
    },
    throttled(kind: string): void {
      throttled.inc({ kind });
    },
    storeQuery(seconds: number, failed: boolean): void {
      (failed ? storeFailed : storeOk).observe(seconds);
      if (failed) storeErrors.inc();
    },
    /** Sign-in results, read off the audit events every sign-in already records. */
    audit(event: AuditEvent): void {
      const detail = event.detail ?? {};
      const text = (value: unknown, fallback: string) => (typeof value === 'string' ? value : fallback);
      const sign = (method: string, result: string, labels: LabelValues<'method' | 'result'> = { method: firstFactorLabel(method), result }) => authn.inc(labels);
      switch (event.action) {
        case 'login.success': {
          const method = text(detail.method, 'password');
          sign(method, 'success');
          const second = method.split('+')[1];
          if (second) secondFactor.inc({ method: secondFactorLabel(second), result: 'success' });
          return;
        }
        case 'login.step_up':
          return;
        case 'login.failure':
          return sign(text(detail.method, 'password'), 'failure');
        case 'login.throttled':
          return sign('password', 'throttled');
        case 'login.mfa_failure':
          return void secondFactor.inc({ method: secondFactorLabel(text(detail.kind, 'other')), result: 'failure' });
        case 'login.sso_failure':
          return sign('sso', 'failure');
        case 'login.sso_refused':
          return sign('sso', 'refused');
        case 'token.failure':
          return sign('api_token', 'failure');
        case 'basic.failure':
          return sign('basic', 'failure');
        default:
      }
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * The metrics listener: `GET /metrics` in Prometheus text format on an address of its own
 * (`metrics.listen`), so it can be bound where only the scraper reaches; with `metrics.token_env`
 * a scraper must also send the token as a Bearer credential.
 */
export async function serveMetrics(options: { listen: string; token: string | null; collect: () => Promise<{ contentType: string; body: string }>; onError: (err: unknown) => void }): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const split = options.listen.lastIndexOf(':');
  const host = options.listen.slice(0, split).replace(/^\[|\]$/g, '');
  const port = Number(options.listen.slice(split + 1));
  const expected = options.token === null ? null : Buffer.from(`Bearer ${options.token}`);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics are at /metrics\n');
      return;
    }
    if (expected !== null) {
      const given = Buffer.from(req.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer realm="dashgate metrics"' }).end('a bearer token is required\n');
        return;
      }
    }
    options.collect().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        options.onError(err);
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics could not be collected\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
