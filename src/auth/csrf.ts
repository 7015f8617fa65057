import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** How long a sign-in form stays valid. */
const FORM_TOKEN_TTL_MS = 2 * 3_600_000;

/**
 * CSRF defence for every state-changing form of the gateway (ASVS 5.0 V3.5): the browser's own
 * signals (Origin, Sec-Fetch-Site) must not name another site, and the form must carry a token
 * the gateway signed. Tokens are stateless HMACs, so any instance can check them and a client
 * needs nothing but the hidden field it was given.
 *
 * - signed-in forms: HMAC(key, "session:" + session id), so a token only works for its session;
 * - forms used before sign-in: "<issued-at>.<nonce>.<HMAC>", valid for two hours.
 */
export class CsrfGuard {
  constructor(
    private readonly key: Buffer,
    private readonly now: () => number,
  ) {}

  tokenForSession(sessionId: string): string {
    return this.mac(`session:${sessionId}`);
  }

  tokenForForm(): string {
    const body = `${this.now()}.${randomBytes(9).toString('base64url')}`;
    return `${body}.${this.mac(`form:${body}`)}`;
  }

  verifySessionToken(token: unknown, sessionId: string): boolean {
    return typeof token === 'string' && safeEqual(token, this.tokenForSession(sessionId));
  }

  verifyFormToken(token: unknown): boolean {
    if (typeof token !== 'string') return false;
    const parts = token.split('.');
    if (parts.length !== 3) return false;
    const issuedAt = Number(parts[0]);
    const age = this.now() - issuedAt;
    if (!Number.isSafeInteger(issuedAt) || age < 0 || age > FORM_TOKEN_TTL_MS) return false;
    return safeEqual(parts[2]!, this.mac(`form:${parts[0]}.${parts[1]}`));
  }

  private mac(message: string): string {
    return createHmac('sha256', this.key).update(message).digest('base64url');
  }
}

/**
 * False when the browser says the request comes from another site. Requests without these
 * headers (curl, old browsers) fall back on the token alone. `Origin: null` is what a browser
 * sends from a sandboxed frame, but also for its own same-origin form posts when a no-referrer
 * policy is in force (a privacy setting or extension); it is accepted only when Sec-Fetch-Site
 * vouches for the same origin.
 */
export function isSameOriginRequest(req: IncomingMessage, expectedOrigin: string): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  if (origin === 'null') return site === 'same-origin';
  return origin === undefined || origin === expectedOrigin;
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
