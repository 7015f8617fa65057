import type { Kysely } from 'kysely';
import type { ApiTokenRow, Database } from './schema.js';
import type { ApiTokenRecord } from './types.js';

/** Personal API tokens. Only the SHA-256 of a token's secret is ever stored. */
export class ApiTokenRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(record: ApiTokenRecord): Promise<void> {
    await this.db.insertInto('api_tokens').values(toRow(record)).execute();
  }

  async findById(id: string): Promise<ApiTokenRecord | null> {
    const row = await this.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  /** A user's tokens, newest first. */
  async listForUser(userId: string): Promise<ApiTokenRecord[]> {
    const rows = await this.db.selectFrom('api_tokens').selectAll().where('user_id', '=', userId).orderBy('created_at', 'desc').orderBy('id').execute();
    return rows.map(toRecord);
  }

  /** Every token with its owner's username: by username (code-point order, whatever the collation), then newest first. */
  async listAll(): Promise<Array<ApiTokenRecord & { username: string }>> {
    const rows = await this.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .selectAll('api_tokens')
      .select('users.username')
      .orderBy('api_tokens.created_at', 'desc')
      .orderBy('api_tokens.id')
      .execute();
    // Array.prototype.sort is stable: the SQL order survives within one user.
    return rows.map((row) => ({ ...toRecord(row), username: row.username })).sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
  }

  /**
   * Records a use. Only ever moves last_used_at forward, so two gateway instances writing in
   * either order leave the later time.
   */
  async touch(id: string, at: number): Promise<void> {
    await this.db
      .updateTable('api_tokens')
      .set({ last_used_at: at })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
      .execute();
  }

  /** Deletes one token; false when there was none. */
  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('api_tokens').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

function toRow(r: ApiTokenRecord): ApiTokenRow {
  return {
    id: r.id,
    secret_hash: r.secretHash,
    user_id: r.userId,
    name: r.name,
    created_at: r.createdAt,
    expires_at: r.expiresAt,
    last_used_at: r.lastUsedAt,
    created_by: r.createdBy,
  };
}

function toRecord(row: ApiTokenRow): ApiTokenRecord {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    userId: row.user_id,
    name: row.name,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    createdBy: row.created_by,
  };
}
