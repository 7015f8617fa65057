import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type LogEvent, type Migration, type MigrationProvider } from 'kysely';
import { withOutageErrors, type OutageHooks } from './outage.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface OpenedDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Every query's duration and whether it failed (metrics listen here). */
  queries: QueryTimings;
}

/** Told of every query the store runs: how long it took and whether it failed. */
export class QueryTimings {
  private listener: ((ms: number, failed: boolean) => void) | null = null;
  /** Kysely's `log` hook. */
  readonly log = (event: LogEvent) => this.listener?.(event.queryDurationMillis, event.level === 'error');
  listen(listener: (ms: number, failed: boolean) => void): void {
    this.listener = listener;
  }
}

/**
 * Opens the database named by `url` (`postgres://…`, `sqlite:<file>`) or, when empty, SQLite at
 * `<dataDir>/dashgate.db` in WAL mode. `searchPath` pins a PostgreSQL schema (used by tests).
 */
export async function openDatabase(options: { url?: string | undefined; dataDir: string; searchPath?: string; onPoolError?: (err: Error) => void; outage?: OutageHooks }): Promise<OpenedDatabase> {
  const url = options.url;
  if (url !== undefined && /^postgres(ql)?:/.test(url)) {
    // Loaded only when PostgreSQL is configured: a SQLite deployment never pays for the driver.
    const { default: pg } = await import('pg');
    // int8 (BIGINT) columns hold millisecond times, well inside Number's exact range.
    pg.types.setTypeParser(20, (value) => Number(value));
    const pool = new pg.Pool({
      connectionString: url,
      max: 10,
      // Seen in pg_stat_activity (and what an operator terminates); a URL's application_name wins.
      application_name: 'dashgate',
      // A database that does not answer must not hold requests forever: fail, answer 503, retry later.
      connectionTimeoutMillis: 5000,
      // A statement on a connection whose server went silent (a partition, a frozen host) fails
      // after this instead of waiting for TCP to give up; keep-alive notices dead peers sooner.
      query_timeout: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      ...(options.searchPath ? { options: `-c search_path=${options.searchPath}` } : {}),
    });
    // pg-pool re-emits the error of an idle pooled connection (the server restarted, a failover,
    // pg_terminate_backend) on the pool; with no listener Node ends the process. The broken
    // connection is already out of the pool and the next query opens a new one.
    pool.on('error', (err) => options.onPoolError?.(err));
    // Outages (server down, restarting, unreachable) become STORE_UNAVAILABLE: store/outage.ts.
    const queries = new QueryTimings();
    return { db: new Kysely<Database>({ dialect: withOutageErrors(new PostgresDialect({ pool }), options.outage), log: queries.log }), dialect: 'postgres', queries };
  }
  let file: string;
  if (url !== undefined && url.startsWith('sqlite:')) file = url.slice('sqlite:'.length);
  else file = join(options.dataDir, 'dashgate.db');
  // The database holds signing keys, the token key and TOTP secrets: this user only (0700 / 0600).
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // The file, its WAL and its shared-memory file are created here: under a umask that keeps them ours.
  const previousMask = process.umask(0o077);
  let database: SQLite.Database;
  try {
    database = new SQLite(file);
    database.pragma('journal_mode = WAL');
    database.pragma('user_version');
  } finally {
    process.umask(previousMask);
  }
  // Files made by an older version keep their mode otherwise.
  if (file !== ':memory:') for (const path of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(path)) chmodSync(path, 0o600);
  database.pragma('foreign_keys = ON');
  // A lock held longer than this (a backup, a stuck writer) is answered 503 STORE_UNAVAILABLE.
  // better-sqlite3 waits synchronously, holding the event loop meanwhile, but server.workers share
  // the file and wait for each other routinely: 1 s gave spurious 503s under load, so it stays 5 s.
  database.pragma('busy_timeout = 5000');
  database.pragma('synchronous = NORMAL');
  // Locked, full, read-only and failing databases become STORE_UNAVAILABLE: store/outage.ts.
  const queries = new QueryTimings();
  return { db: new Kysely<Database>({ dialect: withOutageErrors(new SqliteDialect({ database }), options.outage), log: queries.log }), dialect: 'sqlite', queries };
}

/**
 * Why a SQLite data directory or database file is open to others, or nothing: reported at start
 * (an existing directory keeps the mode it was made with).
 */
export function dataFilesProblems(dataDir: string): string[] {
  const problems: string[] = [];
  for (const path of [dataDir, join(dataDir, 'dashgate.db')]) {
    if (!existsSync(path)) continue;
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) problems.push(`${path} can be read by other users (mode ${mode.toString(8).padStart(4, '0')}): it holds signing keys and TOTP secrets; chmod ${statSync(path).isDirectory() ? '700' : '600'} ${path}`);
  }
  return problems;
}

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Numbered `.sql` files per dialect (Authelia's habit), applied in order by Kysely's migrator. */
class SqlFileMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const dir = join(MIGRATIONS_DIR, this.dialect);
    const migrations: Record<string, Migration> = {};
    for (const name of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
      const statements = splitStatements(readFileSync(join(dir, name), 'utf8'));
      migrations[name.replace(/\.sql$/, '')] = {
        async up(db) {
          for (const statement of statements) await sql.raw(statement).execute(db);
        },
      };
    }
    return migrations;
  }
}

/** Splits a migration file on `;` at line ends; comments are dropped. Our files hold no procedures. */
function splitStatements(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Applies pending migrations; throws with the failing migration's error. */
export async function migrateToLatest(opened: OpenedDatabase): Promise<void> {
  // On PostgreSQL, Kysely looks for its bookkeeping tables in every schema unless told which one;
  // another schema's kysely_migration (a second Dashgate, another app) would then make it skip
  // creating them here and fail. Pin them to the schema this connection works in.
  let migrationTableSchema: string | undefined;
  if (opened.dialect === 'postgres') {
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(opened.db);
    migrationTableSchema = rows[0]?.schema;
  }
  const migrator = new Migrator({
    db: opened.db,
    provider: new SqlFileMigrationProvider(opened.dialect),
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
}
