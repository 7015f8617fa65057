import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { Clock } from './types.js';

export interface GroupSummary {
  name: string;
  members: number;
  createdAt: number;
}

/** Groups and memberships by name (users.setGroups replaces a user's whole set). */
export class GroupRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: Clock,
  ) {}

  /** Creates a group; false when it already exists. */
  async create(name: string): Promise<boolean> {
    const result = await this.db
      .insertInto('groups')
      .values({ id: randomUUID(), name, created_at: this.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Deletes a group and its memberships; false when there was none. */
  async remove(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('groups').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Renames a group (memberships follow); false when `from` is missing or `to` exists. */
  async rename(from: string, to: string): Promise<boolean> {
    if (await this.db.selectFrom('groups').select('id').where('name', '=', to).executeTakeFirst()) return false;
    const result = await this.db.updateTable('groups').set({ name: to }).where('name', '=', from).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async list(): Promise<GroupSummary[]> {
    const rows = await this.db
      .selectFrom('groups')
      .leftJoin('user_groups', 'user_groups.group_id', 'groups.id')
      .select((eb) => ['groups.name', 'groups.created_at', eb.fn.count<number>('user_groups.user_id').as('members')])
      .groupBy(['groups.id', 'groups.name', 'groups.created_at'])
      .execute();
    return rows.map((r) => ({ name: r.name, members: Number(r.members), createdAt: r.created_at })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Usernames in a group, sorted; null when the group does not exist. */
  async members(name: string): Promise<string[] | null> {
    const group = await this.db.selectFrom('groups').select('id').where('name', '=', name).executeTakeFirst();
    if (!group) return null;
    const rows = await this.db.selectFrom('user_groups').innerJoin('users', 'users.id', 'user_groups.user_id').select('users.username').where('user_groups.group_id', '=', group.id).execute();
    return rows.map((r) => r.username).sort();
  }

  /** Adds a user to a group (creating the group if needed); false when already a member. */
  async addMember(name: string, userId: string): Promise<boolean> {
    await this.create(name);
    const group = await this.db.selectFrom('groups').select('id').where('name', '=', name).executeTakeFirstOrThrow();
    const result = await this.db
      .insertInto('user_groups')
      .values({ user_id: userId, group_id: group.id })
      .onConflict((oc) => oc.columns(['user_id', 'group_id']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Removes a user from a group; false when they were not a member. */
  async removeMember(name: string, userId: string): Promise<boolean> {
    const group = await this.db.selectFrom('groups').select('id').where('name', '=', name).executeTakeFirst();
    if (!group) return false;
    const result = await this.db.deleteFrom('user_groups').where('group_id', '=', group.id).where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

/**
 * Why a group name cannot be used, or null. Letters, digits, ".", "_", "-": group names travel
 * comma-separated in X-Forwarded-Groups, so a comma or space would split or blur them.
 */
export function groupNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > 64) return 'Group names are 1 to 64 characters long.';
  if (!/^[\p{L}\p{N}][\p{L}\p{N}._-]*$/u.test(name)) return `Group name "${name}" may contain letters, digits, ".", "_" and "-", and must start with a letter or digit.`;
  return null;
}
