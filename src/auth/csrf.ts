import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TokenSealer } from './sealed-token.js';

/** How long a sign-in form stays valid. */
const FORM_TOKEN_TTL_MS = 2 * 3_600_000;

/**
 * CSRF defence for every state-changing form of the gateway (ASVS 5.0 V3.5): the browser's own
 * signals (Origin, Sec-Fetch-Site) must not name another site, and the form must carry a token
 * the gateway made. Tokens are stateless, so any instance can check them and a client needs
 * nothing but the hidden field it was given.
 *
 * - signed-in forms: HMAC(key, "session:" + session id), so a token only works for its session;
 * - forms used before sign-in: a sealed token (sealed-token.ts, purpose `csrf-form`), two hours.
 */
export class CsrfGuard {
  private readonly sessionKey;

  constructor(private readonly sealer: TokenSealer) {
    this.sessionKey = sealer.macKey('csrf-session');
  }

  tokenForSession(sessionId: string): string {
    return createHmac('sha256', this.sessionKey).update(`session:${sessionId}`).digest('base64url');
  }

  tokenForForm(): Promise<string> {
    return this.sealer.seal('csrf-form', {}, FORM_TOKEN_TTL_MS);
  }

  verifySessionToken(token: unknown, sessionId: string): boolean {
    return typeof token === 'string' && safeEqual(token, this.tokenForSession(sessionId));
  }

  async verifyFormToken(token: unknown): Promise<boolean> {
    return (await this.sealer.open('csrf-form', token)) !== null;
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
