import type { Command } from 'commander';
import type { Logger } from 'pino';
import { createLogLimiter } from '../ops/log-limiter.js';
import { dataFilesProblems } from '../store/db.js';
import { loadConfig } from '../config/load.js';
import type { Config, ConfigInput } from '../config/schema.js';
import { canonicalUsername } from '../auth/usernames.js';
import { UsageError } from '../errors.js';
import { createAccounts, type Accounts } from '../accounts/accounts.js';
import { openStore, type Store } from '../store/store.js';

export interface CommonFlags {
  config?: string;
  dataDir?: string;
  databaseUrl?: string;
  upstream?: string;
  port?: string;
  host?: string;
}

/** Options every command that touches the data accepts. */
export function addStoreOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'configuration file (default: ./dashgate.yaml when present)')
    .option('-d, --data-dir <dir>', 'where Dashgate keeps its data (default: ./dashgate-data)')
    .option('--database-url <url>', 'postgres://… to use PostgreSQL instead of the embedded SQLite');
}

/** Options of the commands that run the gateway. */
export function addServerOptions(command: Command): Command {
  return addStoreOptions(command)
    .option('-p, --port <port>', 'port to listen on (default: 8000)')
    .option('-H, --host <host>', 'address to listen on (default: 127.0.0.1)');
}

/** Config from file + DASHGATE_* environment + flags (flags win). */
export function configFromFlags(flags: CommonFlags, extra: ConfigInput = {}): Config {
  const overrides: ConfigInput = { ...extra };
  if (flags.dataDir) overrides.data_dir = flags.dataDir;
  if (flags.databaseUrl) overrides.database = { url: flags.databaseUrl };
  if (flags.upstream) overrides.upstream = flags.upstream;
  const server: NonNullable<ConfigInput['server']> = {};
  if (flags.port !== undefined) {
    const port = Number(flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a number from 0 to 65535, got "${flags.port}"`);
    server.port = port;
  }
  if (flags.host) server.host = flags.host;
  if (Object.keys(server).length > 0) overrides.server = server;
  return loadConfig({ file: flags.config, env: process.env, overrides });
}

/** Opens the configured store; pooled connections that fail while idle are reported through `logger`, never fatal. */
export async function openConfiguredStore(config: Config, logger?: Logger): Promise<Store> {
  const logLimited = logger ? createLogLimiter(logger) : null;
  if (logger && !config.database.url) for (const problem of dataFilesProblems(config.data_dir)) logger.warn(problem);
  return openStore({
    url: config.database.url,
    dataDir: config.data_dir,
    onPoolError: (err) => logLimited?.('warn', 'store.connection_lost', { err: { message: err.message, code: (err as { code?: string }).code } }, 'a database connection was lost; it is replaced at the next query'),
    // One line per second while the store is down, however many requests it refuses (503 STORE_UNAVAILABLE).
    onOutage: (err) => logLimited?.('error', 'store.unavailable', { err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'the store is unavailable: requests that need it are answered 503 STORE_UNAVAILABLE'),
    onRecovered: () => logger?.info({ kind: 'store.recovered' }, 'the store answers again'),
  });
}

/** Opens the configured store for one command and always closes it. */
export async function withStore(flags: CommonFlags, work: (store: Store, config: Config) => Promise<void>): Promise<void> {
  const config = configFromFlags(flags);
  const store = await openConfiguredStore(config);
  try {
    await work(store, config);
  } finally {
    await store.close();
  }
}

/**
 * Opens the store for one command and hands it over as accounts: the shell changes users,
 * groups and invitations through accounts/ like the console. Sessions it ends are deleted from
 * the store; running gateways notice within session.cache_ttl.
 */
export function withAccounts(flags: CommonFlags, work: (accounts: Accounts, config: Config) => Promise<void>): Promise<void> {
  return withStore(flags, (store, config) =>
    work(createAccounts({ store, passwordPolicy: { minLength: config.password.min_length, maxLength: config.password.max_length }, appName: config.branding.app_name }), config),
  );
}

/** The user named on the command line, or a usage error. */
export async function requireUser(store: Store, name: string) {
  const user = await store.users.findByUsername(canonicalUsername(name));
  if (!user) throw new UsageError(`no user "${canonicalUsername(name)}"`);
  return user;
}
