import type { Clock, User } from '../store/types.js';

/** A credential as checked against the store, with its user as they were then. */
export interface CachedCredential<R> {
  record: R;
  user: User;
  validatedAt: number;
  /** When the last activity write went to the store. */
  lastWrittenAt: number;
}

/** The record fields that hold a credential's last activity (a session's last seen, a token's last use). */
type ActivityField<R> = { [K in keyof R]: R[K] extends number | null ? K : never }[keyof R];

export interface CredentialCacheOptions<R> {
  settings: {
    /** How long a checked credential is answered from memory before the store is asked again. */
    cacheTtlMs: number;
    /** Minimum time between two activity writes of one credential. */
    touchIntervalMs: number;
  };
  maxEntries: number;
  now: Clock;
  findRecord(id: string): Promise<R | null>;
  findUser(id: string): Promise<User | null>;
  activity: ActivityField<R>;
}

/**
 * The memory in front of the store for credentials checked on every request: sessions and API
 * tokens. The store is asked at most once per `ttlMs` per credential (simultaneous checks share
 * one read), activity is written at most once per `touchIntervalMs`, and a read that was in
 * flight while the credential or its user was invalidated is read again rather than cached or
 * trusted: a user disabled a moment after a check started does not come back from that check.
 * A fresh hit is one Map lookup and a clock comparison.
 */
export class CredentialCache<R extends { id: string; userId: string }> {
  private readonly entries = new Map<string, CachedCredential<R>>();
  private readonly loading = new Map<string, Promise<CachedCredential<R> | null>>();
  /** Bumped by every invalidation; a store read that started before one is read again. */
  private generation = 0;

  constructor(private readonly options: CredentialCacheOptions<R>) {}

  /** The entry when it was checked within the TTL, else undefined (call `load`). */
  fresh(id: string, now: number): CachedCredential<R> | undefined {
    const entry = this.entries.get(id);
    return entry !== undefined && now - entry.validatedAt < this.options.settings.cacheTtlMs ? entry : undefined;
  }

  /**
   * The entry when it was checked against the store less than `maxAgeMs` ago, else undefined: what
   * a caller may fall back on while the store cannot be asked. An invalidated credential (ended,
   * revoked, its user changed) is never here: invalidation removes it.
   */
  lastKnown(id: string, now: number, maxAgeMs: number): CachedCredential<R> | undefined {
    const entry = this.entries.get(id);
    return entry !== undefined && now - entry.validatedAt < maxAgeMs ? entry : undefined;
  }

  /** The cached entry, however old (for activity this instance saw but has not written). */
  peek(id: string): CachedCredential<R> | undefined {
    return this.entries.get(id);
  }

  /** Reads the credential from the store (one read for simultaneous callers) and caches it; null when it is not usable. */
  load(id: string): Promise<CachedCredential<R> | null> {
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.read(id).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  /** Caches a credential just created (no store read needed). */
  remember(record: R, user: User, at: number): void {
    this.store({ record, user, validatedAt: at, lastWrittenAt: at });
  }

  /** Records a use at `now`; true when the store should hear of it too (at most once per touch interval). */
  markUsed(entry: CachedCredential<R>, now: number): boolean {
    this.setActivity(entry.record, now);
    if (now - entry.lastWrittenAt < this.options.settings.touchIntervalMs) return false;
    entry.lastWrittenAt = now;
    return true;
  }

  /** Forgets one credential; a read in flight is not trusted. Call after the store changed. */
  invalidate(id: string): void {
    this.generation++;
    this.entries.delete(id);
  }

  /** Forgets a user's credentials, so the next use re-reads the user (disabled, groups changed). */
  forgetUser(userId: string): void {
    this.generation++;
    for (const [id, entry] of this.entries) if (entry.user.id === userId) this.entries.delete(id);
  }

  /** Forgets every credential (this process may have missed changes made elsewhere: Redis was unreachable). */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  private async read(id: string, attempt = 0): Promise<CachedCredential<R> | null> {
    const generation = this.generation;
    const found = await this.readWithActiveUser(id);
    // Something was invalidated while this read was in flight (perhaps this very credential, or
    // its user): read again rather than cache or trust a copy from before the invalidation.
    if (generation !== this.generation) return attempt < 3 ? this.read(id, attempt + 1) : null;
    if (!found) {
      this.entries.delete(id);
      return null;
    }
    const previous = this.entries.get(id);
    const stored = this.activityOf(found.record);
    // Memory may have seen more recent activity than the throttled store copy.
    const seen = previous ? this.activityOf(previous.record) : null;
    if (seen !== null && (stored === null || seen > stored)) this.setActivity(found.record, seen);
    const entry: CachedCredential<R> = { record: found.record, user: found.user, validatedAt: this.options.now(), lastWrittenAt: previous?.lastWrittenAt ?? stored ?? -Infinity };
    this.store(entry);
    return entry;
  }

  /** The record and its user, or null when either is gone or the user is not active. */
  private async readWithActiveUser(id: string): Promise<{ record: R; user: User } | null> {
    const record = await this.options.findRecord(id);
    const user = record ? await this.options.findUser(record.userId) : null;
    return record && user && user.status === 'active' ? { record, user } : null;
  }

  private activityOf(record: R): number | null {
    return record[this.options.activity] as number | null;
  }

  private setActivity(record: R, at: number): void {
    (record[this.options.activity] as number | null) = at;
  }

  private store(entry: CachedCredential<R>): void {
    this.entries.delete(entry.record.id);
    if (this.entries.size >= this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(entry.record.id, entry);
  }
}
