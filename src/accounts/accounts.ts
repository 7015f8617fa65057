import type { PasswordPolicy } from '../auth/password-policy.js';
import type { Store } from '../store/store.js';
import type { AuditEvent, Clock } from '../store/types.js';

/**
 * Who asked for an account change, as the audit log names them: an administrator's or the
 * user's own username, `cli` for the shell, `sso:<provider>` for single sign-on, `auto` for the
 * gateway's own decisions. `ip` is the caller's address when there is one.
 */
export interface Actor {
  name: string;
  ip?: string | null;
}

export const CLI_ACTOR: Actor = Object.freeze({ name: 'cli', ip: null });

/**
 * What every account operation works with. The console, the shell, single sign-on and the
 * invitation and sign-up pages all change accounts through the functions of this folder, each
 * handed one of these: the rules (the admins group follows the administrator role, the last
 * active administrator stays, sessions end when an account is disabled, deleted or its password
 * changes) then hold whichever way a change comes in.
 */
export interface Accounts {
  readonly store: Store;
  readonly now: Clock;
  readonly passwordPolicy: PasswordPolicy;
  /** Words a password must not be, beside the user's own (NIST SP 800-63B: context-specific words). */
  readonly appName: string;
  /** Ends a user's sessions at once, optionally keeping one; resolves to how many ended. */
  endSessions(userId: string, exceptSessionId?: string): Promise<number>;
  /** Cached copies of a user (sessions, API tokens, factors) re-read the user on their next use. */
  forgetUser(userId: string): void;
}

export interface AccountsOptions {
  store: Store;
  now?: Clock;
  passwordPolicy: PasswordPolicy;
  appName: string;
  /** The gateway's session manager; without it (the shell) sessions end in the store and running gateways notice within session.cache_ttl. */
  sessions?: { invalidateUserSessions(userId: string, exceptId?: string): Promise<number> };
  /** Everything that caches a user. */
  caches?: ReadonlyArray<{ forgetUser(userId: string): void }>;
}

export function createAccounts(options: AccountsOptions): Accounts {
  const { store, sessions, caches = [] } = options;
  return {
    store,
    now: options.now ?? Date.now,
    passwordPolicy: options.passwordPolicy,
    appName: options.appName,
    endSessions: sessions
      ? (userId, exceptId) => sessions.invalidateUserSessions(userId, exceptId)
      : async (userId, exceptId) => (await store.sessions.deleteForUser(userId, exceptId)).length,
    forgetUser(userId) {
      for (const cache of caches) cache.forgetUser(userId);
    },
  };
}

/** One audit entry for an account event, by `actor`. */
export function recordAccountEvent(accounts: Accounts, actor: Actor, event: Omit<AuditEvent, 'actor' | 'ip'>): Promise<void> {
  return accounts.store.audit.record({ ...event, actor: actor.name, ip: actor.ip ?? null });
}
