import { createInvite } from '../auth/links.js';
import { createSetupToken } from '../auth/setup-link.js';
import type { Invite, User } from '../store/types.js';
import { recordAccountEvent, type Accounts, type Actor } from './accounts.js';
import { AccountError } from './errors.js';
import { ADMINS_GROUP, checkGroupsForRole, groupsForRole } from './groups.js';
import { checkNewEmail, insertAccount } from './users.js';

const UNUSABLE = 'The link was already used, was withdrawn, or has expired.';

/**
 * An invitation link (`invite.created`): for one address or anyone with the link, with groups
 * and optionally the administrator role. "admins" among the groups of an invitation that is not
 * an administrator's is refused, as everywhere: the console kept it in the form and the
 * invitation page created the user with it.
 */
export async function inviteUser(
  accounts: Accounts,
  actor: Actor,
  input: { email: string | null; groups: readonly string[]; isAdmin: boolean; ttlMs: number },
): Promise<{ token: string; invite: Invite }> {
  const email = await checkNewEmail(accounts, input.email);
  checkGroupsForRole(input.groups, input.isAdmin);
  // Stored without "admins": the role decides it when the invitation is used.
  const groups = groupsForRole(input.groups, false);
  const created = await createInvite(accounts.store, accounts.now, { email, groups, isAdmin: input.isAdmin, createdBy: actor.name, ttlMs: input.ttlMs });
  await recordAccountEvent(accounts, actor, { action: 'invite.created', target: email, detail: { id: created.invite.id, groups, admin: input.isAdmin, expires_at: created.invite.expiresAt } });
  return created;
}

/** Withdraws an open invitation, or INVITE_NOT_FOUND when it was used, revoked or expired already. */
export async function revokeInvite(accounts: Accounts, actor: Actor, id: string): Promise<void> {
  if (!(await accounts.store.invites.revoke(id, accounts.now()))) throw new AccountError('INVITE_NOT_FOUND', 'That invitation was already used, revoked or expired.');
  await recordAccountEvent(accounts, actor, { action: 'invite.revoked', detail: { id } });
}

/**
 * The invitee's account (`invite.used`), signed up with the name and password they chose. The
 * link is spent by a conditional update only once everything else checked out, so a refused
 * form leaves it usable and two simultaneous posts cannot both create an account. Its groups
 * follow the invitation's role, also for invitations stored before "admins" was refused in them.
 */
export async function acceptInvite(accounts: Accounts, invite: Invite, input: { username: string; password: string; ip?: string | null }): Promise<User> {
  if (invite.email && (await accounts.store.users.findByEmail(invite.email))) {
    throw new AccountError('EMAIL_TAKEN', 'An account with this email address already exists. Sign in, or reset its password.');
  }
  const groups = groupsForRole(invite.groups, invite.isAdmin);
  return spend(accounts, invite, input, { email: invite.email, isAdmin: invite.isAdmin, groups }, (user) => ({
    action: 'invite.used',
    detail: { invite: invite.id, invited_by: invite.createdBy, groups: user.groups, admin: user.isAdmin },
  }));
}

/** The first administrator (`setup.admin_created`), from the one-time setup link. */
export async function createFirstAdmin(accounts: Accounts, invite: Invite, input: { username: string; email: string | null; password: string; ip?: string | null }): Promise<User> {
  if (invite.purpose !== 'setup') throw new AccountError('LINK_UNUSABLE', UNUSABLE);
  return spend(accounts, invite, input, { email: input.email, isAdmin: true, groups: [ADMINS_GROUP] }, () => ({ action: 'setup.admin_created' }));
}

/** A new setup link; any older one stops working. Only while there is no user at all. */
export function issueSetupLink(accounts: Accounts): Promise<string> {
  return createSetupToken(accounts.store, accounts.now);
}

async function spend(
  accounts: Accounts,
  invite: Invite,
  input: { username: string; password: string; ip?: string | null },
  account: { email: string | null; isAdmin: boolean; groups: readonly string[] },
  event: (user: User) => { action: 'invite.used' | 'setup.admin_created'; detail?: Record<string, unknown> },
): Promise<User> {
  // Every check first; the link is spent between the checks and the insert.
  const user = await insertAccount(accounts, {
    username: input.username,
    email: account.email,
    password: input.password,
    isAdmin: account.isAdmin,
    groups: account.groups,
    beforeInsert: (username) => accounts.store.invites.consume(invite.id, username, accounts.now()),
  });
  await recordAccountEvent(accounts, { name: user.username, ip: input.ip ?? null }, { target: user.username, ...event(user) });
  return user;
}
