import { createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { EncryptJWT, jwtDecrypt, type JWTPayload } from 'jose';
import type { Store } from '../store/store.js';
import type { Clock } from '../store/types.js';

/**
 * What a short-lived browser token is for. Each purpose has its own key (derived from one) and
 * is named in the token's `typ` and `aud`, so a token made for one is refused for every other:
 * a CSRF form token is never a second-step challenge, a login ceremony never a registration.
 */
export type SealPurpose = 'mfa-challenge' | 'passkey-register' | 'passkey-login' | 'sso-flow' | 'sso-id-token' | 'csrf-form';

/** Keys used as HMAC keys rather than for sealing, derived from the same secret. */
export type MacPurpose = 'csrf-session';

const SETTINGS_KEY = 'sealed_token_key';
const MAX_TOKEN_LENGTH = 4096;

/**
 * One sealed-token format for every short-lived token the gateway hands a browser (second-step
 * challenge, passkey ceremony, SSO flow and carried ID token, CSRF form tokens): a JWE
 * (`dir` + A256GCM, jose's EncryptJWT) with iat/exp from the injected clock, so it is unreadable
 * (the PKCE verifier inside stays secret) and unforgeable, and any instance can open what another
 * sealed: no server-side table. There were four formats, each with its own key and code.
 */
export class TokenSealer {
  private readonly keys = new Map<string, KeyObject>();

  constructor(
    private readonly secret: Buffer,
    private readonly now: Clock,
  ) {
    if (secret.length < 32) throw new TypeError('secret must be at least 32 bytes');
  }

  /** The sealer with the store's secret (made at first start; every instance reads the same one). */
  static async load(store: Store, now: Clock): Promise<TokenSealer> {
    const secret = await store.settings.getOrInsert(SETTINGS_KEY, randomBytes(32).toString('base64url'));
    return new TokenSealer(Buffer.from(secret, 'base64url'), now);
  }

  /** Seals `claims` for `purpose`, valid for `ttlMs` by the injected clock. */
  seal(purpose: SealPurpose, claims: Record<string, unknown>, ttlMs: number): Promise<string> {
    const issuedAt = Math.floor(this.now() / 1000);
    return new EncryptJWT(claims)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: typeOf(purpose) })
      .setAudience(purpose)
      .setIssuedAt(issuedAt)
      .setExpirationTime(Math.floor((this.now() + ttlMs) / 1000))
      .encrypt(this.key(`seal:${purpose}`));
  }

  /** The claims inside a token sealed for `purpose` that has not expired, or null for anything else. */
  async open(purpose: SealPurpose, token: unknown): Promise<JWTPayload | null> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
    try {
      const { payload } = await jwtDecrypt(token, this.key(`seal:${purpose}`), {
        audience: purpose,
        typ: typeOf(purpose),
        currentDate: new Date(this.now()),
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        requiredClaims: ['exp', 'iat'],
      });
      return payload;
    } catch {
      return null;
    }
  }

  /** A 32-byte key for an HMAC, derived for `purpose` from the same secret. */
  macKey(purpose: MacPurpose): KeyObject {
    return this.key(`mac:${purpose}`);
  }

  private key(info: string): KeyObject {
    let key = this.keys.get(info);
    if (!key) {
      // RFC 5869 HKDF: independent keys per purpose from one secret.
      key = createSecretKey(Buffer.from(hkdfSync('sha256', this.secret, 'dashgate sealed tokens', info, 32)));
      this.keys.set(info, key);
    }
    return key;
  }
}

function typeOf(purpose: SealPurpose): string {
  return `dashgate-${purpose}+jwt`;
}
