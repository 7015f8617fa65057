import { CredentialCache } from './credential-cache.js';
import { digestsEqual, generateToken, hashSecret, splitToken } from './tokens.js';
import { isStoreOutage } from '../store/outage.js';
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
  /**
   * While the store is unavailable, how long after its last check against the store (beyond
   * `cacheTtlMs`) a cached session is still let in (session.store_outage: grace). 0: refused
   * with STORE_UNAVAILABLE once its cache time is over (refuse, the default).
   */
  outageGraceMs?: number;
}

const MAX_CACHED = 100_000;

/**
 * Sessions, lucia-style: the token is `<id>.<secret>`, the store keeps SHA-256(secret), lookups
 * compare in constant time, and "no session" is `null`, never an exception. The credential cache
 * (credential-cache.ts, shared with API tokens) keeps proxied requests off the store: it is asked
 * at most once per `cacheTtlMs` per session, and last-seen is written at most once per
 * `touchIntervalMs`.
 */
export class SessionManager {
  private readonly cache: CredentialCache<SessionRecord>;
  private readonly listeners = new Set<(change: SessionChange, origin: 'here' | 'elsewhere') => void>();

  constructor(
    private readonly store: Store,
    private readonly settings: SessionSettings,
    private readonly now: Clock,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.cache = new CredentialCache<SessionRecord>({
      settings,
      maxEntries: MAX_CACHED,
      now,
      findRecord: (id) => store.sessions.findById(id),
      findUser: (id) => store.users.findById(id),
      activity: 'lastSeenAt',
    });
  }

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
    this.cache.remember(record, user, at);
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
    const entry = this.cache.fresh(parts.id, now) ?? (await this.loadOrLastKnown(parts.id, now));
    if (!entry) return null;
    if (!digestsEqual(entry.record.secretHash, hashSecret(parts.secret))) return null;
    const { record } = entry;
    if (now >= record.expiresAt || now - record.lastSeenAt >= this.settings.idleTimeoutMs) {
      // Over whatever the store says: deleting the row is housekeeping (the sweep does it too).
      await this.invalidateSession(record.id).catch((err: unknown) => {
        if (!isStoreOutage(err)) throw err;
      });
      return null;
    }
    if (options.touch !== false && this.cache.markUsed(entry, now)) this.store.sessions.touch(record.id, now).catch(this.onError);
    return { session: toSession(record), user: entry.user };
  }

  /**
   * The store's answer; while the store is unavailable and session.store_outage is grace, the
   * copy checked against the store within cache_ttl + outage_grace. A session ended or a user
   * changed that this process saw (here, or told over the change bus) has no copy left; one
   * revoked on another instance during the outage cannot be seen until the store is back.
   */
  private async loadOrLastKnown(id: string, now: number) {
    try {
      return await this.cache.load(id);
    } catch (err) {
      const graceMs = this.settings.outageGraceMs ?? 0;
      const known = graceMs > 0 && isStoreOutage(err) ? this.cache.lastKnown(id, now, this.settings.cacheTtlMs + graceMs) : undefined;
      if (!known) throw err;
      return known;
    }
  }

  /**
   * Tells `listener` about every session that ended here and every user whose sessions ended or
   * whose details changed (open WebSockets re-check at once instead of at their next interval).
   */
  onChange(listener: (change: SessionChange, origin: 'here' | 'elsewhere') => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A change another gateway process made (told over the change bus): this process's copies go
   * at once and its listeners (open WebSockets) re-check; the store already holds the change.
   */
  applyChange(change: SessionChange): void {
    if ('sessionId' in change) this.cache.invalidate(change.sessionId);
    else this.cache.forgetUser(change.userId);
    this.notify(change, 'elsewhere');
  }

  private notify(change: SessionChange, origin: 'here' | 'elsewhere' = 'here'): void {
    for (const listener of this.listeners) listener(change, origin);
  }

  /** Ends one session everywhere: store and cache. */
  async invalidateSession(id: string): Promise<void> {
    this.cache.invalidate(id);
    try {
      await this.store.sessions.delete(id);
    } finally {
      // Also when the store could not be told (it is down): this process's copy and open sockets go.
      this.cache.invalidate(id);
      this.notify({ sessionId: id });
    }
  }

  /** Ends every session of a user (password change, disable, delete), optionally keeping the current one. */
  async invalidateUserSessions(userId: string, exceptId?: string): Promise<number> {
    const ids = await this.store.sessions.deleteForUser(userId, exceptId);
    for (const id of ids) this.cache.invalidate(id);
    // Also sessions another instance already deleted; the kept one re-reads the user at its next use.
    this.cache.forgetUser(userId);
    this.notify({ userId });
    return ids.length;
  }

  /** Forgets cached copies of a user's sessions so the next request re-reads the user (groups, status). */
  forgetUser(userId: string): void {
    this.cache.forgetUser(userId);
    this.notify({ userId });
  }

  /** Forgets every cached session: the next use of each reads the store (changes made elsewhere may have been missed). */
  forgetAll(): void {
    this.cache.clear();
  }

  /** Deletes expired and idle sessions from the store. */
  async sweepExpired(): Promise<number> {
    const now = this.now();
    return this.store.sessions.deleteExpired(now, now - this.settings.idleTimeoutMs);
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
