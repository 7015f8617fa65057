import type { Kysely } from 'kysely';
import type { Database, SessionRow } from './schema.js';
import type { SessionRecord } from './types.js';

/** Persistent session records. Only the SHA-256 of a session secret is ever stored. */
export class SessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(record: SessionRecord): Promise<void> {
    await this.db.insertInto('sessions').values(toRow(record)).execute();
  }

  async findById(id: string): Promise<SessionRecord | null> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async listForUser(userId: string): Promise<SessionRecord[]> {
    const rows = await this.db.selectFrom('sessions').selectAll().where('user_id', '=', userId).orderBy('last_seen_at', 'desc').execute();
    return rows.map(toRecord);
  }

  /** Every unexpired session with its user's name, most recently seen first. */
  async listActive(now: number, limit: number, offset: number): Promise<Array<SessionRecord & { username: string }>> {
    const rows = await this.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .selectAll('sessions')
      .select('users.username')
      .where('sessions.expires_at', '>', now)
      .orderBy('sessions.last_seen_at', 'desc')
      .orderBy('sessions.id')
      .limit(limit)
      .offset(offset)
      .execute();
    return rows.map((row) => ({ ...toRecord(row), username: row.username }));
  }

  /** Sessions not past their absolute expiry nor (when given) idle since before `idleBefore`. */
  async countActive(now: number, idleBefore = 0): Promise<number> {
    const row = await this.db
      .selectFrom('sessions')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('expires_at', '>', now)
      .where('last_seen_at', '>=', idleBefore)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async touch(id: string, lastSeenAt: number): Promise<void> {
    await this.db.updateTable('sessions').set({ last_seen_at: lastSeenAt }).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('sessions').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Deletes every session of a user, optionally keeping one; returns the ids deleted. */
  async deleteForUser(userId: string, exceptId?: string): Promise<string[]> {
    let query = this.db.deleteFrom('sessions').where('user_id', '=', userId);
    if (exceptId !== undefined) query = query.where('id', '!=', exceptId);
    const rows = await query.returning('id').execute();
    return rows.map((r) => r.id);
  }

  /** Removes sessions past their absolute expiry or idle since before `idleBefore`. */
  async deleteExpired(now: number, idleBefore: number): Promise<number> {
    const result = await this.db
      .deleteFrom('sessions')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<', idleBefore)]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function toRow(r: SessionRecord): SessionRow {
  return {
    id: r.id,
    secret_hash: r.secretHash,
    user_id: r.userId,
    created_at: r.createdAt,
    last_seen_at: r.lastSeenAt,
    expires_at: r.expiresAt,
    ip: r.ip,
    user_agent: r.userAgent,
    auth_method: r.authMethod,
  };
}

function toRecord(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    userId: row.user_id,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    ip: row.ip,
    userAgent: row.user_agent,
    authMethod: row.auth_method,
  };
}
