import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface TotpFactor {
  userId: string;
  secret: string;
  confirmedAt: number | null;
  lastTimeStep: number;
  createdAt: number;
}

/** Second factors: one TOTP secret per user and that user's recovery codes (hashes only). */
export class FactorRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async totp(userId: string): Promise<TotpFactor | null> {
    const row = await this.db.selectFrom('totp_factors').selectAll().where('user_id', '=', userId).executeTakeFirst();
    return row ? { userId: row.user_id, secret: row.secret, confirmedAt: row.confirmed_at === null ? null : Number(row.confirmed_at), lastTimeStep: Number(row.last_time_step), createdAt: Number(row.created_at) } : null;
  }

  /** Starts enrolment: a new unconfirmed secret replaces any unconfirmed one. Refused (false) while a confirmed one exists. */
  async startTotp(userId: string, secret: string, now: number): Promise<boolean> {
    const existing = await this.totp(userId);
    if (existing?.confirmedAt != null) return false;
    if (existing) await this.db.deleteFrom('totp_factors').where('user_id', '=', userId).execute();
    await this.db.insertInto('totp_factors').values({ user_id: userId, secret, confirmed_at: null, last_time_step: 0, created_at: now }).execute();
    return true;
  }

  async confirmTotp(userId: string, now: number, timeStep: number): Promise<boolean> {
    const result = await this.db.updateTable('totp_factors').set({ confirmed_at: now, last_time_step: timeStep }).where('user_id', '=', userId).where('confirmed_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Records an accepted code's time step if it is newer than the last one: false means a replay. */
  async advanceTimeStep(userId: string, timeStep: number): Promise<boolean> {
    const result = await this.db.updateTable('totp_factors').set({ last_time_step: timeStep }).where('user_id', '=', userId).where('last_time_step', '<', timeStep).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Removes every factor of a user (disable, or an admin's reset). */
  async removeAll(userId: string): Promise<void> {
    await this.db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
    await this.db.deleteFrom('totp_factors').where('user_id', '=', userId).execute();
  }

  async replaceRecoveryCodes(userId: string, hashes: readonly string[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
      if (hashes.length > 0) await trx.insertInto('recovery_codes').values(hashes.map((h) => ({ id: randomUUID(), user_id: userId, code_hash: h, used_at: null }))).execute();
    });
  }

  /** Spends a recovery code; false when it is unknown or already used. */
  async useRecoveryCode(userId: string, hash: string, now: number): Promise<boolean> {
    const result = await this.db.updateTable('recovery_codes').set({ used_at: now }).where('user_id', '=', userId).where('code_hash', '=', hash).where('used_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async unusedRecoveryCodes(userId: string): Promise<number> {
    const { n } = await this.db.selectFrom('recovery_codes').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirstOrThrow();
    return Number(n);
  }
}
