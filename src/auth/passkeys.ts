import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../store/types.js';

/**
 * A WebAuthn ceremony's challenge, carried between the options request and the answer in an
 * HMAC-sealed cookie: `<purpose>.<challenge>.<userId or ->.<expiry>.<mac>`. Stateless (any
 * instance can finish a ceremony another started), bound to its purpose and user, five minutes.
 */
export class CeremonySeal {
  static readonly TTL_MS = 5 * 60_000;
  constructor(
    private readonly key: Buffer,
    private readonly now: Clock,
  ) {}

  seal(purpose: 'register' | 'login', challenge: string, userId: string | null): string {
    const payload = `${purpose}.${challenge}.${userId ?? '-'}.${this.now() + CeremonySeal.TTL_MS}`;
    return `${payload}.${this.mac(payload)}`;
  }

  open(value: string | undefined, purpose: 'register' | 'login'): { challenge: string; userId: string | null } | null {
    const match = /^(register|login)\.([A-Za-z0-9_-]{16,128})\.([0-9a-f-]{36}|-)\.(\d{13})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
    if (!match) return null;
    const [, kind, challenge, user, expiry, mac] = match as unknown as [string, string, string, string, string, string];
    const expected = Buffer.from(this.mac(`${kind}.${challenge}.${user}.${expiry}`));
    if (!timingSafeEqual(expected, Buffer.from(mac)) || kind !== purpose || Number(expiry) <= this.now()) return null;
    return { challenge, userId: user === '-' ? null : user };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(`webauthn:${payload}`).digest('base64url');
  }
}
