import type { DatabaseConnection, Dialect, Driver, QueryResult } from 'kysely';
import { GatewayError } from '../errors.js';

/** Node's socket errors: the database host refuses, resets, or cannot be reached. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * PostgreSQL SQLSTATEs that say "the server cannot serve now", not "this query is wrong":
 * class 08 (connection exception), 57P01–57P03 (shutting down, crashed, starting up), class 53
 * (disk full, out of memory, too many connections), class 58 (I/O error), and 25006 (a read-only
 * transaction: after a failover the gateway is connected to a standby).
 */
function isPostgresOutageState(code: string): boolean {
  return /^(08|53|58)[0-9A-Z]{3}$/.test(code) || code === '57P01' || code === '57P02' || code === '57P03' || code === '25006';
}

/** SQLite's primary result codes (extended codes like SQLITE_IOERR_WRITE start with them) for a database that is locked, full, read-only or failing. */
const SQLITE_OUTAGE = /^SQLITE_(BUSY|LOCKED|FULL|READONLY|IOERR|CANTOPEN|PROTOCOL)(_|$)/;

/** What node-postgres and pg-pool say, without a code, when a connection is lost or cannot be had in time. */
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'is not queryable',
];

/**
 * Whether a database error means the store is unavailable for a moment (the server is down,
 * restarting, unreachable, full, read-only or locked) rather than a mistake in a query or a
 * constraint. The one definition: the store answers every such error as STORE_UNAVAILABLE.
 */
export function isStoreOutage(err: unknown): boolean {
  if (err instanceof GatewayError) return err.code === 'STORE_UNAVAILABLE';
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (SOCKET_CODES.has(code) || SQLITE_OUTAGE.test(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return isPostgresOutageState(code);
  }
  // Node's happy-eyeballs connect (localhost → ::1 and 127.0.0.1) fails with an AggregateError.
  if (err instanceof AggregateError && err.errors.some((inner) => isStoreOutage(inner))) return true;
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && PG_CONNECTION_MESSAGES.some((text) => message.includes(text));
}

export interface OutageHooks {
  /** A query failed because the store is unavailable (called for each; the caller rate-limits its log). */
  onOutage?: (err: unknown) => void;
  /** The first query that succeeded after an outage. */
  onRecovered?: () => void;
}

/**
 * The dialect with every driver failure that is an outage turned into
 * `GatewayError('STORE_UNAVAILABLE')`, the driver's error as its cause. Every query of every
 * repository goes through the driver (acquiring a connection, each statement, transactions), so
 * every caller gets the same code and the same answer (503 with Retry-After), whatever the
 * database or the query.
 */
export function withOutageErrors(dialect: Dialect, hooks: OutageHooks = {}): Dialect {
  let down = false;
  const translate = (err: unknown): unknown => {
    if (!isStoreOutage(err)) return err;
    down = true;
    hooks.onOutage?.(err);
    return err instanceof GatewayError ? err : new GatewayError('STORE_UNAVAILABLE', { cause: err, message: `store unavailable: ${(err as Error).message ?? String(err)}` });
  };
  const succeeded = () => {
    if (!down) return;
    down = false;
    hooks.onRecovered?.();
  };
  const patched = new WeakSet<DatabaseConnection>();
  /** Patched in place: the driver recognises its own connection objects (release, discard) by identity. */
  const patch = (connection: DatabaseConnection): DatabaseConnection => {
    if (patched.has(connection)) return connection;
    patched.add(connection);
    const execute = connection.executeQuery.bind(connection);
    connection.executeQuery = async function executeQuery<R>(query: Parameters<DatabaseConnection['executeQuery']>[0]): Promise<QueryResult<R>> {
      try {
        const result = await execute<R>(query);
        succeeded();
        return result;
      } catch (err) {
        throw translate(err);
      }
    };
    return connection;
  };
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver(): Driver {
      const driver = dialect.createDriver();
      // Delegated one by one: the driver's methods read private fields, so `this` must be the driver.
      return {
        init: () => driver.init(),
        async acquireConnection(): Promise<DatabaseConnection> {
          try {
            return patch(await driver.acquireConnection());
          } catch (err) {
            throw translate(err);
          }
        },
        beginTransaction: (connection, settings) => driver.beginTransaction(connection, settings),
        commitTransaction: (connection) => driver.commitTransaction(connection),
        rollbackTransaction: (connection) => driver.rollbackTransaction(connection),
        ...(driver.savepoint ? { savepoint: driver.savepoint.bind(driver) } : {}),
        ...(driver.rollbackToSavepoint ? { rollbackToSavepoint: driver.rollbackToSavepoint.bind(driver) } : {}),
        ...(driver.releaseSavepoint ? { releaseSavepoint: driver.releaseSavepoint.bind(driver) } : {}),
        releaseConnection: (connection) => driver.releaseConnection(connection),
        destroy: () => driver.destroy(),
      };
    },
  };
}
