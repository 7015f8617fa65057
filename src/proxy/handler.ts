import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { RuleMatch } from '../access/rules.js';
import { GatewayError, type GatewayErrorCode } from '../errors.js';
import type { Guard, GuardResult } from '../pipeline/guard.js';
import { userOf, type Identity } from '../pipeline/identify.js';
import { answerRefusal, isScriptedRequest, type Refusal } from '../pipeline/outcome.js';
import type { RequestScope } from '../pipeline/scope.js';
import type { LogLimited } from '../ops/log-limiter.js';
import type { RequestRecord } from '../ops/access-log.js';
import { outcomeOfRefusal, type Metrics } from '../ops/metrics.js';
import type { Forwarder } from './forward.js';
import { writeRefusal, type RefusalPageRenderer } from './refusals.js';

export interface ProxyHandlerDeps {
  guard: Guard;
  forwarder: Forwarder;
  /** Step 6: the headers the app receives for this judged request (identity, signed tokens). */
  upstreamHeaders(req: IncomingMessage, scope: RequestScope, identity: Identity, rule: RuleMatch): Promise<Record<string, string | string[]>>;
  prefix: string;
  appName: string;
  renderPage: RefusalPageRenderer;
  pageHeaders: Readonly<Record<string, string>>;
  log: Logger;
  logLimited: LogLimited;
  metrics: Metrics | null;
}

/**
 * Proxied requests, on the plain node:http handler (fastify serves only /_dashgate/): the guard
 * judges, then the request is forwarded as judged, or the refusal written. Everything that can
 * be decided once is decided here, at start-up.
 */
export function createProxyHandler(deps: ProxyHandlerDeps) {
  const { guard, forwarder, log } = deps;

  function refuse(req: IncomingMessage, res: ServerResponse, scope: RequestScope, record: RequestRecord, refusal: Refusal, identity: Identity | null = null): void {
    record.outcome = outcomeOfRefusal(refusal);
    const path = scope.wirePath + scope.query;
    const answer = answerRefusal(refusal, { prefix: deps.prefix, next: path, scripted: isScriptedRequest(req, scope), appName: deps.appName, requestId: scope.id });
    const user = identity ? userOf(identity) : null;
    record.user = user?.username ?? null;
    writeRefusal(req, res, answer, { renderPage: deps.renderPage, pageHeaders: deps.pageHeaders, context: { user: user ? { username: user.username, displayName: user.displayName } : null, path } });
  }

  function logRefusedCallback(scope: RequestScope, result: Extract<GuardResult, { allowed: false }>): void {
    const { callback } = result;
    if (!callback || callback.verdict !== 'forbidden') return;
    const page = callback.page;
    log.info(
      { requestId: scope.id, user: result.identity ? userOf(result.identity)?.username : undefined, ...(page ? { page: page.path, rule: page.rule.label } : { rule: callback.judgement.rule?.label }) },
      page ? 'callback refused: it belongs to a page the user may not see' : 'callback refused by rule',
    );
  }

  async function forward(req: IncomingMessage, res: ServerResponse, scope: RequestScope, record: RequestRecord, result: Extract<GuardResult, { allowed: true }>): Promise<void> {
    record.user = userOf(result.identity)?.username ?? null;
    const headers = await deps.upstreamHeaders(req, scope, result.identity, result.rule);
    const body = result.callback?.body;
    const sentAt = performance.now();
    try {
      const onResponse = () => void (record.upstreamMs = performance.now() - sentAt);
      await forwarder.forward({ req, res, target: scope.wirePath + scope.query, headers, ...(body ? { body } : {}), onResponse });
    } catch (err) {
      const code: GatewayErrorCode = err instanceof GatewayError ? err.code : 'INTERNAL';
      deps.metrics?.upstreamError(code === 'UPSTREAM_TIMEOUT' ? 'timeout' : code === 'UPSTREAM_UNAVAILABLE' ? 'unavailable' : 'bad_response');
      if (code === 'INTERNAL') log.error({ err, requestId: scope.id }, 'proxy failure');
      else deps.logLimited('warn', `upstream.${code}`, { code, requestId: scope.id, cause: (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : undefined }, 'upstream failure');
      refuse(req, res, scope, record, { kind: 'error', code }, result.identity);
    }
  }

  return async function handleProxied(req: IncomingMessage, res: ServerResponse, scope: RequestScope, record: RequestRecord): Promise<void> {
    let result: GuardResult;
    try {
      result = await guard(req, scope, 'http');
    } catch (err) {
      // The store down (STORE_UNAVAILABLE, logged once a second by the store) is a 503 page or
      // JSON with Retry-After, not a 500 and never a sign-in redirect (sign-in needs the store too).
      if (err instanceof GatewayError && err.code !== 'INTERNAL') return refuse(req, res, scope, record, { kind: 'error', code: err.code });
      log.error({ err, requestId: scope.id }, 'request failed');
      return refuse(req, res, scope, record, { kind: 'error', code: 'INTERNAL' });
    }
    if (!result.allowed) {
      logRefusedCallback(scope, result);
      return refuse(req, res, scope, record, result.refusal, result.identity);
    }
    return forward(req, res, scope, record, result);
  };
}

export type ProxyHandler = ReturnType<typeof createProxyHandler>;
