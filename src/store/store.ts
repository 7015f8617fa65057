import type { Kysely } from 'kysely';
import { ApiTokenRepository } from './api-tokens.js';
import { AuditRepository } from './audit.js';
import { migrateToLatest, openDatabase, type Dialect, type QueryTimings } from './db.js';
import { EmailTokenRepository } from './email-tokens.js';
import { FactorRepository } from './factors.js';
import { GroupRepository } from './groups.js';
import { InviteRepository } from './invites.js';
import type { Database } from './schema.js';
import { SessionRepository } from './sessions.js';
import { SettingsRepository } from './settings.js';
import { SsoRepository } from './sso.js';
import { ThrottleRepository } from './throttle.js';
import type { Clock } from './types.js';
import { UserRepository } from './users.js';

/** Everything persistent, one repository per table family. */
export interface Store {
  readonly dialect: Dialect;
  readonly db: Kysely<Database>;
  readonly users: UserRepository;
  readonly groups: GroupRepository;
  readonly sessions: SessionRepository;
  readonly apiTokens: ApiTokenRepository;
  readonly invites: InviteRepository;
  readonly audit: AuditRepository;
  readonly throttle: ThrottleRepository;
  readonly settings: SettingsRepository;
  readonly emailTokens: EmailTokenRepository;
  readonly factors: FactorRepository;
  readonly sso: SsoRepository;
  /** Every query's duration and outcome (for metrics). */
  readonly queries: QueryTimings;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  url?: string | undefined;
  dataDir: string;
  now?: Clock;
  /** PostgreSQL schema to use (created if missing); tests isolate themselves with it. */
  schema?: string;
  /** A pooled database connection failed while idle (PostgreSQL restarted); the pool replaces it. */
  onPoolError?: (err: Error) => void;
  /** A query failed because the store is unavailable (answered STORE_UNAVAILABLE); called per query, rate-limit the log. */
  onOutage?: (err: unknown) => void;
  /** The first query that succeeded after an outage. */
  onRecovered?: () => void;
}

/** Opens the configured database and applies pending migrations. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const now = options.now ?? Date.now;
  if (options.schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(options.schema)) throw new TypeError('schema must be a plain lower-case identifier');
  const opened = await openDatabase({ url: options.url, dataDir: options.dataDir, ...(options.schema ? { searchPath: options.schema } : {}), ...(options.onPoolError ? { onPoolError: options.onPoolError } : {}), outage: { ...(options.onOutage ? { onOutage: options.onOutage } : {}), ...(options.onRecovered ? { onRecovered: options.onRecovered } : {}) } });
  try {
    if (options.schema && opened.dialect === 'postgres') await opened.db.schema.createSchema(options.schema).ifNotExists().execute();
    await migrateToLatest(opened);
  } catch (err) {
    // Never leave a pool open behind a failed start: it would keep the process alive.
    await opened.db.destroy();
    throw err;
  }
  const db = opened.db;
  return {
    dialect: opened.dialect,
    db,
    users: new UserRepository(db, now),
    groups: new GroupRepository(db, now),
    sessions: new SessionRepository(db),
    apiTokens: new ApiTokenRepository(db),
    invites: new InviteRepository(db),
    audit: new AuditRepository(db, now),
    throttle: new ThrottleRepository(db),
    settings: new SettingsRepository(db),
    emailTokens: new EmailTokenRepository(db),
    factors: new FactorRepository(db),
    sso: new SsoRepository(db),
    queries: opened.queries,
    close: () => db.destroy(),
  };
}
