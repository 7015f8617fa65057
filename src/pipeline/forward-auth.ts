import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { LogLimited } from '../ops/log-limiter.js';
import { GatewayError } from '../errors.js';
import type { RefusalPageRenderer } from '../proxy/refusals.js';
import { writeRefusal } from '../proxy/refusals.js';
import { canonicalizeTarget } from './canonical-path.js';
import type { Guard } from './guard.js';
import { identityHeaders, isReservedHeader } from './headers.js';
import { userOf, type Identity } from './identify.js';
import { answerRefusal, isScriptedRequest, type Refusal, type RefusalAnswer } from './outcome.js';
import { countHeader, isOwnPath, normalizeHost, type RequestScope } from './scope.js';

/**
 * How a refusal to sign in reaches the browser. `redirect` (`<prefix>/auth`, for Caddy
 * `forward_auth` and Traefik `forwardAuth`, which hand a non-2xx answer to the client as it is):
 * a browser navigation gets the 303 to sign-in, a script the 401 JSON, as in proxy mode.
 * `status` (`<prefix>/auth/nginx`, for nginx `auth_request`, which accepts only 2xx, 401 and
 * 403 and turns anything else into a 500): never a redirect; where proxy mode would redirect,
 * 401 with `X-Dashgate-Redirect` naming the target, for `error_page 401` to send the browser on.
 */
export type ForwardAuthStyle = 'redirect' | 'status';

/** The request a front proxy asks about, as read from its headers. */
export interface ForwardedRequest {
  method: string;
  scope: RequestScope;
}

/**
 * The headers the original request is read from: the names Caddy and Traefik send, and what
 * docs/forward-auth.md has nginx set. X-Original-URL, X-Original-Method, X-Rewrite-URL and the
 * like are never read (a front proxy passes them on from the client unless told otherwise); a
 * check that carries one is refused.
 */
