import type { TokenSealer } from '../sealed-token.js';

/** What the browser carries between "go to the provider" and "back from the provider". */
export interface FlowState {
  provider: string;
  state: string;
  nonce: string;
  /** PKCE code verifier: secret, so the cookie is encrypted, not only signed. */
  verifier: string;
  next: string;
}

/** Above this a cookie may not be stored (RFC 6265 §6.1 asks browsers for at least 4096 bytes with the name). */
const MAX_COOKIE_VALUE = 3800;

/**
 * Seals a sign-in flow into a cookie value (sealed-token.ts, purpose `sso-flow`): unreadable
 * (the PKCE verifier stays secret) and unforgeable; it expires after TTL_MS. Being in the browser
 * that started the flow is what binds the provider's answer to it (the `state` check), with no
 * server-side table.
 */
export class FlowSeal {
  static readonly TTL_MS = 10 * 60_000;

  constructor(private readonly sealer: TokenSealer) {}

  seal(flow: FlowState): Promise<string> {
    return this.sealer.seal('sso-flow', { ...flow }, FlowSeal.TTL_MS);
  }

  /** The flow inside a valid, unexpired value, or null. */
  async open(value: string | undefined): Promise<FlowState | null> {
    const claims = await this.sealer.open('sso-flow', value);
    if (!claims) return null;
    const { provider, state, nonce, verifier, next } = claims as Record<string, unknown>;
    return typeof provider === 'string' && typeof state === 'string' && typeof nonce === 'string' && typeof verifier === 'string' && typeof next === 'string' ? { provider, state, nonce, verifier, next } : null;
  }

  /** The ID token carried across the second sign-in step (for RP-initiated logout later), sealed (`sso-id-token`). Null when too big for a cookie. */
  async sealIdToken(provider: string, idToken: string, userId: string): Promise<string | null> {
    const value = await this.sealer.seal('sso-id-token', { provider, idToken, sub: userId }, FlowSeal.TTL_MS);
    return value.length <= MAX_COOKIE_VALUE ? value : null;
  }

  async openIdToken(value: string | undefined): Promise<{ provider: string; idToken: string; userId: string } | null> {
    const claims = await this.sealer.open('sso-id-token', value);
    return typeof claims?.provider === 'string' && typeof claims.idToken === 'string' && typeof claims.sub === 'string' ? { provider: claims.provider, idToken: claims.idToken, userId: claims.sub } : null;
  }
}
