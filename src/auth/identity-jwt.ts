import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { Store } from '../store/store.js';
import type { Clock, User } from '../store/types.js';
import type { Session } from './sessions.js';

const SETTINGS_KEY = 'identity_jwt_keys';
/** A retired key stays published this long, so apps that cached the JWKS keep verifying. */
const RETIRED_KEY_LIFETIME_MS = 24 * 3_600_000;
const ALGORITHM = 'EdDSA';

interface StoredKey {
  kid: string;
  createdAt: number;
  retiredAt: number | null;
  privateJwk: JWK;
  publicJwk: JWK;
}

export interface IdentityTokenOptions {
  issuer: string;
  audience: string;
  ttlMs: number;
  now: Clock;
}

/**
 * The signed identity handed to the app in `X-Dashgate-Jwt`: a short-lived EdDSA (Ed25519) JWT
 * with iss/aud/sub/iat/exp and the user's name, email, display name and groups. Keys are made at
 * first start and kept in the store (every instance signs with the same key); the public halves
 * are published at `/_dashgate/.well-known/jwks.json`. A token is signed once per session and
 * reused until half its life has passed or the user's details change, so signing stays off the
 * per-request path.
 */
export class IdentityTokenIssuer {
  private signingKey!: { kid: string; key: CryptoKey };
  private published: JWK[] = [];
  private readonly cache = new Map<string, { token: string; renewAt: number; fingerprint: string }>();

  private constructor(
    private readonly store: Store,
    private readonly options: IdentityTokenOptions,
  ) {}

  static async load(store: Store, options: IdentityTokenOptions): Promise<IdentityTokenIssuer> {
    const issuer = new IdentityTokenIssuer(store, options);
    await issuer.reload();
    return issuer;
  }

  /** Re-reads the keys from the store (after `dashgate keys rotate` in another process). */
  async reload(): Promise<void> {
    let keys = await readKeys(this.store);
    if (keys.length === 0) {
      // getOrInsert: when two instances start at once, both end up with the first one's key.
      await this.store.settings.getOrInsert(SETTINGS_KEY, JSON.stringify([await newKey(this.options.now())]));
      keys = await readKeys(this.store);
    }
    const active = keys.filter((k) => k.retiredAt === null).at(-1) ?? keys.at(-1)!;
    if (this.signingKey?.kid !== active.kid) {
      this.signingKey = { kid: active.kid, key: (await importJWK(active.privateJwk, ALGORITHM)) as CryptoKey };
      this.cache.clear();
    }
    const now = this.options.now();
    this.published = keys.filter((k) => k.retiredAt === null || now - k.retiredAt < RETIRED_KEY_LIFETIME_MS).map((k) => k.publicJwk);
  }

  /** The JWKS document: public keys only. */
  jwks(): { keys: JWK[] } {
    return { keys: this.published };
  }

  /** `session` is the browser session, or for API tokens and Basic a stand-in with the credential's id. */
  async tokenFor(user: User, session: Pick<Session, 'id' | 'authMethod'>): Promise<string> {
    const now = this.options.now();
    const fingerprint = `${user.username}\u0000${user.email ?? ''}\u0000${user.displayName ?? ''}\u0000${user.groups.join(',')}`;
    const cached = this.cache.get(session.id);
    if (cached && cached.renewAt > now && cached.fingerprint === fingerprint) return cached.token;
    const issuedAt = Math.floor(now / 1000);
    const expiresAt = issuedAt + Math.floor(this.options.ttlMs / 1000);
    const token = await new SignJWT({
      username: user.username,
      email: user.email,
      name: user.displayName ?? user.username,
      groups: [...user.groups],
      amr: session.authMethod.split('+'),
    })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.signingKey.kid, typ: 'JWT' })
      .setIssuer(this.options.issuer)
      .setAudience(this.options.audience)
      .setSubject(user.id)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(randomUUID())
      .sign(this.signingKey.key);
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(session.id, { token, renewAt: now + this.options.ttlMs / 2, fingerprint });
    return token;
  }
}

/**
 * Adds a new signing key and retires the current one. The retired key stays in the JWKS for a
 * day, so tokens already issued, and apps that cached the key set, keep verifying.
 */
export async function rotateIdentityKeys(store: Store, now: Clock): Promise<string> {
  const keys = await readKeys(store);
  const at = now();
  const kept = keys
    .map((k) => (k.retiredAt === null ? { ...k, retiredAt: at } : k))
    .filter((k) => k.retiredAt === null || at - k.retiredAt < RETIRED_KEY_LIFETIME_MS);
  const fresh = await newKey(at);
  await store.settings.set(SETTINGS_KEY, JSON.stringify([...kept, fresh]));
  return fresh.kid;
}

async function readKeys(store: Store): Promise<StoredKey[]> {
  const raw = await store.settings.get(SETTINGS_KEY);
  return raw ? (JSON.parse(raw) as StoredKey[]) : [];
}

async function newKey(createdAt: number): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { crv: 'Ed25519', extractable: true });
  const kid = `${new Date(createdAt).toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALGORITHM, use: 'sig' };
  return { kid, createdAt, retiredAt: null, privateJwk: await exportJWK(privateKey), publicJwk };
}
