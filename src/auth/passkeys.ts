import type { TokenSealer } from './sealed-token.js';

/**
 * A WebAuthn ceremony's challenge, carried between the options request and the answer in a
 * sealed cookie (sealed-token.ts, purpose `passkey-register` or `passkey-login`). Stateless (any
 * instance can finish a ceremony another started), bound to its purpose and user, five minutes.
 */
export class CeremonySeal {
  static readonly TTL_MS = 5 * 60_000;
  constructor(private readonly sealer: TokenSealer) {}

  seal(purpose: 'register' | 'login', challenge: string, userId: string | null): Promise<string> {
    return this.sealer.seal(`passkey-${purpose}`, { chl: challenge, sub: userId }, CeremonySeal.TTL_MS);
  }

  async open(value: string | undefined, purpose: 'register' | 'login'): Promise<{ challenge: string; userId: string | null } | null> {
    const claims = await this.sealer.open(`passkey-${purpose}`, value);
    if (typeof claims?.chl !== 'string' || (claims.sub !== null && typeof claims.sub !== 'string')) return null;
    return { challenge: claims.chl, userId: claims.sub ?? null };
  }
}
