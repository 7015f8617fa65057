import type { AuditAction } from '../accounts/audit-actions.js';

/** Domain objects handed around the gateway; rows (schema.ts) stay inside the store. */
export type UserStatus = 'active' | 'disabled' | 'pending';

export interface User {
  id: string;
  username: string;
  displayName: string | null;
  email: string | null;
  isAdmin: boolean;
  status: UserStatus;
  groups: readonly string[];
  createdAt: number;
}

/** A user together with the stored password hash; only the sign-in path needs this. */
export interface UserWithCredentials extends User {
  passwordHash: string | null;
}

export interface NewUser {
  username: string;
  displayName?: string | null;
  email?: string | null;
  passwordHash?: string | null;
  isAdmin?: boolean;
  groups?: readonly string[];
  /** Default active; self-service sign-ups start pending. */
  status?: UserStatus;
}

export interface SessionRecord {
  id: string;
  secretHash: string;
  userId: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  ip: string | null;
  userAgent: string | null;
  authMethod: string;
}

/** A personal API token as stored: the SHA-256 of its secret, never the secret. */
export interface ApiTokenRecord {
  id: string;
  secretHash: string;
  userId: string;
  name: string;
  createdAt: number;
  /** null: never expires. */
  expiresAt: number | null;
  /** null: never used. Written at most once per touch interval, so it may lag a little. */
  lastUsedAt: number | null;
  /** Who created it (a username, or "cli"). */
  createdBy: string | null;
}

export interface Invite {
  id: string;
  tokenHash: string;
  purpose: 'setup' | 'invite';
  email: string | null;
  groups: readonly string[];
  isAdmin: boolean;
  createdBy: string | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  usedBy: string | null;
}

export interface EmailToken {
  id: string;
  tokenHash: string;
  purpose: 'reset' | 'verify';
  userId: string;
  email: string | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

/** What happened, as written: only the names of accounts/audit-actions.ts. */
export interface AuditEvent {
  action: AuditAction;
  actor?: string | null;
  target?: string | null;
  ip?: string | null;
  detail?: Record<string, unknown>;
}

/** What the log holds: `action` as recorded, which may be a name an older version wrote. */
export interface AuditEntry {
  id: number;
  at: number;
  action: string;
  actor: string | null;
  target: string | null;
  ip: string | null;
  detail: Record<string, unknown> | null;
}

export interface ThrottleState {
  failures: number;
  firstFailureAt: number;
  lastFailureAt: number;
}

/** The clock every time-dependent part reads; tests inject their own. */
export type Clock = () => number;
