import { groupNameProblem } from '../store/groups.js';
import type { User } from '../store/types.js';
import { recordAccountEvent, type Accounts, type Actor } from './accounts.js';
import { AccountError } from './errors.js';

/**
 * The group that follows the administrator role: exactly the administrators are in it, so the
 * app's `X-Forwarded-Groups: admins` means what the console means. No group operation gives or
 * takes it, from the console, the shell, an invitation or a provider: `dashgate groups grant
 * admins bob` left bob in "admins" without the role. The role is changed as a role
 * (`setAdministrator`: the console's user page, `dashgate users grant-admin|revoke-admin`) and the
 * group follows.
 */
export const ADMINS_GROUP = 'admins';

const FOLLOWS_ROLE = `Membership of ${ADMINS_GROUP} follows the administrator role: make the user an administrator instead (the user's page in the console, or dashgate users grant-admin).`;

/** `groups` as they must be stored for a user with this role: "admins" exactly when an administrator. */
export function groupsForRole(groups: readonly string[], isAdmin: boolean): string[] {
  const others = groups.filter((g) => g !== ADMINS_GROUP);
  return [...new Set(isAdmin ? [...others, ADMINS_GROUP] : others)].sort();
}

/** Throws GROUP_NAME_INVALID for the first name that cannot travel in X-Forwarded-Groups. */
export function checkGroupNames(groups: readonly string[]): void {
  for (const group of groups) {
    const problem = groupNameProblem(group);
    if (problem) throw new AccountError('GROUP_NAME_INVALID', problem);
  }
}

/** Valid names, and "admins" only for someone who is (or is becoming) an administrator. */
export function checkGroupsForRole(groups: readonly string[], isAdmin: boolean): void {
  checkGroupNames(groups);
  if (!isAdmin && groups.includes(ADMINS_GROUP)) throw new AccountError('ADMINS_GROUP_FOLLOWS_ROLE', FOLLOWS_ROLE);
}

function refuseAdminsGroup(group: string): void {
  if (group === ADMINS_GROUP) throw new AccountError('ADMINS_GROUP_FOLLOWS_ROLE', FOLLOWS_ROLE);
}

/** Replaces a user's groups (the console's group field). "admins" stays exactly as the role says. */
export async function setUserGroups(accounts: Accounts, actor: Actor, user: User, groups: readonly string[]): Promise<string[]> {
  checkGroupsForRole(groups, user.isAdmin);
  const kept = groupsForRole(groups, user.isAdmin);
  await accounts.store.users.setGroups(user.id, kept);
  accounts.forgetUser(user.id);
  await recordAccountEvent(accounts, actor, { action: 'user.groups_set', target: user.username, detail: { from: user.groups, to: kept } });
  return kept;
}

/**
 * The groups a provider manages, applied at sign-in (no audit entry: the provider decided, and
 * `login.success` records the sign-in). "admins" is neither given nor taken here.
 */
export async function applyProviderGroups(accounts: Accounts, user: User, groups: readonly string[]): Promise<void> {
  checkGroupNames(groups);
  await accounts.store.users.setGroups(user.id, groupsForRole(groups, user.isAdmin));
  accounts.forgetUser(user.id);
}

/** Adds a user to a group, creating the group if needed; false when they were in it already. */
export async function addToGroup(accounts: Accounts, actor: Actor, group: string, user: User): Promise<boolean> {
  checkGroupNames([group]);
  refuseAdminsGroup(group);
  const changed = await accounts.store.groups.addMember(group, user.id);
  if (changed) {
    accounts.forgetUser(user.id);
    await recordAccountEvent(accounts, actor, { action: 'group.grant', target: user.username, detail: { group } });
  }
  return changed;
}

/** Takes a user out of a group; false when they were not in it. */
export async function removeFromGroup(accounts: Accounts, actor: Actor, group: string, user: User): Promise<boolean> {
  refuseAdminsGroup(group);
  const changed = await accounts.store.groups.removeMember(group, user.id);
  if (changed) {
    accounts.forgetUser(user.id);
    await recordAccountEvent(accounts, actor, { action: 'group.revoke', target: user.username, detail: { group } });
  }
  return changed;
}

export async function createGroup(accounts: Accounts, actor: Actor, name: string): Promise<void> {
  checkGroupNames([name]);
  if (!(await accounts.store.groups.create(name))) throw new AccountError('GROUP_EXISTS', `Group “${name}” already exists.`);
  await recordAccountEvent(accounts, actor, { action: 'group.created', target: name });
}

export async function renameGroup(accounts: Accounts, actor: Actor, from: string, to: string): Promise<void> {
  if (from === ADMINS_GROUP) throw new AccountError('GROUP_PROTECTED', `The ${ADMINS_GROUP} group keeps its name.`);
  refuseAdminsGroup(to);
  checkGroupNames([to]);
  const members = await accounts.store.groups.members(from);
  if (members === null || !(await accounts.store.groups.rename(from, to))) {
    throw new AccountError(members === null ? 'GROUP_NOT_FOUND' : 'GROUP_EXISTS', `Cannot rename “${from}” to “${to}”: it does not exist, or the new name is taken.`);
  }
  await forgetMembers(accounts, members);
  await recordAccountEvent(accounts, actor, { action: 'group.renamed', target: to, detail: { from } });
}

/** Deletes a group; its members stay, without it. */
export async function deleteGroup(accounts: Accounts, actor: Actor, name: string): Promise<void> {
  if (name === ADMINS_GROUP) throw new AccountError('GROUP_PROTECTED', `The ${ADMINS_GROUP} group cannot be deleted.`);
  const members = await accounts.store.groups.members(name);
  if (members === null || !(await accounts.store.groups.remove(name))) throw new AccountError('GROUP_NOT_FOUND', `No group “${name}”.`);
  await forgetMembers(accounts, members);
  await recordAccountEvent(accounts, actor, { action: 'group.removed', target: name });
}

async function forgetMembers(accounts: Accounts, usernames: readonly string[]): Promise<void> {
  for (const name of usernames) {
    const user = await accounts.store.users.findByUsername(name);
    if (user) accounts.forgetUser(user.id);
  }
}
