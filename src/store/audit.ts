import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { AuditEntry, AuditEvent, Clock } from './types.js';

/** Append-only record of security events: who, what, when, from where. */
export class AuditRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: Clock,
  ) {}

  private listener: ((event: AuditEvent) => void) | null = null;

  /** Told of every event once it is recorded (metrics count sign-ins here). */
  listen(listener: (event: AuditEvent) => void): void {
    this.listener = listener;
  }

  async record(event: AuditEvent): Promise<void> {
    this.listener?.(event);
    await this.db
      .insertInto('audit_log')
      .values({
        at: this.now(),
        actor: event.actor ?? null,
        action: event.action,
        target: event.target ?? null,
        ip: event.ip ?? null,
        detail: event.detail ? JSON.stringify(event.detail) : null,
      })
      .execute();
  }

  /**
   * Newest first. `user` matches the actor or the target; `action` matches exactly (any of a
   * list), or every action under a prefix when it ends in "." ("login." → login.success, …);
   * `from`/`to` bound the time (ms, `to` exclusive).
   */
  async list(options: { limit?: number; offset?: number; action?: string | readonly string[]; actor?: string; user?: string; from?: number; to?: number } = {}): Promise<AuditEntry[]> {
    let query = this.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(options.limit ?? 100).offset(options.offset ?? 0);
    const action = options.action;
    if (typeof action === 'string' && action) query = action.endsWith('.') ? query.where('action', 'like', `${action.replace(/[%_\\]/g, '')}%`) : query.where('action', '=', action);
    else if (Array.isArray(action) && action.length > 0) query = query.where('action', 'in', action);
    if (options.actor) query = query.where('actor', '=', options.actor);
    const user = options.user;
    if (user) query = query.where((eb) => eb.or([eb('actor', '=', user), eb('target', '=', user)]));
    if (options.from !== undefined) query = query.where('at', '>=', options.from);
    if (options.to !== undefined) query = query.where('at', '<', options.to);
    const rows = await query.execute();
    return rows.map((row) => ({
      id: Number(row.id),
      at: row.at,
      actor: row.actor,
      action: row.action,
      target: row.target,
      ip: row.ip,
      detail: row.detail ? (JSON.parse(row.detail) as Record<string, unknown>) : null,
    }));
  }

  /** Entries of these actions per UTC day (days since the epoch) from `from` (ms) on: the console's dashboard chart. */
  async countByDay(actions: readonly string[], from: number): Promise<Array<{ day: number; action: string; count: number }>> {
    if (actions.length === 0) return [];
    const day = sql<number>`cast(at / 86400000 as integer)`;
    const rows = await this.db
      .selectFrom('audit_log')
      .select((eb) => [day.as('day'), 'action', eb.fn.countAll<number | string>().as('n')])
      .where('action', 'in', actions)
      .where('at', '>=', from)
      .groupBy([day, 'action'])
      .execute();
    return rows.map((row) => ({ day: Number(row.day), action: row.action, count: Number(row.n) }));
  }
}
