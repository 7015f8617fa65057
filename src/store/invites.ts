import type { Kysely } from 'kysely';
import type { Database, InviteRow } from './schema.js';
import type { Invite } from './types.js';

/** Single-use links that create an account: the first-run setup link and (later) invitations. */
export class InviteRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(invite: Omit<Invite, 'usedAt' | 'usedBy'>): Promise<void> {
    await this.db
      .insertInto('invites')
      .values({
        id: invite.id,
        token_hash: invite.tokenHash,
        purpose: invite.purpose,
        email: invite.email,
        groups_json: JSON.stringify(invite.groups),
        is_admin: invite.isAdmin ? 1 : 0,
        created_by: invite.createdBy,
        created_at: invite.createdAt,
        expires_at: invite.expiresAt,
        used_at: null,
        used_by: null,
      })
      .execute();
  }

  async findById(id: string): Promise<Invite | null> {
    const row = await this.db.selectFrom('invites').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toInvite(row) : null;
  }

  /**
   * Marks the invite used if, and only if, it is still unused and unexpired. The condition is in
   * the UPDATE itself so two simultaneous uses cannot both succeed.
   */
  async consume(id: string, usedBy: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('invites')
      .set({ used_at: now, used_by: usedBy })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Invitations still usable at `now`, newest first. */
  async listOpen(now: number): Promise<Invite[]> {
    const rows = await this.db.selectFrom('invites').selectAll().where('purpose', '=', 'invite').where('used_at', 'is', null).where('expires_at', '>', now).orderBy('created_at', 'desc').execute();
    return rows.map(toInvite);
  }

  /** Ends one open invitation; false when there was none to end. */
  async revoke(id: string, now: number): Promise<boolean> {
    const result = await this.db.updateTable('invites').set({ expires_at: now }).where('id', '=', id).where('purpose', '=', 'invite').where('used_at', 'is', null).where('expires_at', '>', now).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Expires every open invite of a purpose (a new setup link replaces the old one). */
  async expireOpen(purpose: Invite['purpose'], now: number): Promise<void> {
    await this.db.updateTable('invites').set({ expires_at: now }).where('purpose', '=', purpose).where('used_at', 'is', null).where('expires_at', '>', now).execute();
  }
}

function toInvite(row: InviteRow): Invite {
  return {
    id: row.id,
    tokenHash: row.token_hash,
    purpose: row.purpose as Invite['purpose'],
    email: row.email,
    groups: JSON.parse(row.groups_json) as string[],
    isAdmin: row.is_admin === 1,
    createdBy: row.created_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    usedBy: row.used_by,
  };
}
