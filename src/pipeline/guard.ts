import type { IncomingMessage } from 'node:http';
import type { RuleMatch } from '../access/rules.js';
import { GatewayError } from '../errors.js';
import type { Authorizer, CallbackCheck } from './authorize.js';
import type { Identity, IdentifyOptions } from './identify.js';
import type { Refusal } from './outcome.js';
import type { RequestScope } from './scope.js';
import type { SecondFactorGate } from './second-factor.js';

/**
 * How the request arrived. `continue` is an `Expect: 100-continue` probe: judged without any
 * side effect (nothing counted, audited or touched), since the request itself is judged again,
 * once, when it comes. `recheck` is an open WebSocket asking whether its caller may still be
 * there: no activity recorded. `forward` is a forward-auth check (pipeline/forward-auth.ts): the
 * request it describes is judged with the original method, and it never has a body to read.
 */
export type Transport = 'http' | 'upgrade' | 'continue' | 'recheck' | 'forward';

export type GuardResult =
  | { allowed: true; identity: Identity; rule: RuleMatch; callback: CallbackCheck | null }
  | { allowed: false; refusal: Refusal; identity: Identity | null; callback: CallbackCheck | null };

export interface GuardDeps {
  authorizer: Authorizer;
  identify(req: IncomingMessage, options: IdentifyOptions): Promise<Identity>;
  secondFactor: SecondFactorGate;
}

/**
 * The one judgement of a request, for every transport (DESIGN.md, steps 3–5): the deciding
 * rule, who is calling, the rule's verdict, the second-factor policy and, for an HTTP Dash
 * callback, its body. Returns a value, allowed or refused; only the caller differs in how it
 * writes the answer (an HTTP reply, an upgrade socket, a 100-continue or not).
 */
export function createGuard(deps: GuardDeps) {
  const { authorizer, secondFactor } = deps;

  return async function guard(req: IncomingMessage, scope: RequestScope, transport: Transport, options: { method?: string } = {}): Promise<GuardResult> {
    if (authorizer.refusesMcp(scope)) return refused({ kind: 'error', code: 'MCP_REFUSED' }, null);
    // An upgrade is a GET (RFC 6455 §4.1); callers only pass real handshakes here. A forward-auth
    // check is itself a GET: the method judged is the one the front proxy reports.
    const method = transport === 'upgrade' || transport === 'recheck' ? 'GET' : (options.method ?? req.method ?? 'GET');
    const rule = authorizer.match(scope, method);
    const identity = await deps.identify(req, {
      allowBasic: rule.allowBasic,
      clientIp: scope.clientIp,
      touch: transport === 'http' || transport === 'upgrade' || transport === 'forward',
      sideEffects: transport !== 'continue',
    });
    if (identity.kind === 'rejected') {
      // Credentials that did not check out are refused wherever they are sent, public paths included.
      return refused(identity.retryAfterMs !== null ? { kind: 'throttled', retryAfterMs: identity.retryAfterMs } : { kind: 'invalid_credentials', scheme: identity.scheme }, identity);
    }
    const verdict = authorizer.verdict(rule, identity);
    if (verdict !== 'allow') return refused({ kind: verdict }, identity);
    const need = await secondFactor.need(identity, rule);
    if (need) return refused({ kind: 'second_factor', need }, identity);
    // What is judged by its body or messages cannot be judged without them: never let it pass unread.
    if (transport === 'forward' && authorizer.judgesByContent(method, scope)) return refused({ kind: 'error', code: 'FORWARD_AUTH_NEEDS_BODY' }, identity);
    if (transport !== 'http' || !authorizer.inspectsCallback(req, scope)) return { allowed: true, identity, rule, callback: null };

    let callback: CallbackCheck;
    try {
      callback = await authorizer.checkCallback(req, scope, identity);
    } catch (err) {
      if (err instanceof GatewayError) return refused({ kind: 'error', code: err.code }, identity);
      throw err;
    }
    if (callback.verdict === 'login_required') return refused({ kind: 'login_required' }, identity, callback);
    if (callback.verdict === 'forbidden') return refused({ kind: 'forbidden', detail: authorizer.describeCallbackRefusal(callback) }, identity, callback);
    for (const pageRule of callback.pageRules) {
      const pageNeed = await secondFactor.need(identity, pageRule);
      if (pageNeed) return refused({ kind: 'second_factor', need: pageNeed }, identity, callback);
    }
    return { allowed: true, identity, rule, callback };
  };
}

function refused(refusal: Refusal, identity: Identity | null, callback: CallbackCheck | null = null): GuardResult {
  return { allowed: false, refusal, identity, callback };
}

export type Guard = ReturnType<typeof createGuard>;
