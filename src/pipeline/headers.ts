import type { IncomingHttpHeaders } from 'node:http';
import { removeCookie } from '../auth/cookies.js';
import { isGatewayCredential, userOf, type Identity } from './identify.js';
import type { RequestScope } from './scope.js';

/** RFC 9110 §7.6.1: connection-specific headers are never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings']);

/**
 * Headers whose meaning is "who the caller is" or "what the original request was". A client that
 * sends them could impersonate a user or steer the app's routing, so every spelling is removed
 * before the gateway sets its own. Compared after lower-casing and mapping "_" to "-", because
 * WSGI servers (gunicorn, werkzeug) map both `X-Forwarded-User` and `X_Forwarded_User` to
 * `HTTP_X_FORWARDED_USER`.
 */
const IDENTITY_HEADERS = new Set([
  'x-forwarded-user', 'x-forwarded-email', 'x-forwarded-preferred-username', 'x-forwarded-groups', 'x-forwarded-access-token',
  'remote-user', 'remote-email', 'remote-name', 'remote-groups', 'x-remote-user', 'x-user', 'x-email', 'x-auth-request-user',
  'x-auth-request-email', 'x-auth-request-groups', 'x-auth-request-preferred-username',
  // Path and origin overrides some frameworks honour (the X-Original-URL bypass).
  'x-forwarded-uri', 'x-original-url', 'x-original-uri', 'x-rewrite-url', 'x-forwarded-prefix', 'x-forwarded-path', 'x-original-path',
  // Method overrides (Rails, Express method-override, some WSGI middleware): the method judged is the method sent.
  'x-http-method-override', 'x-http-method', 'x-method-override',
  // Forwarding chain: rebuilt below from what the gateway actually saw.
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-server', 'x-forwarded-ssl', 'x-real-ip', 'forwarded', 'x-client-ip',
]);

/** True for a header name the gateway alone may set (any case, "_" or "-"). */
export function isReservedHeader(name: string): boolean {
  const normalized = name.toLowerCase().replaceAll('_', '-');
  return IDENTITY_HEADERS.has(normalized) || normalized.startsWith('x-dashgate-');
}

export interface ForwardOptions {
  /** The gateway's session cookie name, removed from the Cookie header the app sees. */
  cookieName: string;
  /** Drop Accept-Encoding so an HTML page arrives uncompressed for the page helper. */
  identityEncoding?: boolean;
  /** The deciding rule accepts HTTP Basic, so a Basic header is a Dashgate password. */
  allowBasic?: boolean;
}

/**
 * Step 6: the request headers the app receives. Hop-by-hop and reserved headers are dropped in
 * every spelling, then the forwarding chain and the real identity are set.
 */
export function buildUpstreamHeaders(incoming: IncomingHttpHeaders, scope: RequestScope, identity: Identity, options: ForwardOptions): Record<string, string | string[]> {
  const listedInConnection = connectionTokens(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || HOP_BY_HOP.has(name) || listedInConnection?.has(name) || isReservedHeader(name)) continue;
    out[name] = value;
  }
  if (typeof out.cookie === 'string' && out.cookie.includes(options.cookieName)) {
    const rest = removeCookie(out.cookie, options.cookieName);
    if (rest) out.cookie = rest;
    else delete out.cookie;
  }
  if (options.identityEncoding) delete out['accept-encoding'];
  if (isGatewayCredential(incoming.authorization, identity, options.allowBasic)) delete out.authorization;

  const priorChain = scope.peerTrusted ? joinValues(incoming['x-forwarded-for']) : undefined;
  out['x-forwarded-for'] = priorChain ? `${priorChain}, ${scope.peerIp}` : scope.peerIp;
  out['x-forwarded-proto'] = scope.proto;
  if (scope.host) out['x-forwarded-host'] = scope.host;
  out['x-request-id'] = scope.id;

  Object.assign(out, identityHeaders(identity));
  return out;
}

/**
 * The identity headers for a signed-in caller (none for anyone else): what the app receives in
 * proxy mode, and what a forward-auth answer hands the front proxy to copy, under the same names.
 */
export function identityHeaders(identity: Identity): Record<string, string> {
  const out: Record<string, string> = {};
  const user = userOf(identity);
  if (user) {
    const username = headerSafe(user.username);
    out['x-forwarded-user'] = username;
    out['remote-user'] = username;
    const name = headerSafe(user.displayName ?? user.username);
    out['x-forwarded-preferred-username'] = name;
    out['remote-name'] = name;
    if (user.email) {
      const email = headerSafe(user.email);
      out['x-forwarded-email'] = email;
      out['remote-email'] = email;
    }
    const groups = user.groups.map(headerSafe).join(',');
    out['x-forwarded-groups'] = groups;
    out['remote-groups'] = groups;
  }
  return out;
}

/**
 * Response headers from the app, minus hop-by-hop ones (the gateway frames its own response) and
 * `X-Dashgate*`: only the gateway says what the page helper reads as the gateway's refusal.
 */
export function filterResponseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const listed = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || listed?.has(name) || name.startsWith('x-dashgate')) continue;
    out[name] = value;
  }
  return out;
}

/**
 * Header names a `Connection` header asks to drop. Framing and routing headers are never among
 * them: `Connection: content-length` would otherwise strip the body's length and let the body
 * reach the app as a second, unjudged request (request smuggling).
 */
const NEVER_CONNECTION_SCOPED = new Set(['content-length', 'transfer-encoding', 'host']);

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const tokens = joinValues(value)
    .toLowerCase()
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '' && !NEVER_CONNECTION_SCOPED.has(t));
  return tokens.length > 0 ? new Set(tokens) : undefined;
}

function joinValues(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

/**
 * Header values must be visible ASCII. Names and emails in other scripts are sent
 * percent-encoded (UTF-8), which every language decodes with its URL-unquote function; the
 * signed JWT carries them verbatim.
 */
function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}
