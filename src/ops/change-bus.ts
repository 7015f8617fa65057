import type { SessionChange } from '../auth/sessions.js';

/**
 * What one gateway process tells the others when a credential ends or a user changes: a
 * session ended (sign-out, revocation) or a user's sessions, tokens, groups or factors changed.
 * Each process keeps short-lived caches (session.cache_ttl) and the store stays the source of
 * truth; the bus only makes the others drop their copies at once instead of when they expire.
 * Carried between the worker processes of one gateway (server.workers, over cluster IPC) and,
 * with Redis, between instances.
 */
export interface ChangeBus {
  publish(change: SessionChange): void;
  /** Changes published by other processes (never this one's own). */
  subscribe(listener: (change: SessionChange) => void): void;
  close(): Promise<void>;
}

/** One process alone: nothing to tell anyone. */
export function createLocalBus(): ChangeBus {
  return { publish() {}, subscribe() {}, close: async () => {} };
}

/** A valid change message from another process, or null. */
export function readChange(value: unknown): SessionChange | null {
  if (typeof value !== 'object' || value === null) return null;
  const { sessionId, userId } = value as { sessionId?: unknown; userId?: unknown };
  if (typeof sessionId === 'string' && sessionId.length > 0 && sessionId.length < 200) return { sessionId };
  if (typeof userId === 'string' && userId.length > 0 && userId.length < 200) return { userId };
  return null;
}
