import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isApiTokenShaped, type ApiTokenManager } from '../auth/api-tokens.js';
import { readCookie } from '../auth/cookies.js';
import type { Session, SessionManager } from '../auth/sessions.js';
import { verifyCredentials } from '../auth/sign-in.js';
import { failed, passed, type SignInThrottle } from '../auth/throttle.js';
import type { Store } from '../store/store.js';
import type { Clock, User } from '../store/types.js';

/**
 * Who is calling. `user` is a browser session; `credential` is a script that sent an API token
 * (`Authorization: Bearer dgt_…`) or, where a rule allows it, HTTP Basic; `rejected` sent
 * credentials that did not check out (answered 401, or 429 while throttled).
 */
export type Identity =
  | { kind: 'anonymous' }
  | { kind: 'user'; user: User; session: Session }
  | { kind: 'credential'; user: User; method: 'token' | 'basic'; credentialId: string }
  | { kind: 'rejected'; scheme: 'Bearer' | 'Basic'; retryAfterMs: number | null };

const ANONYMOUS: Identity = Object.freeze({ kind: 'anonymous' });

/** The signed-in user behind an identity, or null. */
export function userOf(identity: Identity): User | null {
  return identity.kind === 'user' || identity.kind === 'credential' ? identity.user : null;
}

export interface IdentifyOptions {
  /** false: check without counting as activity (WebSocket re-checks). */
  touch?: boolean;
  /** The deciding rule accepts HTTP Basic. */
  allowBasic?: boolean;
  /** The caller's address (scope.clientIp), for the throttle. */
  clientIp?: string;
  /**
   * false: judge without leaving a trace (an Expect: 100-continue probe, judged again when the
   * request comes): nothing touched, no failure counted or audited, and no password checked.
   */
  sideEffects?: boolean;
}

/** Step 3, cookie only: what the gateway's own pages use. */
export function createSessionIdentifier(sessions: SessionManager, cookieName: string) {
  return async function identifySession(req: IncomingMessage, options: { touch?: boolean } = {}): Promise<Identity> {
    const found = await sessions.validateSessionToken(readCookie(req.headers.cookie, cookieName), options);
    return found ? { kind: 'user', user: found.user, session: found.session } : ANONYMOUS;
  };
}

export interface CredentialDeps {
  store: Store;
  throttle: SignInThrottle;
  apiTokens: ApiTokenManager;
  /** How long a checked Basic credential is believed without hashing the password again. */
  basicCacheMs: number;
  now: Clock;
}

/**
 * Step 3 for proxied requests: the session cookie first; then an API token; then, only where the
 * rule allows it, HTTP Basic. Failed tokens and passwords count against the caller's address in
 * the sign-in throttle, so a script cannot guess faster than a person at the login form.
 */
