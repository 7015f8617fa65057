import { CredentialCache } from './credential-cache.js';
import { digestsEqual, generateToken, hashSecret, splitToken, type SplitToken } from './tokens.js';
import type { Store } from '../store/store.js';
import type { ApiTokenRecord, Clock, User } from '../store/types.js';

/**
 * Every API token starts with this. A fixed, rare prefix lets secret scanners spot a leaked token
 * in a repository or a log, and lets the gateway tell its own Bearer tokens from the app's (the
 * habit of GitHub's `ghp_` and Slack's `xoxp-` tokens).
 */
export const API_TOKEN_PREFIX = 'dgt_';

/**
 * Whether a Bearer value claims to be a Dashgate API token. Only the prefix is checked: anything
 * that starts with it is the gateway's to judge (and never the app's to see), well-formed or not.
 */
export function isApiTokenShaped(value: string | undefined | null): value is string {
  return typeof value === 'string' && value.startsWith(API_TOKEN_PREFIX);
}

/** An API token as the rest of the gateway sees it: never the secret, nor its hash. */
export interface ApiToken {
  id: string;
  userId: string;
  username: string;
  name: string;
  createdAt: number;
  /** null: never expires. */
  expiresAt: number | null;
  /** null: never used. */
  lastUsedAt: number | null;
  createdBy: string | null;
}

export interface ValidApiToken {
  user: User;
  token: ApiToken;
}

export interface ApiTokenSettings {
  /** How long a verified token is answered from memory before the store is asked again. */
  cacheTtlMs: number;
  /** Minimum time between two last-used writes of one token. */
  touchIntervalMs: number;
}

export interface NewApiToken {
  name: string;
  /** Milliseconds since the epoch, in the future; null for a token that never expires. */
  expiresAt: number | null;
  /** Who asked for it: a username, or "cli". */
  createdBy: string | null;
}

const MAX_NAME_LENGTH = 100;

/** Why a token name cannot be used, or null. Names are shown in tables and logs: no control characters. */
export function apiTokenNameProblem(name: string): string | null {
  if (name.trim().length === 0 || name.length > MAX_NAME_LENGTH) return `Token names are 1 to ${MAX_NAME_LENGTH} characters long.`;
  if (/\p{Cc}/u.test(name)) return 'Token names may not contain control characters.';
  return null;
}

const MAX_CACHED = 10_000;

/**
 * Personal API tokens for scripts: `dgt_<id>.<secret>`, sent as `Authorization: Bearer`. Built
 * like SessionManager: the store keeps SHA-256(secret) only, verification compares in constant
 * time and answers `null` for every kind of "no". The same credential cache as sessions
 * (credential-cache.ts) keeps a script's burst of requests off the store: the store is asked at
 * most once per `cacheTtlMs` per token (so a token revoked on another instance, or a user
 * disabled there, still works here for up to that long), and last-used is written at most once
 * per `touchIntervalMs`. Failed guesses are throttled by the caller, which knows the client's address.
 */
export class ApiTokenManager {
  private readonly cache: CredentialCache<ApiTokenRecord>;

  constructor(
    private readonly store: Store,
    settings: ApiTokenSettings,
    private readonly now: Clock,
    /** Receives failed last-used writes; verification never fails because of one. */
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.cache = new CredentialCache<ApiTokenRecord>({
      settings,
      maxEntries: MAX_CACHED,
      now,
      findRecord: (id) => store.apiTokens.findById(id),
      findUser: (id) => store.users.findById(id),
      activity: 'lastUsedAt',
    });
  }

