import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface SsoIdentity {
  provider: string;
  subject: string;
  userId: string;
  email: string | null;
  /** Groups this provider gave the user at the last sign-in; a re-sync removes only these. */
  syncedGroups: string[];
  createdAt: number;
  lastLoginAt: number | null;
}

/** Links between a provider's subject and a Dashgate account, and the ID token of each SSO session. */
export class SsoRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async find(provider: string, subject: string): Promise<SsoIdentity | null> {
    const row = await this.db.selectFrom('sso_identities').selectAll().where('provider', '=', provider).where('subject', '=', subject).executeTakeFirst();
    return row
      ? {
          provider: row.provider,
          subject: row.subject,
          userId: row.user_id,
          email: row.email,
          syncedGroups: JSON.parse(row.synced_groups) as string[],
          createdAt: Number(row.created_at),
          lastLoginAt: row.last_login_at === null ? null : Number(row.last_login_at),
        }
      : null;
  }

  async listForUser(userId: string): Promise<Array<{ provider: string; subject: string; email: string | null; lastLoginAt: number | null }>> {
    const rows = await this.db.selectFrom('sso_identities').select(['provider', 'subject', 'email', 'last_login_at']).where('user_id', '=', userId).orderBy('provider').execute();
    return rows.map((r) => ({ provider: r.provider, subject: r.subject, email: r.email, lastLoginAt: r.last_login_at === null ? null : Number(r.last_login_at) }));
  }

  /** Links a subject to a user. False when the subject is already linked (to anyone). */
  async link(identity: { provider: string; subject: string; userId: string; email: string | null }, now: number): Promise<boolean> {
    const result = await this.db
      .insertInto('sso_identities')
      .values({ provider: identity.provider, subject: identity.subject, user_id: identity.userId, email: identity.email, synced_groups: '[]', created_at: now, last_login_at: null })
      .onConflict((oc) => oc.columns(['provider', 'subject']).doNothing())
      .returning('user_id')
      .executeTakeFirst();
    return result !== undefined;
  }

  async recordLogin(provider: string, subject: string, update: { email: string | null; syncedGroups: readonly string[] }, now: number): Promise<void> {
    await this.db
      .updateTable('sso_identities')
      .set({ email: update.email, synced_groups: JSON.stringify([...update.syncedGroups].sort()), last_login_at: now })
      .where('provider', '=', provider)
      .where('subject', '=', subject)
      .execute();
  }

  async unlink(provider: string, userId: string): Promise<number> {
    const result = await this.db.deleteFrom('sso_identities').where('provider', '=', provider).where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async rememberIdToken(sessionId: string, provider: string, idToken: string): Promise<void> {
    await this.db.insertInto('sso_sessions').values({ session_id: sessionId, provider, id_token: idToken }).execute();
  }

  async idTokenOf(sessionId: string): Promise<{ provider: string; idToken: string } | null> {
    const row = await this.db.selectFrom('sso_sessions').select(['provider', 'id_token']).where('session_id', '=', sessionId).executeTakeFirst();
    return row ? { provider: row.provider, idToken: row.id_token } : null;
  }
}
