import { SignJWT } from 'jose';
import type { Clock, User } from '../store/types.js';

export interface AppTokenOptions {
  /** Shared with the app only (`identity_jwt.app_secret_env`; `dashgate run` makes one per start). */
  secret: Uint8Array;
  issuer: string;
  audience: string;
  ttlMs: number;
  now: Clock;
}

/** Cache key of the token for requests without a signed-in user. */
const ANONYMOUS = '\u0000anonymous';

/**
 * `X-Dashgate-App-Token`: the identity again, as an HS256 JWT under a secret shared with the app.
 * The Python helper verifies it with the standard library alone (EdDSA needs PyJWT and
 * cryptography), so an app started by `dashgate run` can tell gateway traffic from a request
 * that reached its private port directly. Unlike X-Dashgate-Jwt it is sent for anonymous
 * requests too (no `sub`): "came through the gateway, nobody signed in". Signed once per
 * session (or once for all anonymous requests) and reused for half its lifetime.
 */
export function createAppTokenSigner(options: AppTokenOptions) {
  const cache = new Map<string, { token: string; renewAt: number; fingerprint: string }>();

  return async function appTokenFor(user: User | null, credential: { id: string; authMethod: string } | null): Promise<string> {
    const now = options.now();
    const key = user && credential ? credential.id : ANONYMOUS;
    const fingerprint = user ? `${user.id}\u0000${user.username}\u0000${user.email ?? ''}\u0000${user.displayName ?? ''}\u0000${user.groups.join(',')}` : '';
    const cached = cache.get(key);
    if (cached && cached.renewAt > now && cached.fingerprint === fingerprint) return cached.token;
    const issuedAt = Math.floor(now / 1000);
    const claims = user && credential
      ? { username: user.username, email: user.email, name: user.displayName ?? user.username, groups: [...user.groups], amr: credential.authMethod.split('+') }
      : {};
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(options.issuer)
      .setAudience(options.audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + Math.floor(options.ttlMs / 1000));
    if (user) jwt = jwt.setSubject(user.id);
    const token = await jwt.sign(options.secret);
    if (cache.size > 100_000) cache.clear();
    cache.set(key, { token, renewAt: now + options.ttlMs / 2, fingerprint });
    return token;
  };
}

export type AppTokenSigner = ReturnType<typeof createAppTokenSigner>;

/** Why a shared app secret cannot be used, or null: HS256 keys must carry at least 256 bits (RFC 7518 §3.2). */
export function appSecretProblem(secret: string): string | null {
  return Buffer.byteLength(secret) < 32 ? 'must be at least 32 characters (RFC 7518 §3.2: an HS256 key has at least 256 bits); generate one with: openssl rand -base64 32' : null;
}