export const FORWARDED_HEADERS = ['x-forwarded-method', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-uri'] as const;

/**
 * Headers a client may not send with a request judged here, in any case and with "_" for "-"
 * (WSGI servers read `X_Forwarded_User` as `X-Forwarded-User`). The front proxy passes the
 * client's headers to the check and then the request to the app; in proxy mode the gateway
 * removes these before the app sees them, here it cannot, so a request carrying one is refused
 * whatever the front proxy's configuration: identity headers (only Dashgate's answer may set
 * them), and path or method overrides some frameworks honour (the X-Original-URL bypass:
 * Symfony, Laravel, IIS URL Rewrite; method overrides: Rails, Express).
 */
const CLIENT_MAY_NOT_SEND = new Set([
  'x-forwarded-user', 'x-forwarded-email', 'x-forwarded-preferred-username', 'x-forwarded-groups', 'x-forwarded-access-token',
  'remote-user', 'remote-email', 'remote-name', 'remote-groups', 'x-remote-user', 'x-user', 'x-email',
  'x-auth-request-user', 'x-auth-request-email', 'x-auth-request-groups', 'x-auth-request-preferred-username',
  'x-original-url', 'x-original-uri', 'x-rewrite-url', 'x-original-method', 'x-original-path',
  'x-http-method-override', 'x-http-method', 'x-method-override',
]);

/** Whether a header name (as sent) is one CLIENT_MAY_NOT_SEND, an X-Dashgate- header, or any reserved header spelled with "_". */
function isRefusedHeader(name: string): boolean {
  const normalized = name.toLowerCase().replaceAll('_', '-');
  return CLIENT_MAY_NOT_SEND.has(normalized) || normalized.startsWith('x-dashgate') || (name.includes('_') && isReservedHeader(name));
}

// RFC 9110 §9.1: methods are case-sensitive tokens; every method a front proxy reports is upper case.
const METHOD = /^[A-Z][A-Z-]{0,31}$/;
// Traefik reports a WebSocket handshake's scheme as ws/wss.
const PROTOS: Record<string, 'http' | 'https'> = { http: 'http', https: 'https', ws: 'http', wss: 'https' };
// "." and ".." however spelled ("%2e", ".%2E"); ";params" after one is refused by canonical-path already.
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/**
 * Reads the original request from a trusted front proxy's headers, or throws a coded error:
 * FORWARD_AUTH_HEADERS when one is missing, repeated or malformed, FORWARD_AUTH_RESERVED_HEADER when
 * the request carries a header a client may not send (identity, overrides: CLIENT_MAY_NOT_SEND), BAD_PATH when the URI is not
 * one the gateway can judge exactly as the app will read it, BAD_REQUEST when an absolute-form
 * URI names another host than X-Forwarded-Host. The caller has checked that the peer is trusted.
 *
 * The URI goes through the same canonical path as in proxy mode, with one difference: in proxy
 * mode the app receives the canonical path the gateway judged; here the front proxy sends the
 * app the URI as the client wrote it. So a URI the app could read as another path than the
 * canonical one is refused instead of canonicalised: a raw "#" (gunicorn and most servers end
 * the path there: "/private#/../public" is "/private" to them and "/public" once dot segments
 * are resolved) and dot segments in any spelling (an app that does not resolve them would route
 * "/public/../admin" by its first segment). Browsers send neither.
 */
export function readForwardedRequest(req: IncomingMessage, auth: RequestScope): ForwardedRequest {
  const values: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const value = req.headers[name];
    // Two copies (a client's and the proxy's, appended) would let the two sides read different ones.
    if (typeof value !== 'string' || value === '' || countHeader(req.rawHeaders, name) !== 1) throw new GatewayError('FORWARD_AUTH_HEADERS');
    values[name] = value;
  }
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (isRefusedHeader(req.rawHeaders[i]!)) throw new GatewayError('FORWARD_AUTH_RESERVED_HEADER');
  const method = values['x-forwarded-method']!;
  const proto = Object.hasOwn(PROTOS, values['x-forwarded-proto']!.toLowerCase()) ? PROTOS[values['x-forwarded-proto']!.toLowerCase()] : undefined;
  const host = values['x-forwarded-host']!;
  const hostname = normalizeHost(host);
  if (!METHOD.test(method) || proto === undefined || hostname === null || hostname === '') throw new GatewayError('FORWARD_AUTH_HEADERS');

  const uri = values['x-forwarded-uri']!;
  if (uri.includes('#')) throw new GatewayError('BAD_PATH');
  // A URI is ASCII (RFC 3986). Raw bytes beyond it (nginx and Caddy pass a client's raw UTF-8 as
  // it came) were judged as latin1 characters, so "/données" sent raw matched no rule naming
  // "/données" while the app decoded it as that path. Proxy mode never sees them (Node refuses them).
  if (/[^\x21-\x7e]/.test(uri)) throw new GatewayError('BAD_PATH');
  const target = canonicalizeTarget(uri);
  // Absolute form (Caddy reports the request target as sent): its authority must be the host judged.
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  if (absolute && normalizeHost(absolute[1]!) !== hostname) throw new GatewayError('BAD_REQUEST');
  const rawPath = uri.slice(absolute ? absolute[0].length : 0).split('?', 1)[0]!;
  if (rawPath.split('/').some((segment) => DOT_SEGMENT.test(segment))) throw new GatewayError('BAD_PATH');

  return {
    method,
    scope: { ...target, id: auth.id, clientIp: auth.clientIp, peerIp: auth.peerIp, peerTrusted: auth.peerTrusted, proto, host, hostname },
  };
}

/** Every header an allowed answer carries, for the front proxy to copy (docs/forward-auth.md lists them). */
export const ANSWER_HEADERS = [
  'x-forwarded-user', 'x-forwarded-email', 'x-forwarded-preferred-username', 'x-forwarded-groups',
  'remote-user', 'remote-email', 'remote-name', 'remote-groups', 'x-dashgate-jwt', 'x-dashgate-app-token',
] as const;
const EMPTY_IDENTITY: Readonly<Record<string, string>> = Object.freeze(Object.fromEntries(ANSWER_HEADERS.map((name) => [name, ''])));

export interface ForwardAuthDeps {
  guard: Guard;
  prefix: string;
  appName: string;
  /** Origins an absolute `next` may name (forward_auth.allowed_origins and server.public_url's). */
  allowedOrigins: readonly string[];
  /** The signed identity (X-Dashgate-Jwt, X-Dashgate-App-Token) for an allowed request, added to `headers`. */
  signIdentity(identity: Identity, headers: Record<string, string | string[]>): Promise<void>;
  renderPage: RefusalPageRenderer;
  pageHeaders: Readonly<Record<string, string>>;
  log: Logger;
  /** For what anyone can make happen often (checks from untrusted peers): at most one line a second per kind. */
  logLimited: LogLimited;
}

/**
 * `GET <prefix>/auth` and `<prefix>/auth/nginx`: the front proxy asks whether the request it
 * holds may pass. Judged by the one guard (transport `forward`), once: throttling and audit
 * happen exactly as for a proxied request. Allowed: 200 with the identity headers, the same
 * names the app gets in proxy mode, for the front proxy to copy onto the request.
 *
 * Several apps (`apps:`, later): `readForwardedRequest` knows the host and path before anything
 * is judged, so the app, and with it the guard and the allowed origins, can be picked from
 * `scope.hostname` / `scope.path` right there; nothing else here depends on there being one app.
 */
