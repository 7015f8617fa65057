import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { ALICE_PASSWORD, hiddenFields, rawRequest, startSignedIn, type SignedInGateway } from '../helpers/harness.js';

/**
 * SQLite that will not take writes (issue 14): read-only, full, or locked by another process.
 * Each is answered 503 STORE_UNAVAILABLE (a page for a browser, JSON for a script), the gateway
 * keeps serving signed-in users (their sessions are read, not written), and it recovers as soon
 * as the database does. Read-only is `PRAGMA query_only` (tests run as root, whom chmod does not
 * stop); full is `PRAGMA max_page_count` on an audit log filled to it.
 */
describe('SQLite read-only, full or locked', () => {
  let signed: SignedInGateway;
  let form: Record<string, string>;

  before(async () => {
    signed = await startSignedIn();
    form = hiddenFields(await (await fetch(`${signed.gw.url}/_dashgate/login`)).text());
  });

  after(async () => {
    await signed?.close();
  });

  function signIn(headers: Record<string, string>) {
    const body = new URLSearchParams({ ...form, username: 'alice', password: ALICE_PASSWORD }).toString();
    return rawRequest(signed.gw.url, '/_dashgate/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)), origin: signed.gw.url, ...headers },
      body,
    });
  }

  /** While the store takes no writes: sign-in is 503 for both kinds of caller, signed-in users and the process carry on. */
  async function assertUnavailableButServing(): Promise<void> {
    const browser = await signIn({ accept: 'text/html', 'sec-fetch-mode': 'navigate' });
    assert.equal(browser.status, 503);
    assert.equal(browser.headers['x-dashgate'], 'store_unavailable');
    assert.equal(browser.headers['retry-after'], '5');
    assert.match(String(browser.headers['content-type']), /^text\/html/);
    assert.match(browser.body, /Sign-in is unavailable for a moment/);
    const scripted = await signIn({ accept: 'application/json', 'sec-fetch-mode': 'cors' });
    assert.equal(scripted.status, 503);
    assert.equal(JSON.parse(scripted.body).error, 'store_unavailable');
    assert.equal((await rawRequest(signed.gw.url, '/dash', { headers: { cookie: signed.cookie, accept: 'text/html' } })).status, 200, 'a signed-in user is still served');
    assert.equal((await rawRequest(signed.gw.url, '/_dashgate/health')).status, 200, 'the process is alive');
  }

  async function assertRecovered(): Promise<void> {
    assert.equal((await signIn({ accept: 'text/html', 'sec-fetch-mode': 'navigate' })).status, 303, 'signing in works again');
  }

  it('read-only: STORE_UNAVAILABLE, then recovery', async () => {
    await sql`pragma query_only = on`.execute(signed.gw.store.db);
    try {
      await assertUnavailableButServing();
    } finally {
      await sql`pragma query_only = off`.execute(signed.gw.store.db);
    }
    await assertRecovered();
  });

  it('disk full: STORE_UNAVAILABLE, then recovery', async () => {
    const db = signed.gw.store.db;
    const { rows } = await sql<{ page_count: number }>`pragma page_count`.execute(db);
    await sql.raw(`pragma max_page_count = ${rows[0]!.page_count}`).execute(db);
    // Fill the audit log (every sign-in writes to it) with entries smaller than a sign-in's until
    // not even one more fits: the error that ends the loop is the store's coded answer to SQLITE_FULL.
    let full: unknown = null;
    for (let i = 0; i < 20_000 && full === null; i++) await signed.gw.store.audit.record({ action: 'logout' }).catch((err: unknown) => (full = err));
    assert.equal((full as { code?: string }).code, 'STORE_UNAVAILABLE');
    assert.equal(((full as Error).cause as { code?: string }).code, 'SQLITE_FULL');
    try {
      await assertUnavailableButServing();
    } finally {
      await sql`pragma max_page_count = 1073741823`.execute(db);
    }
    await assertRecovered();
  });

  it('locked by another process (SQLITE_BUSY): STORE_UNAVAILABLE after the busy wait (5 s), then recovery', { timeout: 60_000 }, async () => {
    const other = new SQLite(join(signed.gw.gateway.config.data_dir, 'dashgate.db'));
    other.exec('begin immediate');
    try {
      await assertUnavailableButServing();
    } finally {
      other.exec('commit');
      other.close();
    }
    await assertRecovered();
  });
});
