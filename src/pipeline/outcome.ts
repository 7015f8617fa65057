import type { IncomingMessage } from 'node:http';
import { ERROR_TABLE, retryAfterOf, type GatewayErrorCode } from '../errors.js';
import type { RequestScope } from './scope.js';

/**
 * Why a request may not pass: the one value every transport's judgement returns (the guard) and
 * every writer turns into an answer (proxy/refusals.ts). Expected outcomes are values; the code
 * table in errors.ts covers the failures that are errors (bad path, body too large, MCP).
 */
export type Refusal =
  | { kind: 'login_required' }
  | { kind: 'forbidden'; detail?: Record<string, unknown> }
  | { kind: 'invalid_credentials'; scheme: 'Bearer' | 'Basic' }
  | { kind: 'throttled'; retryAfterMs: number }
  /** A factor to set up (enrol), to use now (step_up), or none that could help (a password-only script). */
  | { kind: 'second_factor'; need: 'enrol' | 'step_up' | 'forbidden' }
  | { kind: 'error'; code: GatewayErrorCode };

/** A refusal as it goes on the wire: status, headers, and a JSON body or a page to render. */
export interface RefusalAnswer {
  status: number;
  /** The request's id (X-Request-Id on the answer), to find its log line. */
  requestId: string | undefined;
  /** `X-Dashgate`: what the page helper and scripts read (login-required, forbidden, …). */
  code: string;
  headers: Record<string, string>;
  json: Record<string, unknown>;
  /** For a browser navigation: a page (title and message), or a redirect (in headers.location with no page). */
  page: { title: string; message: string } | null;
}

/**
 * Step 5: the answer for a refusal. A browser navigating is redirected (sign in, set up or use a
 * second factor) or shown a page; anything scripted (fetch, a Dash callback, a WebSocket
 * upgrade) gets JSON it and the page helper can read, never an HTML redirect it would follow
 * silently.
 */
export function answerRefusal(refusal: Refusal, context: { prefix: string; next: string; scripted: boolean; appName: string; requestId?: string }): RefusalAnswer {
  const answer = answerWithoutId(refusal, context);
  return { ...answer, requestId: context.requestId };
}

function answerWithoutId(refusal: Refusal, context: { prefix: string; next: string; scripted: boolean; appName: string; requestId?: string }): Omit<RefusalAnswer, 'requestId'> {
  const { prefix, next, scripted } = context;
  const noStore = { 'cache-control': 'no-store' };
  const withNext = (path: string) => (next === '/' ? path : `${path}?next=${encodeURIComponent(next)}`);
  switch (refusal.kind) {
    case 'login_required': {
      const loginUrl = `${prefix}/login?next=${encodeURIComponent(next)}`;
      if (scripted) return { status: 401, code: 'login-required', headers: noStore, json: { error: 'login_required', login_url: loginUrl }, page: null };
      return { status: 303, code: 'login-required', headers: { ...noStore, location: withNext(`${prefix}/login`) }, json: { error: 'login_required', login_url: loginUrl }, page: null };
    }
    case 'forbidden':
      return { status: 403, code: 'forbidden', headers: noStore, json: { error: 'forbidden', ...refusal.detail }, page: scripted ? null : { title: 'No access', message: `Your account does not have access to this part of ${context.appName}.` } };
    case 'invalid_credentials': {
      const challenge = refusal.scheme === 'Basic' ? `Basic realm="${context.appName.replace(/["\\]/g, '')}", charset="UTF-8"` : 'Bearer error="invalid_token"';
      return { status: 401, code: 'invalid-credentials', headers: { ...noStore, 'www-authenticate': challenge }, json: { error: 'invalid_credentials' }, page: null };
    }
    case 'throttled': {
      const seconds = Math.ceil(refusal.retryAfterMs / 1000);
      return { status: 429, code: 'too-many-attempts', headers: { ...noStore, 'retry-after': String(seconds) }, json: { error: 'too_many_attempts', retry_after: seconds }, page: null };
    }
    case 'second_factor': {
      const url = refusal.need === 'enrol' ? `${prefix}/account?enrol=1` : refusal.need === 'step_up' ? `${prefix}/stepup?next=${encodeURIComponent(next)}` : null;
      const json = { error: refusal.need === 'enrol' ? 'second_factor_enrolment_required' : 'second_factor_required', ...(url ? { url } : {}) };
      if (scripted || url === null) return { status: 403, code: 'forbidden', headers: noStore, json, page: null };
      return { status: 303, code: 'second-factor-required', headers: { ...noStore, location: url }, json, page: null };
    }
    case 'error': {
      const entry = ERROR_TABLE[refusal.code];
      return {
        status: entry.status,
        code: refusal.code.toLowerCase(),
        headers: retryAfterOf(refusal.code) !== undefined ? { ...noStore, 'retry-after': String(retryAfterOf(refusal.code)) } : noStore,
        // Failures carry the request id, to find the log line; refusals of a caller do not need one.
        json: { error: refusal.code.toLowerCase(), message: entry.detail, ...(context.requestId ? { request_id: context.requestId } : {}) },
        page: scripted ? null : { title: entry.title, message: entry.detail },
      };
    }
  }
}

/**
 * True for fetch/XHR/callbacks; false for a browser loading a page. DESIGN.md's criteria: a
 * method other than GET/HEAD, a Dash `_dash-` route, or a JSON-only Accept (plus
 * X-Requested-With, which XHR libraries send). Sec-Fetch-Mode is not used: every fetch() sends
 * "cors", including scripts that want the redirect a page would get. A WebSocket upgrade is
 * always scripted. The one definition every transport uses.
 */
export function isScriptedRequest(req: Pick<IncomingMessage, 'method' | 'headers'>, scope: Pick<RequestScope, 'path'>): boolean {
  const headers = req.headers;
  // A form a browser submits is a navigation: it gets a page, not JSON (a sign-in posted while the
  // store was down got a raw JSON 500). Sec-Fetch-Mode says so; older browsers, by what they send.
  if (req.method !== 'GET' && req.method !== 'HEAD') return !isFormNavigation(headers);
  if (scope.path.includes('/_dash-')) return true;
  if (headers.upgrade !== undefined || headers['x-requested-with'] !== undefined) return true;
  const accept = headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}

function isFormNavigation(headers: IncomingMessage['headers']): boolean {
  const mode = headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  const type = headers['content-type'] ?? '';
  return (headers.accept ?? '').includes('text/html') && (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data'));
}
