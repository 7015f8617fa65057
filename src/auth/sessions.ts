import { digestsEqual, generateToken, hashSecret, splitToken } from './tokens.js';
import type { Store } from '../store/store.js';
import type { Clock, SessionRecord, User } from '../store/types.js';

/** A signed-in session as the rest of the gateway sees it. */
export interface Session {
  id: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  lastSeenAt: number;
  authMethod: string;
}

/** A session that ended, or a user whose sessions ended or changed. */
export type SessionChange = { sessionId: string } | { userId: string };

export interface ValidSession {
  session: Session;
  user: User;
}

export interface SessionSettings {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  /** How long a validated session is answered from memory before the store is asked again. */
  cacheTtlMs: number;
  /** Minimum time between two last-seen writes of one session. */
  touchIntervalMs: number;
}

interface CacheEntry {
  record: SessionRecord;
  user: User;
  validatedAt: number;
  lastWrittenAt: number;
}

const MAX_CACHED = 100_000;

/**
 * Sessions, lucia-style: the token is `<id>.<secret>`, the store keeps SHA-256(secret), lookups
 * compare in constant time, and "no session" is `null`, never an exception. A memory cache keeps
 * proxied requests off the store: the store is asked at most once per `cacheTtlMs` per session,
 * and last-seen is written at most once per `touchIntervalMs`.
 */
export class SessionManager {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly loading = new Map<string, Promise<CacheEntry | null>>();
  /** Bumped by every invalidation; a store read that started before one is not cached (or trusted). */
  private generation = 0;
  private readonly listeners = new Set<(change: SessionChange) => void>();

  constructor(
    private readonly store: Store,
    private readonly settings: SessionSettings,
    private readonly now: Clock,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Creates a session for a user who has just proven who they are. A new id every sign-in (no fixation). */
  async createSession(user: User, meta: { ip: string | null; userAgent: string | null; authMethod: string }): Promise<{ token: string; session: Session }> {
    const { token, id, secret } = generateToken();
    const at = this.now();
    const record: SessionRecord = {
      id,
      secretHash: hashSecret(secret),
      userId: user.id,
      createdAt: at,
      lastSeenAt: at,
      expiresAt: at + this.settings.absoluteTimeoutMs,
      ip: meta.ip,
      userAgent: meta.userAgent === null ? null : meta.userAgent.slice(0, 512),
      authMethod: meta.authMethod,
    };
    await this.store.sessions.insert(record);
    this.remember({ record, user, validatedAt: at, lastWrittenAt: at });
    return { token, session: toSession(record) };
  }

  /**
   * The session and user behind a cookie value, or null when it is missing, wrong, expired or its
   * user is not active. `touch: false` checks without counting as activity (an open WebSocket
   * re-checking its session must not keep an idle user signed in forever).
   */
  async validateSessionToken(token: string | undefined, options: { touch?: boolean } = {}): Promise<ValidSession | null> {
    if (!token) return null;
    const parts = splitToken(token);
    if (!parts) return null;
    const now = this.now();
    let entry = this.cache.get(parts.id);
    if (!entry || now - entry.validatedAt >= this.settings.cacheTtlMs) entry = (await this.load(parts.id)) ?? undefined;
    if (!entry) return null;
    if (!digestsEqual(entry.record.secretHash, hashSecret(parts.secret))) return null;
    const { record } = entry;
    if (now >= record.expiresAt || now - record.lastSeenAt >= this.settings.idleTimeoutMs) {
      await this.invalidateSession(record.id);
      return null;
    }
    if (options.touch === false) return { session: toSession(record), user: entry.user };
    record.lastSeenAt = now;
    if (now - entry.lastWrittenAt >= this.settings.touchIntervalMs) {
      entry.lastWrittenAt = now;
      this.store.sessions.touch(record.id, now).catch(this.onError);
    }
    return { session: toSession(record), user: entry.user };
  }

  /**
   * Tells `listener` about every session that ended here and every user whose sessions ended or
   * whose details changed (open WebSockets re-check at once instead of at their next interval).
   */
  onChange(listener: (change: SessionChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(change: SessionChange): void {
    for (const listener of this.listeners) listener(change);
  }

  /** Ends one session everywhere: store and cache. */
  async invalidateSession(id: string): Promise<void> {
    this.generation++;
    this.cache.delete(id);
    await this.store.sessions.delete(id);
    this.cache.delete(id);
    this.notify({ sessionId: id });
  }

  /** Ends every session of a user (password change, disable, delete), optionally keeping the current one. */
  async invalidateUserSessions(userId: string, exceptId?: string): Promise<number> {
    this.generation++;
    const ids = await this.store.sessions.deleteForUser(userId, exceptId);
    for (const id of ids) this.cache.delete(id);
    for (const [id, entry] of this.cache) if (entry.user.id === userId && id !== exceptId) this.cache.delete(id);
    this.notify({ userId });
    return ids.length;
  }

  /** Forgets cached copies of a user's sessions so the next request re-reads the user (groups, status). */
  forgetUser(userId: string): void {
    this.generation++;
    for (const [id, entry] of this.cache) if (entry.user.id === userId) this.cache.delete(id);
    this.notify({ userId });
  }

  /** Deletes expired and idle sessions from the store. */
  async sweepExpired(): Promise<number> {
    const now = this.now();
    return this.store.sessions.deleteExpired(now, now - this.settings.idleTimeoutMs);
  }

  private load(id: string): Promise<CacheEntry | null> {
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.loadFromStore(id).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  private async loadFromStore(id: string, attempt = 0): Promise<CacheEntry | null> {
    const generation = this.generation;
    const record = await this.store.sessions.findById(id);
    const user = record ? await this.store.users.findById(record.userId) : null;
    if (!record || !user || user.status !== 'active') {
      this.cache.delete(id);
      return null;
    }
    const previous = this.cache.get(id);
    // Memory may have seen more recent activity than the throttled store copy.
    if (previous && previous.record.lastSeenAt > record.lastSeenAt) record.lastSeenAt = previous.record.lastSeenAt;
    const entry = { record, user, validatedAt: this.now(), lastWrittenAt: previous?.lastWrittenAt ?? record.lastSeenAt };
    // Something was invalidated while this read was in flight (perhaps this very session): read
    // again rather than cache or trust a copy from before the invalidation.
    if (generation !== this.generation) return attempt < 3 ? this.loadFromStore(id, attempt + 1) : null;
    this.remember(entry);
    return entry;
  }

  private remember(entry: CacheEntry): void {
    this.cache.delete(entry.record.id);
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(entry.record.id, entry);
  }
}

function toSession(record: SessionRecord): Session {
  return {
    id: record.id,
    userId: record.userId,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    lastSeenAt: record.lastSeenAt,
    authMethod: record.authMethod,
  };
}
