import { createResetToken } from '../auth/links.js';
import { hashPassword } from '../auth/passwords.js';
import { passwordProblem } from '../auth/password-policy.js';
import type { User } from '../store/types.js';
import { recordAccountEvent, type Accounts, type Actor } from './accounts.js';
import { AccountError } from './errors.js';

/**
 * The argon2id hash of a password the policy accepts for this user, or PASSWORD_REJECTED. The
 * user's name and address and the app's name are refused as passwords (NIST SP 800-63B §3.1.1.2).
 */
export async function hashAcceptablePassword(accounts: Accounts, password: string, user: { username: string; email?: string | null }): Promise<string> {
  const problem = await passwordProblem(password, accounts.passwordPolicy, [user.username, accounts.appName, user.email ?? '']);
  if (problem) throw new AccountError('PASSWORD_REJECTED', problem);
  return hashPassword(password);
}

/**
 * Sets a new password and ends the user's sessions (ASVS 5.0 V7.4.3), all of them or all but
 * the one the user is changing it from. `password.changed` for a change by the user or the
 * shell; `password.reset` when a reset link was spent for it.
 */
export async function setPassword(
  accounts: Accounts,
  actor: Actor,
  user: User,
  password: string,
  options: { keepSessionId?: string; via?: 'change' | 'reset_link'; beforeWrite?: () => Promise<boolean> } = {},
): Promise<number> {
  const passwordHash = await hashAcceptablePassword(accounts, password, user);
  // A reset link is spent only once the new password is known to be acceptable, and only once.
  if (options.beforeWrite && !(await options.beforeWrite())) throw new AccountError('LINK_UNUSABLE', 'The link was already used.');
  await accounts.store.users.setPasswordHash(user.id, passwordHash);
  const ended = await accounts.endSessions(user.id, options.keepSessionId);
  accounts.forgetUser(user.id);
  await recordAccountEvent(accounts, actor, { action: options.via === 'reset_link' ? 'password.reset' : 'password.changed', target: user.username, detail: { sessions_ended: ended } });
  return ended;
}

/** A single-use, 30-minute reset link token for an active account, audited; the caller passes it on or mails it. */
export async function createPasswordResetLink(accounts: Accounts, actor: Actor, user: User, detail: Record<string, unknown> = {}): Promise<{ token: string; expiresAt: number }> {
  if (user.status !== 'active') throw new AccountError('USER_INACTIVE', `"${user.username}" is ${user.status}; enable the account first.`);
  const link = await createResetToken(accounts.store, accounts.now, user);
  await recordAccountEvent(accounts, actor, { action: 'password.reset_link', target: user.username, ...(Object.keys(detail).length ? { detail } : {}) });
  return link;
}
