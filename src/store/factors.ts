import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, PasskeyRow } from './schema.js';

export interface TotpFactor {
  userId: string;
  secret: string;
  confirmedAt: number | null;
  lastTimeStep: number;
  createdAt: number;
}

export interface Passkey {
  id: string;
  userId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** Second factors: one TOTP secret per user, that user's recovery codes (hashes only), and passkeys. */
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

  async addPasskey(passkey: Omit<Passkey, 'lastUsedAt'>): Promise<void> {
    await this.db
      .insertInto('passkeys')
      .values({ id: passkey.id, user_id: passkey.userId, public_key: passkey.publicKey, counter: passkey.counter, transports: JSON.stringify(passkey.transports), name: passkey.name, created_at: passkey.createdAt, last_used_at: null })
      .execute();
  }

  async passkey(id: string): Promise<Passkey | null> {
    const row = await this.db.selectFrom('passkeys').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toPasskey(row) : null;
  }

  async passkeysOf(userId: string): Promise<Passkey[]> {
    const rows = await this.db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
    return rows.map(toPasskey);
  }

  /** Records a use; refused (false) when the counter did not grow, a sign of a cloned authenticator (0 = the authenticator keeps no counter). */
  async usePasskey(id: string, counter: number, now: number): Promise<boolean> {
    let query = this.db.updateTable('passkeys').set({ counter, last_used_at: now }).where('id', '=', id);
    if (counter > 0) query = query.where('counter', '<', counter);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async renamePasskey(id: string, userId: string, name: string): Promise<boolean> {
    const result = await this.db.updateTable('passkeys').set({ name }).where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async removePasskey(id: string, userId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  /** Turns TOTP off: the secret and its recovery codes go. */
  async removeTotp(userId: string): Promise<void> {
    await this.db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
    await this.db.deleteFrom('totp_factors').where('user_id', '=', userId).execute();
  }

  /** Removes every factor of a user, passkeys included (an admin's reset). */
  async removeAll(userId: string): Promise<void> {
    await this.removeTotp(userId);
    await this.db.deleteFrom('passkeys').where('user_id', '=', userId).execute();
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

function toPasskey(row: PasskeyRow): Passkey {
  return {
    id: row.id,
    userId: row.user_id,
    publicKey: row.public_key,
    counter: Number(row.counter),
    transports: JSON.parse(row.transports) as string[],
    name: row.name,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}
