import type { IncomingMessage, ServerResponse } from 'node:http';
import { sql } from 'kysely';
import type { Store } from '../store/store.js';
import type { Upstream } from '../proxy/upstream.js';

/** `degraded`: an optional part is down and the gateway serves without it (Redis: from the store). */
export type PartState = 'ok' | 'degraded' | 'unavailable';

/** A part the readiness check asks (Redis, when configured, adds itself). */
export interface ReadinessPart {
  name: string;
  /** Whether the gateway can serve without it (degraded) or not (unavailable). */
  required: boolean;
  check(): Promise<PartState>;
}

export interface Readiness {
  /** `draining`: shutting down, taking no new work (503, so the load balancer sends it elsewhere). */
  status: 'ok' | 'degraded' | 'unavailable' | 'draining';
  parts: Record<string, PartState>;
}

/**
 * Liveness and readiness, answered ahead of the gateway's own routes so a probe never waits on
 * page rendering. `/health`: the process answers (nothing else is asked: a probe that restarts a
 * gateway because its database is down would only add a restart to the outage). `/ready`: the
 * store, the app and (when configured) Redis; 200 for ok and degraded (an optional part is down:
 * the gateway still serves, more slowly), 503 when a required part is down. Checked at most once
 * a second, whatever the probe rate.
 */
export function createHealth(options: { store: Store; upstream: Upstream; timeoutMs?: number; now?: () => number }) {
  const timeoutMs = options.timeoutMs ?? 2000;
  const now = options.now ?? Date.now;
  const parts: ReadinessPart[] = [
    { name: 'store', required: true, check: () => within(timeoutMs, sql`select 1`.execute(options.store.db).then(() => 'ok' as const)) },
    { name: 'upstream', required: true, check: () => within(timeoutMs, appAnswers(options.upstream, timeoutMs)) },
  ];
  let last: { at: number; result: Promise<Readiness> } | null = null;
  let draining = false;

  async function evaluate(): Promise<Readiness> {
    const states = await Promise.all(parts.map(async (part) => [part, await part.check().catch(() => 'unavailable' as const)] as const));
    const down = states.filter(([, state]) => state !== 'ok');
    const status = down.length === 0 ? 'ok' : down.some(([part]) => part.required) ? 'unavailable' : 'degraded';
    return { status, parts: Object.fromEntries(states.map(([part, state]) => [part.name, state])) };
  }

  return {
    /** From now on /ready says `draining` (SIGTERM received). */
    drain(): void {
      draining = true;
    },
    /** Adds a part to the readiness check (Redis). */
    addPart(part: ReadinessPart): void {
      parts.push(part);
      last = null;
    },
    readiness(): Promise<Readiness> {
      if (draining) return Promise.resolve({ status: 'draining', parts: {} });
      if (!last || now() - last.at >= 1000) last = { at: now(), result: evaluate() };
      return last.result;
    },
    /** Answers `/health` and `/ready` (as `which`); JSON, never cached. */
    async answer(which: 'health' | 'ready', req: IncomingMessage, res: ServerResponse): Promise<void> {
      const body = which === 'health' ? { status: 'ok' } : await this.readiness();
      const status = which === 'health' || body.status === 'ok' || body.status === 'degraded' ? 200 : 503;
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    },
  };
}

export type Health = ReturnType<typeof createHealth>;

function within(ms: number, work: Promise<PartState>): Promise<PartState> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('unavailable'), ms);
    work.then(
      (state) => {
        clearTimeout(timer);
        resolve(state);
      },
      () => {
        clearTimeout(timer);
        resolve('unavailable');
      },
    );
  });
}

/** Any HTTP answer from the app (even a 404 or 403) means it is up. */
function appAnswers(upstream: Upstream, timeoutMs: number): Promise<PartState> {
  return new Promise((resolve) => {
    const req = upstream.request({ ...upstream.address, method: 'GET', path: `${upstream.basePath}/`, timeout: timeoutMs, agent: false, headers: { 'user-agent': 'dashgate-readiness' } }, (res) => {
      res.resume();
      resolve('ok');
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve('unavailable'));
    req.end();
  });
}
