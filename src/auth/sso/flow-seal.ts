import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../store/types.js';

/** What the browser carries between "go to the provider" and "back from the provider". */
export interface FlowState {
  provider: string;
  state: string;
  nonce: string;
  /** PKCE code verifier: secret, so the cookie is encrypted, not only signed. */
  verifier: string;
  next: string;
}

/**
 * Seals a sign-in flow into a cookie value with AES-256-GCM: unreadable (the PKCE verifier stays
 * secret) and unforgeable; it expires after TTL_MS. Being in the browser that started the flow
 * is what binds the provider's answer to it (the `state` check), with no server-side table.
 */
export class FlowSeal {
  static readonly TTL_MS = 10 * 60_000;
  private readonly key: Buffer;

  constructor(
    key: Buffer,
    private readonly now: Clock,
  ) {
    this.key = createHash('sha256').update('dashgate-sso-flow:').update(key).digest();
  }

  seal(flow: FlowState): string {
    return this.encrypt({ kind: 'flow', ...flow });
  }

  /** The ID token carried across the second sign-in step (for RP-initiated logout later). Null when too big for a cookie. */
  sealIdToken(provider: string, idToken: string, userId: string): string | null {
    const value = this.encrypt({ kind: 'id_token', provider, idToken, userId });
    return value.length <= 3800 ? value : null;
  }

  openIdToken(value: string | undefined): { provider: string; idToken: string; userId: string } | null {
    const parsed = this.decrypt(value);
    return parsed?.kind === 'id_token' && typeof parsed.provider === 'string' && typeof parsed.idToken === 'string' && typeof parsed.userId === 'string'
      ? { provider: parsed.provider, idToken: parsed.idToken, userId: parsed.userId }
      : null;
  }

  private encrypt(payload: Record<string, unknown>): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify({ ...payload, exp: this.now() + FlowSeal.TTL_MS }), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The flow inside a valid, unexpired value, or null. */
  open(value: string | undefined): FlowState | null {
    const parsed = this.decrypt(value);
    if (parsed?.kind !== 'flow') return null;
    const { provider, state, nonce, verifier, next } = parsed as unknown as FlowState;
    return [provider, state, nonce, verifier, next].every((v) => typeof v === 'string') ? { provider, state, nonce, verifier, next } : null;
  }

  private decrypt(value: string | undefined): Record<string, unknown> | null {
    if (!value || value.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(value)) return null;
    const raw = Buffer.from(value, 'base64url');
    if (raw.length < 29) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const parsed = JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as Record<string, unknown>;
      return typeof parsed.exp === 'number' && parsed.exp > this.now() ? parsed : null;
    } catch {
      return null;
    }
  }
}