export function createForwardAuthHandler(deps: ForwardAuthDeps) {
  const { guard, prefix, log } = deps;

  function refuse(req: IncomingMessage, res: ServerResponse, answer: RefusalAnswer, identity: Identity | null, path: string): void {
    const user = identity ? userOf(identity) : null;
    writeRefusal(req, res, answer, { renderPage: deps.renderPage, pageHeaders: deps.pageHeaders, context: { user: user ? { username: user.username, displayName: user.displayName } : null, path } });
  }

  /** Where sign-in returns to: the original URL when its origin is configured, else its path (the sign-in page is on the app's host). */
  function nextFor(scope: RequestScope): string {
    const path = scope.wirePath + scope.query;
    const origin = `${scope.proto}://${scope.host}`;
    try {
      return deps.allowedOrigins.includes(new URL(origin).origin) ? `${origin}${path}` : path;
    } catch {
      return path;
    }
  }

  async function judge(req: IncomingMessage, res: ServerResponse, auth: RequestScope, style: ForwardAuthStyle): Promise<void> {
    const fail = (refusal: Refusal) => refuse(req, res, styled(answerRefusal(refusal, { prefix, next: '/', scripted: true, appName: deps.appName, requestId: auth.id }), style), null, '/');
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail({ kind: 'error', code: 'BAD_REQUEST' });
    // An untrusted peer's forwarded headers are never read: anyone could name any request in them.
    if (!auth.peerTrusted) {
      deps.logLimited('warn', 'forward-auth.untrusted', { requestId: auth.id, peer: auth.peerIp }, 'forward-auth check from a peer not in server.trusted_proxies refused');
      return fail({ kind: 'error', code: 'FORWARD_AUTH_UNTRUSTED' });
    }
    let original: ForwardedRequest;
    try {
      original = readForwardedRequest(req, auth);
    } catch (err) {
      if (err instanceof GatewayError) return fail({ kind: 'error', code: err.code });
      throw err;
    }
    const { scope, method } = original;
    // The gateway's own pages guard themselves; the front proxy routes them to the gateway unchecked.
    if (isOwnPath(scope.matchPath, prefix)) return fail({ kind: 'error', code: 'FORWARD_AUTH_OWN_PATH' });

    const result = await guard(req, scope, 'forward', { method });
    const path = scope.wirePath + scope.query;
    if (!result.allowed) {
      const scripted = isScriptedRequest({ method, headers: req.headers }, scope);
      const answer = answerRefusal(result.refusal, { prefix, next: nextFor(scope), scripted, appName: deps.appName, requestId: auth.id });
      return refuse(req, res, styled(answer, style), result.identity, path);
    }
    // Every name, empty when it has no value (nobody signed in, no email): a front proxy that copies
    // a header the answer lacks may copy something else (Caddy before 2.10 sends its placeholder
    // text "{http.reverse_proxy.header.X-Forwarded-User}", and a client's own copy stays).
    const headers: Record<string, string | string[]> = { ...EMPTY_IDENTITY, ...identityHeaders(result.identity) };
    await deps.signIdentity(result.identity, headers);
    res.writeHead(200, { ...headers, 'cache-control': 'no-store', 'content-length': 0, 'x-request-id': auth.id });
    res.end();
  }

  return async function answerForwardAuth(req: IncomingMessage, res: ServerResponse, auth: RequestScope, style: ForwardAuthStyle): Promise<void> {
    try {
      await judge(req, res, auth, style);
    } catch (err) {
      // A store that cannot answer is a 500: never an allow.
      log.error({ err, requestId: auth.id }, 'forward-auth check failed');
      refuse(req, res, styled(answerRefusal({ kind: 'error', code: 'INTERNAL' }, { prefix, next: '/', scripted: true, appName: deps.appName, requestId: auth.id }), style), null, '/');
    }
  };
}

/**
 * The `status` style for nginx: a redirect becomes 401 with `X-Dashgate-Redirect`, and any
 * other client error 403 (auth_request would answer 500 for it), its code kept in X-Dashgate.
 */
export function styled(answer: RefusalAnswer, style: ForwardAuthStyle): RefusalAnswer {
  if (style === 'redirect') return answer;
  const { location, ...headers } = answer.headers;
  if (location !== undefined) return { ...answer, status: 401, headers: { ...headers, 'x-dashgate-redirect': location } };
  if (answer.status >= 400 && answer.status < 500 && answer.status !== 401 && answer.status !== 403) return { ...answer, status: 403 };
  return answer;
}

export type ForwardAuthHandler = ReturnType<typeof createForwardAuthHandler>;
