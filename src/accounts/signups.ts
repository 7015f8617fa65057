import { canonicalUsername, usernameProblem } from '../auth/usernames.js';
import { passwordProblem } from '../auth/password-policy.js';
import type { User } from '../store/types.js';
import { recordAccountEvent, type Accounts, type Actor } from './accounts.js';
import { parseEmailAddress } from './email-address.js';
import { AccountError } from './errors.js';
import { insertAccount } from './users.js';

export interface SignUpRequest {
  username: string;
  email: string;
  password: string;
}

/**
 * Self-service sign-up (`signup.mode`), checked before the throttle counts the attempt: a valid
 * name, an address (in `allowedDomains` when given), a password the policy accepts. Whether the
 * name or address is free is decided by `signUp`, after the throttle.
 */
export async function checkSignUp(accounts: Accounts, input: SignUpRequest, allowedDomains: readonly string[] | null): Promise<{ username: string; email: string }> {
  const username = canonicalUsername(input.username);
  const problem = usernameProblem(username);
  if (problem) throw new AccountError('USERNAME_INVALID', problem);
  const parsed = parseEmailAddress(input.email.toLowerCase());
  if (!parsed) throw new AccountError('EMAIL_INVALID', 'Enter a valid email address.');
  if (allowedDomains && !allowedDomains.includes(parsed.domain)) throw new AccountError('EMAIL_DOMAIN_NOT_ALLOWED', `Sign-up is open to addresses at ${allowedDomains.join(', ')}.`);
  const weak = await passwordProblem(input.password, accounts.passwordPolicy, [username, accounts.appName, parsed.address]);
  if (weak) throw new AccountError('PASSWORD_REJECTED', weak);
  return { username, email: parsed.address };
}

/**
 * Creates the pending account (`signup.created`), or null when the address already has one: that
 * attempt is audited (`signup.refused`) and must be answered exactly like a new one, so the page
 * does not reveal who has an account. A taken username is USERNAME_TAKEN.
 */
export async function signUp(accounts: Accounts, input: SignUpRequest & { ip?: string | null }, detail: Record<string, unknown> = {}): Promise<User | null> {
  const { username, email } = await checkSignUp(accounts, input, null);
  const actor: Actor = { name: username, ip: input.ip ?? null };
  if (!(await accounts.store.users.findByUsername(username)) && (await accounts.store.users.findByEmail(email))) {
    await recordAccountEvent(accounts, actor, { action: 'signup.refused', detail: { reason: 'email_in_use' } });
    return null;
  }
  const user = await insertAccount(accounts, { username, email, password: input.password, status: 'pending' });
  await recordAccountEvent(accounts, actor, { action: 'signup.created', target: username, detail: { ...detail, email } });
  return user;
}

/**
 * The mailed link was followed (`signup.verified`). Without an approval step the account becomes
 * active (`signup.approved` by `auto`); returns whether it is active now.
 */
export async function confirmSignUpAddress(accounts: Accounts, user: User, options: { ip?: string | null; needsApproval: boolean; detail?: Record<string, unknown> }): Promise<boolean> {
  await recordAccountEvent(accounts, { name: user.username, ip: options.ip ?? null }, { action: 'signup.verified', target: user.username });
  if (user.status !== 'pending') return user.status === 'active';
  if (options.needsApproval) return false;
  await accounts.store.users.setStatus(user.id, 'active');
  accounts.forgetUser(user.id);
  await recordAccountEvent(accounts, { name: 'auto', ip: options.ip ?? null }, { action: 'signup.approved', target: user.username, ...(options.detail ? { detail: options.detail } : {}) });
  return true;
}

/** An administrator lets a pending sign-up in. */
export async function approveSignUp(accounts: Accounts, actor: Actor, user: User): Promise<void> {
  refuseDecided(user);
  await accounts.store.users.setStatus(user.id, 'active');
  accounts.forgetUser(user.id);
  await recordAccountEvent(accounts, actor, { action: 'signup.approved', target: user.username });
}

/** An administrator turns a pending sign-up down: the account is deleted. */
export async function rejectSignUp(accounts: Accounts, actor: Actor, user: User): Promise<void> {
  refuseDecided(user);
  await accounts.store.users.remove(user.id);
  accounts.forgetUser(user.id);
  await recordAccountEvent(accounts, actor, { action: 'signup.rejected', target: user.username });
}

function refuseDecided(user: User): void {
  if (user.status !== 'pending') throw new AccountError('SIGNUP_DECIDED', 'That sign-up was already decided.');
}
