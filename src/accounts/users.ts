import { canonicalUsername, usernameProblem } from '../auth/usernames.js';
import type { Store } from '../store/store.js';
import type { NewUser, User, UserStatus } from '../store/types.js';
import { recordAccountEvent, type Accounts, type Actor } from './accounts.js';
import { parseEmailAddress } from './email-address.js';
import { AccountError } from './errors.js';
import { checkGroupsForRole, groupsForRole } from './groups.js';
import { hashAcceptablePassword } from './passwords.js';

/**
 * Whether this user is the only active administrator. Such a user cannot be disabled, demoted or
 * deleted, from the shell or the console: nobody could administer the gateway afterwards.
 */
export async function isLastActiveAdmin(store: Store, userId: string): Promise<boolean> {
  const admins = (await store.users.list()).filter((u) => u.isAdmin && u.status === 'active');
  return admins.length === 1 && admins[0]!.id === userId;
}

async function refuseLastActiveAdmin(accounts: Accounts, user: User): Promise<void> {
  if (await isLastActiveAdmin(accounts.store, user.id)) throw new AccountError('LAST_ACTIVE_ADMIN', 'This is the last active administrator. Make another user an administrator first.');
}

/** The canonical form of a username that is valid and free, or USERNAME_INVALID / USERNAME_TAKEN. */
export async function checkNewUsername(accounts: Accounts, raw: string): Promise<string> {
  const username = canonicalUsername(raw);
  const problem = usernameProblem(username);
  if (problem) throw new AccountError('USERNAME_INVALID', problem);
  if (await accounts.store.users.findByUsername(username)) throw new AccountError('USERNAME_TAKEN', `That username is taken: an account named "${username}" already exists.`);
  return username;
}

/** A valid address no account has yet (compared case-insensitively), null for none, or EMAIL_INVALID / EMAIL_TAKEN. */
export async function checkNewEmail(accounts: Accounts, raw: string | null | undefined): Promise<string | null> {
  if (raw === null || raw === undefined || raw.trim() === '') return null;
  const parsed = parseEmailAddress(raw);
  if (!parsed) throw new AccountError('EMAIL_INVALID', `"${raw.trim()}" is not an email address.`);
  if (await accounts.store.users.findByEmail(parsed.address)) throw new AccountError('EMAIL_TAKEN', `An account with ${parsed.address} already exists.`);
  return parsed.address;
}

export interface NewAccount {
  username: string;
  email?: string | null;
  displayName?: string | null;
  /** A password to check against the policy and hash; null or absent: none (single sign-on, API tokens only). */
  password?: string | null;
  isAdmin?: boolean;
  groups?: readonly string[];
  status?: UserStatus;
}

/**
 * Checks and stores a new account without an audit entry: the flow that creates it (the shell,
 * an invitation, the setup link, a sign-up, single sign-on) records its own event.
 */
export async function insertAccount(
  accounts: Accounts,
  input: NewAccount & {
    passwordHash?: string | null;
    /** Runs after every check, just before the insert (an invitation is spent here); false refuses with LINK_UNUSABLE. */
    beforeInsert?: (username: string) => Promise<boolean>;
  },
): Promise<User> {
  const isAdmin = input.isAdmin === true;
  const groups = input.groups ?? [];
  checkGroupsForRole(groups, isAdmin);
  const username = await checkNewUsername(accounts, input.username);
  const email = await checkNewEmail(accounts, input.email);
  const passwordHash = input.password ? await hashAcceptablePassword(accounts, input.password, { username, email }) : (input.passwordHash ?? null);
  const record: NewUser = { username, email, displayName: input.displayName ?? null, passwordHash, isAdmin, groups: groupsForRole(groups, isAdmin), status: input.status ?? 'active' };
  if (input.beforeInsert && !(await input.beforeInsert(username))) throw new AccountError('LINK_UNUSABLE', 'The link was already used, was withdrawn, or has expired.');
  try {
    return await accounts.store.users.create(record);
  } catch (err) {
    // Another request created the name or the address between the check and the insert.
    if (await accounts.store.users.findByUsername(username)) throw new AccountError('USERNAME_TAKEN', `That username is taken: an account named "${username}" already exists.`);
    throw err;
  }
}

