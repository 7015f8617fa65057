import type { Kysely } from 'kysely';
import type { Database, EmailTokenRow } from './schema.js';
import type { EmailToken } from './types.js';

/** Single-use links sent by email (password reset). Only hashes are stored. */
export class EmailTokenRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(token: Omit<EmailToken, 'usedAt'>): Promise<void> {
    await this.db
      .insertInto('email_tokens')
      .values({
        id: token.id,
        token_hash: token.tokenHash,
        purpose: token.purpose,
        user_id: token.userId,
        email: token.email,
        created_at: token.createdAt,
        expires_at: token.expiresAt,
        used_at: null,
      })
      .execute();
  }

  async findById(id: string): Promise<EmailToken | null> {
    const row = await this.db.selectFrom('email_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toEmailToken(row) : null;
  }

  /** Marks the token used if it is still unused and unexpired; false when someone was first. */
  async consume(id: string, now: number): Promise<boolean> {
    const result = await this.db.updateTable('email_tokens').set({ used_at: now }).where('id', '=', id).where('used_at', 'is', null).where('expires_at', '>', now).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Which of these users have spent a token of this purpose (for 'verify': confirmed their address). */
  async usedBy(purpose: EmailToken['purpose'], userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const rows = await this.db.selectFrom('email_tokens').select('user_id').where('purpose', '=', purpose).where('used_at', 'is not', null).where('user_id', 'in', userIds).execute();
    return new Set(rows.map((r) => r.user_id));
  }

  /**
   * Whether a user's address was ever put to the test: `verifyIssued`, a sign-up confirmation was
   * sent (so the address came from the person signing up, not an administrator); `proven`, some
   * link mailed to it (confirmation or reset) was used.
   */
  async addressEvidence(userId: string): Promise<{ verifyIssued: boolean; proven: boolean }> {
    const rows = await this.db.selectFrom('email_tokens').select(['purpose', 'used_at']).where('user_id', '=', userId).execute();
    return { verifyIssued: rows.some((r) => r.purpose === 'verify'), proven: rows.some((r) => r.used_at !== null) };
  }

  /** Ends every open token of a purpose for a user (a new reset link replaces older ones; a reset ends them all). */
  async expireOpenForUser(purpose: EmailToken['purpose'], userId: string, now: number): Promise<void> {
    await this.db.updateTable('email_tokens').set({ expires_at: now }).where('purpose', '=', purpose).where('user_id', '=', userId).where('used_at', 'is', null).where('expires_at', '>', now).execute();
  }
}

function toEmailToken(row: EmailTokenRow): EmailToken {
  return {
    id: row.id,
    tokenHash: row.token_hash,
    purpose: row.purpose as EmailToken['purpose'],
    userId: row.user_id,
    email: row.email,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    usedAt: row.used_at === null ? null : Number(row.used_at),
  };
}
