import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { ThrottleState } from './types.js';

/** Failure counters for sign-in throttling, kept in the store so every instance sees them. */
export class ThrottleRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(key: string): Promise<ThrottleState | null> {
    const row = await this.db.selectFrom('throttle').selectAll().where('key', '=', key).executeTakeFirst();
    return row ? { failures: row.failures, firstFailureAt: row.first_failure_at, lastFailureAt: row.last_failure_at } : null;
  }

  /** Counts one more failure, starting a new window when the old one has passed. Returns the new state. */
  async addFailure(key: string, now: number, windowStart: number): Promise<ThrottleState> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('throttle').selectAll().where('key', '=', key).executeTakeFirst();
      if (!row || row.last_failure_at < windowStart) {
        const fresh = { key, failures: 1, first_failure_at: now, last_failure_at: now };
        await trx
          .insertInto('throttle')
          .values(fresh)
          .onConflict((oc) => oc.column('key').doUpdateSet({ failures: 1, first_failure_at: now, last_failure_at: now }))
          .execute();
        return { failures: 1, firstFailureAt: now, lastFailureAt: now };
      }
      const failures = row.failures + 1;
      await trx.updateTable('throttle').set({ failures, last_failure_at: now }).where('key', '=', key).execute();
      return { failures, firstFailureAt: row.first_failure_at, lastFailureAt: now };
    });
  }

  async clear(key: string): Promise<void> {
    await this.db.deleteFrom('throttle').where('key', '=', key).execute();
  }
}