/** Creates an account (`user.created`): the shell's `users add`, single sign-on's first sign-in. */
export async function createUser(accounts: Accounts, actor: Actor, input: NewAccount, detail: Record<string, unknown> = {}): Promise<User> {
  const user = await insertAccount(accounts, input);
  await recordAccountEvent(accounts, actor, { action: 'user.created', target: user.username, detail: { groups: user.groups, admin: user.isAdmin, ...detail } });
  return user;
}

/**
 * Accounts from another tool's password file (`user.imported`, one entry for the batch). Hashes
 * arrive made (htpasswd bcrypt, rehashed to argon2id at first sign-in); existing names are left
 * unchanged and reported.
 */
export async function importUsers(accounts: Accounts, actor: Actor, entries: ReadonlyArray<{ username: string; passwordHash: string }>, groups: readonly string[], detail: Record<string, unknown> = {}): Promise<{ created: number; skipped: string[] }> {
  checkGroupsForRole(groups, false);
  const skipped: string[] = [];
  let created = 0;
  for (const entry of entries) {
    try {
      await insertAccount(accounts, { username: entry.username, passwordHash: entry.passwordHash, groups });
      created++;
    } catch (err) {
      if (!(err instanceof AccountError) || err.code !== 'USERNAME_TAKEN') throw err;
      skipped.push(`${canonicalUsername(entry.username)}: already exists, left unchanged`);
    }
  }
  await recordAccountEvent(accounts, actor, { action: 'user.imported', detail: { ...detail, created, skipped: skipped.length } });
  return { created, skipped };
}

/** Disables (ending every session) or re-enables an account; the last active administrator stays enabled. */
export async function setUserStatus(accounts: Accounts, actor: Actor, user: User, status: 'active' | 'disabled'): Promise<number> {
  if (status === 'disabled') await refuseLastActiveAdmin(accounts, user);
  await accounts.store.users.setStatus(user.id, status);
  // After the write: a cached read in flight from before it is not trusted (auth/credential-cache.ts).
  const ended = status === 'disabled' ? await accounts.endSessions(user.id) : 0;
  accounts.forgetUser(user.id);
  await recordAccountEvent(accounts, actor, { action: status === 'disabled' ? 'user.disabled' : 'user.enabled', target: user.username, ...(ended ? { detail: { sessions_ended: ended } } : {}) });
  return ended;
}

/** Grants or revokes the administrator role, and with it the admins group; the last active administrator keeps it. */
export async function setAdministrator(accounts: Accounts, actor: Actor, user: User, isAdmin: boolean): Promise<void> {
  if (!isAdmin) await refuseLastActiveAdmin(accounts, user);
  await accounts.store.users.setAdmin(user.id, isAdmin);
  await accounts.store.users.setGroups(user.id, groupsForRole(user.groups, isAdmin));
  accounts.forgetUser(user.id);
  await recordAccountEvent(accounts, actor, { action: isAdmin ? 'user.admin_granted' : 'user.admin_revoked', target: user.username });
}

/** Deletes an account, its sessions first; the last active administrator stays. */
export async function deleteUser(accounts: Accounts, actor: Actor, user: User): Promise<void> {
  await refuseLastActiveAdmin(accounts, user);
  await accounts.endSessions(user.id);
  await accounts.store.users.remove(user.id);
  accounts.forgetUser(user.id);
  await recordAccountEvent(accounts, actor, { action: 'user.deleted', target: user.username });
}

/** Name and email as an identity provider last asserted them; an address another account has is not taken over. */
export async function updateProfile(accounts: Accounts, user: User, profile: { displayName: string | null; email: string | null }): Promise<void> {
  if (profile.displayName === user.displayName && profile.email === user.email) return;
  const owner = profile.email ? await accounts.store.users.findByEmail(profile.email) : null;
  await accounts.store.users.setProfile(user.id, { displayName: profile.displayName, email: owner && owner.id !== user.id ? user.email : profile.email });
  accounts.forgetUser(user.id);
}

/** Removes every second factor of a user (an administrator's reset): they sign in with the password alone and can enrol again. */
export async function resetSecondFactors(accounts: Accounts, actor: Actor, user: User): Promise<void> {
  await accounts.store.factors.removeAll(user.id);
  accounts.forgetUser(user.id);
  await recordAccountEvent(accounts, actor, { action: 'mfa.reset', target: user.username });
}
