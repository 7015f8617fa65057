import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, UserRow } from './schema.js';
import type { Clock, NewUser, User, UserStatus, UserWithCredentials } from './types.js';

/** Users and their group memberships. Usernames arrive here already canonical. */
export class UserRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: Clock,
  ) {}

  async create(input: NewUser): Promise<User> {
    const at = this.now();
    const row: UserRow = {
      id: randomUUID(),
      username: input.username,
      display_name: input.displayName ?? null,
      email: input.email ?? null,
      password_hash: input.passwordHash ?? null,
      is_admin: input.isAdmin ? 1 : 0,
      status: input.status ?? 'active',
      created_at: at,
      updated_at: at,
    };
    const groups = sortGroups(input.groups ?? []);
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('users').values(row).execute();
      await setGroups(trx, row.id, groups, at);
    });
    return toUser(row, groups);
  }

  async findByUsername(username: string): Promise<UserWithCredentials | null> {
    const row = await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return row ? { ...toUser(row, await this.groupsOf(row.id)), passwordHash: row.password_hash } : null;
  }

  /** The user with this email (compared case-insensitively), or null. */
  async findByEmail(email: string): Promise<User | null> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
      .executeTakeFirst();
    return row ? toUser(row, await this.groupsOf(row.id)) : null;
  }

  async findById(id: string): Promise<User | null> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toUser(row, await this.groupsOf(row.id)) : null;
  }

  async list(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('username').execute();
    const memberships = await this.db
      .selectFrom('user_groups')
      .innerJoin('groups', 'groups.id', 'user_groups.group_id')
      .select(['user_groups.user_id', 'groups.name'])
      .execute();
    const byUser = new Map<string, string[]>();
    for (const m of memberships) (byUser.get(m.user_id) ?? byUser.set(m.user_id, []).get(m.user_id)!).push(m.name);
    return rows.map((row) => toUser(row, sortGroups(byUser.get(row.id) ?? [])));
  }

  async count(): Promise<number> {
    const { n } = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(n);
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.db.updateTable('users').set({ password_hash: passwordHash, updated_at: this.now() }).where('id', '=', id).execute();
  }

  async setStatus(id: string, status: UserStatus): Promise<void> {
    await this.db.updateTable('users').set({ status, updated_at: this.now() }).where('id', '=', id).execute();
  }

  async setAdmin(id: string, isAdmin: boolean): Promise<void> {
    await this.db.updateTable('users').set({ is_admin: isAdmin ? 1 : 0, updated_at: this.now() }).where('id', '=', id).execute();
  }

  /** Name and email as an identity provider last asserted them. */
  async setProfile(id: string, profile: { displayName: string | null; email: string | null }): Promise<void> {
    await this.db.updateTable('users').set({ display_name: profile.displayName, email: profile.email, updated_at: this.now() }).where('id', '=', id).execute();
  }

  async setGroups(id: string, groups: readonly string[]): Promise<void> {
    await this.db.transaction().execute((trx) => setGroups(trx, id, groups, this.now()));
  }

  /** Deletes the user; sessions and memberships go with it (ON DELETE CASCADE). */
  async remove(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  private async groupsOf(userId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('user_groups')
      .innerJoin('groups', 'groups.id', 'user_groups.group_id')
      .select('groups.name')
      .where('user_groups.user_id', '=', userId)
      .execute();
    return sortGroups(rows.map((r) => r.name));
  }
}

/**
 * Group names, distinct and in code-point order. Sorted here rather than in SQL so every way of
 * reading a user gives the same order whatever the database's collation.
 */
function sortGroups(names: readonly string[]): string[] {
  return [...new Set(names)].sort();
}

/** Replaces a user's memberships, creating groups that do not exist yet. */
async function setGroups(db: Kysely<Database>, userId: string, names: readonly string[], at: number): Promise<void> {
  await db.deleteFrom('user_groups').where('user_id', '=', userId).execute();
  for (const name of new Set(names)) {
    let group = await db.selectFrom('groups').select('id').where('name', '=', name).executeTakeFirst();
    if (!group) {
      group = { id: randomUUID() };
      await db.insertInto('groups').values({ id: group.id, name, created_at: at }).execute();
    }
    await db.insertInto('user_groups').values({ user_id: userId, group_id: group.id }).execute();
  }
}

function toUser(row: UserRow, groups: readonly string[]): User {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    email: row.email,
    isAdmin: row.is_admin === 1,
    status: row.status as UserStatus,
    groups,
    createdAt: row.created_at,
  };
}