  /**
   * Issues a token for `user`. The returned `token` string is the only copy of the secret there
   * will ever be: show it once, never log or store it.
   */
  async create(user: User, options: NewApiToken): Promise<{ token: string; record: ApiToken }> {
    const problem = apiTokenNameProblem(options.name);
    if (problem) throw new TypeError(`name: ${problem}`);
    const at = this.now();
    if (options.expiresAt !== null && !(Number.isSafeInteger(options.expiresAt) && options.expiresAt > at)) {
      throw new TypeError('expiresAt must be null or a time (ms since the epoch) in the future');
    }
    let generated = generateToken();
    // The id is typed on command lines (`dashgate tokens revoke <id>`), where a leading "-" would
    // read as an option. Ids are not secret; skipping 1 in 64 of them costs nothing.
    while (generated.id.startsWith('-')) generated = generateToken();
    const { token, id, secret } = generated;
    const record: ApiTokenRecord = {
      id,
      secretHash: hashSecret(secret),
      userId: user.id,
      name: options.name,
      createdAt: at,
      expiresAt: options.expiresAt,
      lastUsedAt: null,
      createdBy: options.createdBy,
    };
    await this.store.apiTokens.insert(record);
    return { token: `${API_TOKEN_PREFIX}${token}`, record: toApiToken(record, user.username) };
  }

  /** The token and its user, or null when the value is malformed, unknown, wrong, expired, or its user is not active. */
  async verify(token: string | undefined | null, options: { touch?: boolean } = {}): Promise<ValidApiToken | null> {
    const parts = parseApiToken(token);
    if (!parts) return null;
    const now = this.now();
    const entry = this.cache.fresh(parts.id, now) ?? (await this.cache.load(parts.id));
    if (!entry) return null;
    if (!digestsEqual(entry.record.secretHash, hashSecret(parts.secret))) return null;
    const { record, user } = entry;
    if (record.expiresAt !== null && now >= record.expiresAt) return null;
    if (options.touch !== false && this.cache.markUsed(entry, now)) this.store.apiTokens.touch(record.id, now).catch(this.onError);
    return { user, token: toApiToken(record, user.username) };
  }

  /**
   * Deletes a token, at once on this instance. With `userId`, only if that user owns it (the
   * account page must not let one user revoke another's token by guessing ids). Returns the
   * revoked token, or null when there was none to revoke.
   */
  async revoke(id: string, options: { userId?: string } = {}): Promise<ApiToken | null> {
    const record = await this.store.apiTokens.findById(id);
    if (!record || (options.userId !== undefined && record.userId !== options.userId)) return null;
    const deleted = await this.store.apiTokens.delete(id);
    // After the delete: a check that read the row just before it is read again, not cached.
    this.cache.invalidate(id);
    if (!deleted) return null;
    this.onRevoked?.(record.userId);
    const owner = await this.store.users.findById(record.userId);
    return toApiToken(record, owner?.username ?? '');
  }

  /** One user's tokens (newest first), or everyone's (by username); never a secret or a hash. */
  async list(userId?: string): Promise<ApiToken[]> {
    let listed: Array<ApiTokenRecord & { username: string }>;
    if (userId === undefined) {
      listed = await this.store.apiTokens.listAll();
    } else {
      const user = await this.store.users.findById(userId);
      listed = user ? (await this.store.apiTokens.listForUser(userId)).map((r) => ({ ...r, username: user.username })) : [];
    }
    return listed.map((r) => {
      // This instance may have seen a use it has not written yet.
      const seen = this.cache.peek(r.id)?.record.lastUsedAt ?? null;
      const lastUsedAt = seen !== null && (r.lastUsedAt === null || seen > r.lastUsedAt) ? seen : r.lastUsedAt;
      return toApiToken({ ...r, lastUsedAt }, r.username);
    });
  }

  /** Told the owner of every token revoked here (other gateway processes drop their cached copies). */
  onRevoked: ((userId: string) => void) | null = null;

  /** Forgets cached tokens of a user so the next request re-reads the user (disabled, groups changed). */
  forgetUser(userId: string): void {
    this.cache.forgetUser(userId);
  }

  /** Forgets every cached token (changes made elsewhere may have been missed). */
  forgetAll(): void {
    this.cache.clear();
  }
}

/** `dgt_<id>.<secret>` → its halves; anything else is null. */
function parseApiToken(token: string | undefined | null): SplitToken | null {
  return isApiTokenShaped(token) ? splitToken(token.slice(API_TOKEN_PREFIX.length)) : null;
}

function toApiToken(record: ApiTokenRecord, username: string): ApiToken {
  return {
    id: record.id,
    userId: record.userId,
    username,
    name: record.name,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    lastUsedAt: record.lastUsedAt,
    createdBy: record.createdBy,
  };
}