export function createIdentifier(sessions: SessionManager, cookieName: string, deps: CredentialDeps) {
  const identifySession = createSessionIdentifier(sessions, cookieName);
  // Successful Basic checks, keyed by an HMAC of the credentials (so memory never holds a password).
  const basicKey = randomBytes(32);
  // Each entry remembers the password hash it was checked against: a changed password ends it at once.
  const basicChecked = new Map<string, { userId: string; username: string; passwordHash: string; until: number }>();

  const rejected = (scheme: 'Bearer' | 'Basic', retryAfterMs: number | null): Identity => ({ kind: 'rejected', scheme, retryAfterMs });

  async function bearer(token: string, ip: string, sideEffects: boolean): Promise<Identity> {
    if (!sideEffects) {
      // A probe: the token is looked up, nothing is counted, touched or audited.
      const found = await deps.apiTokens.verify(token, { touch: false });
      return found ? { kind: 'credential', user: found.user, method: 'token', credentialId: found.token.id } : rejected('Bearer', null);
    }
    // Optimistic: a valid token from an address without recent failures costs no counter lookup.
    const result = await deps.throttle.attempt('api_token', { ip }, async () => {
      const found = await deps.apiTokens.verify(token);
      return found ? passed(found) : failed('invalid_token');
    }, { optimistic: true });
    if (result.ok) return { kind: 'credential', user: result.value.user, method: 'token', credentialId: result.value.token.id };
    if (result.throttled) return rejected('Bearer', result.retryAfterMs);
    await deps.store.audit.record({ action: 'token.failure', ip, detail: { reason: result.failure } });
    return rejected('Bearer', null);
  }

  async function basic(encoded: string, ip: string): Promise<Identity> {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      const result = await deps.throttle.attempt('basic', { ip }, async () => failed('malformed'));
      if (!result.ok && !result.throttled) await deps.store.audit.record({ action: 'basic.failure', ip, detail: { reason: result.failure } });
      return rejected('Basic', result.ok || !result.throttled ? null : result.retryAfterMs);
    }
    const cacheKey = createHmac('sha256', basicKey).update(decoded).digest('base64url');
    const cached = basicChecked.get(cacheKey);
    if (cached && cached.until > deps.now()) {
      const current = await deps.store.users.findByUsername(cached.username);
      if (current && current.id === cached.userId && current.status === 'active' && current.passwordHash === cached.passwordHash) {
        const { passwordHash: _omit, ...user } = current;
        return { kind: 'credential', user, method: 'basic', credentialId: `basic:${user.id}` };
      }
    }
    basicChecked.delete(cacheKey);
    const result = await verifyCredentials({ store: deps.store, throttle: deps.throttle }, { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), ip, kind: 'basic' });
    if (!result.ok) return { kind: 'rejected', scheme: 'Basic', retryAfterMs: result.reason === 'throttled' ? result.retryAfterMs : null };
    if (deps.basicCacheMs > 0) {
      // Read after the check: a legacy hash may just have been upgraded to argon2id.
      const checked = await deps.store.users.findByUsername(result.user.username);
      if (checked?.passwordHash && checked.id === result.user.id) {
        if (basicChecked.size > 10_000) basicChecked.clear();
        basicChecked.set(cacheKey, { userId: checked.id, username: checked.username, passwordHash: checked.passwordHash, until: deps.now() + deps.basicCacheMs });
      }
    }
    return { kind: 'credential', user: result.user, method: 'basic', credentialId: `basic:${result.user.id}` };
  }

  return async function identify(req: IncomingMessage, options: IdentifyOptions = {}): Promise<Identity> {
    const sideEffects = options.sideEffects !== false;
    const fromCookie = await identifySession(req, sideEffects ? options : { touch: false });
    if (fromCookie.kind !== 'anonymous') return fromCookie;
    const authorization = parseAuthorization(req.headers.authorization);
    if (!authorization) return ANONYMOUS;
    const { scheme, value } = authorization;
    const ip = options.clientIp ?? req.socket.remoteAddress ?? '';
    if (scheme === 'bearer' && isApiTokenShaped(value)) return bearer(value, ip, sideEffects);
    // A password is checked once, when the request itself is judged: a probe would be a free guess.
    if (scheme === 'basic' && options.allowBasic) return sideEffects ? basic(value, ip) : ANONYMOUS;
    return ANONYMOUS;
  };
}

/** `<scheme> <value>` of an Authorization header (RFC 9110 §11.6.2: spaces or tabs between), scheme lower-cased. */
export function parseAuthorization(header: string | undefined): { scheme: string; value: string } | null {
  const match = header === undefined ? null : /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]+(.*)$/s.exec(header);
  return match ? { scheme: match[1]!.toLowerCase(), value: match[2]!.trim() } : null;
}

/**
 * Whether the app must not see this request's Authorization header: the gateway checked it; it
 * holds a Dashgate API token, which is never the app's business even when a session cookie
 * decided; or it is Basic on a rule that accepts Basic, where it is a Dashgate password whoever
 * decided (a browser resends Basic credentials to the same space after the user signs in with the
 * form, RFC 7617 §2.2).
 */
export function isGatewayCredential(header: string | undefined, identity: Identity, allowBasic = false): boolean {
  if (header === undefined) return false;
  if (identity.kind === 'credential' || identity.kind === 'rejected') return true;
  const authorization = parseAuthorization(header);
  if (!authorization) return false;
  if (authorization.scheme === 'basic') return allowBasic;
  return authorization.scheme === 'bearer' && isApiTokenShaped(authorization.value);
}
