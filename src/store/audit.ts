import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { AuditEntry, AuditEvent, Clock } from './types.js';

/** Append-only record of security events: who, what, when, from where. */
export class AuditRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: Clock,
  ) {}

  async record(event: AuditEvent): Promise<void> {
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

  /** Newest first. */
  async list(options: { limit?: number; action?: string; actor?: string } = {}): Promise<AuditEntry[]> {
    let query = this.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(options.limit ?? 100);
    if (options.action) query = query.where('action', '=', options.action);
    if (options.actor) query = query.where('actor', '=', options.actor);
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
}
