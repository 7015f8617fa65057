import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { findFreePort } from '../../src/runner/free-port.js';
import { isStoreOutage } from '../../src/store/outage.js';
import { openStore } from '../../src/store/store.js';
import { POSTGRES_URL } from '../helpers/harness.js';

/** The errors the drivers really throw, caught. */
async function caught(work: () => unknown): Promise<unknown> {
  try {
    await work();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('isStoreOutage: what the drivers throw', () => {
  it('PostgreSQL not listening (ECONNREFUSED) is an outage; a bad query and a constraint are not', async () => {
    const closed = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${await findFreePort()}/test` });
    assert.equal(isStoreOutage(await caught(() => closed.connect())), true);

    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      assert.equal(isStoreOutage(await caught(() => client.query('selec 1'))), false, 'syntax error 42601');
      await client.query('create temporary table t (id int primary key)');
      await client.query('insert into t values (1)');
      assert.equal(isStoreOutage(await caught(() => client.query('insert into t values (1)'))), false, 'unique violation 23505');
      // A standby after a failover refuses writes with 25006.
      await client.query('set default_transaction_read_only = on');
      assert.equal(isStoreOutage(await caught(() => client.query('create table dashgate_never_created (x int)'))), true, 'read-only transaction 25006');
    } finally {
      await client.end();
    }
  });

  it('PostgreSQL terminating the connection (57P01, then "Connection terminated") is an outage', async () => {
    const victim = new pg.Client({ connectionString: POSTGRES_URL });
    await victim.connect();
    victim.on('error', () => {});
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      const { rows } = await victim.query<{ pid: number }>('select pg_backend_pid() as pid');
      // Caught at once: it fails while this test is still terminating it.
      const during = victim.query('select pg_sleep(30)').then(
        () => ({ code: 'none' }),
        (err: { code?: string }) => err,
      );
      await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
      const err = await during;
      assert.equal(isStoreOutage(err), true, `terminated: ${err.code}`);
      assert.equal(isStoreOutage(await caught(() => victim.query('select 1'))), true, 'the dead client afterwards');
    } finally {
      await admin.end();
    }
  });

  it('SQLite locked, read-only and full are outages; a constraint is not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashgate-outage-'));
    const file = join(dir, 'x.db');
    const db = new SQLite(file);
    const other = new SQLite(file, { timeout: 0 });
    try {
      db.exec('create table t (id integer primary key)');
      db.exec('insert into t values (1)');
      assert.equal(isStoreOutage(await caught(() => db.exec('insert into t values (1)'))), false, 'SQLITE_CONSTRAINT');
      db.exec('begin immediate');
      assert.equal(isStoreOutage(await caught(() => other.exec('insert into t values (2)'))), true, 'SQLITE_BUSY');
      db.exec('commit');
      db.pragma('query_only = on');
      assert.equal(isStoreOutage(await caught(() => db.exec('insert into t values (3)'))), true, 'SQLITE_READONLY');
      db.pragma('query_only = off');
      db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
      assert.equal(isStoreOutage(await caught(() => db.exec('create table big (data blob); insert into big values (randomblob(100000))'))), true, 'SQLITE_FULL');
    } finally {
      other.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the store answers an outage as STORE_UNAVAILABLE with the driver error as its cause, other errors unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashgate-outage-'));
    const reported: unknown[] = [];
    let recovered = 0;
    const store = await openStore({ dataDir: dir, onOutage: (err) => reported.push(err), onRecovered: () => recovered++ });
    try {
      await sql`pragma query_only = on`.execute(store.db);
      const err = (await caught(() => store.audit.record({ action: 'logout' }))) as { code?: string; status?: number; cause?: { code?: string } };
      assert.equal(err.code, 'STORE_UNAVAILABLE');
      assert.equal(err.status, 503);
      assert.match(String(err.cause?.code), /^SQLITE_READONLY/);
      assert.equal(reported.length, 1);
      await sql`pragma query_only = off`.execute(store.db);
      await store.audit.record({ action: 'logout' });
      assert.equal(recovered, 1, 'the first success after the outage is reported once');
      const syntax = (await caught(() => sql`selec 1`.execute(store.db))) as { code?: string };
      assert.equal(syntax.code, 'SQLITE_ERROR', 'not an outage: the driver error as it was');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('configuration of outages and server limits', () => {
  it('session.store_outage is refuse or grace, outage_grace at most 1h; headers_timeout not over request_timeout', () => {
    const config = parseConfig({ upstream: 'http://127.0.0.1:1' });
    assert.equal(config.session.store_outage, 'refuse');
    assert.equal(config.server.headers_timeout, 15_000);
    assert.throws(
      () => parseConfig({ upstream: 'http://127.0.0.1:1', session: { store_outage: 'open' as 'grace', outage_grace: '2h' }, server: { headers_timeout: '60s', request_timeout: '30s' } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.problems.join('\n');
        assert.match(text, /session\.store_outage/);
        assert.match(text, /session\.outage_grace: must be at most 1h/);
        assert.match(text, /server\.headers_timeout: must not be longer than server\.request_timeout/);
        return true;
      },
    );
  });
});
