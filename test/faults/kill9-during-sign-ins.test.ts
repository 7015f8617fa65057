import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { findFreePort } from '../../src/runner/free-port.js';
import { openStore } from '../../src/store/store.js';
import { startCli, type CliProcess } from '../helpers/cli-process.js';
import { ALICE_PASSWORD, createUser, signIn, startRecordingUpstream } from '../helpers/harness.js';

const USERS = ['ann', 'ben', 'cat', 'dan'];

/**
 * kill -9 of the gateway while people are signing in (issue 14), on SQLite (WAL) in the data
 * directory: the database passes its integrity check, and every session the gateway handed out
 * before it died is still valid after a restart.
 */
describe('kill -9 during sign-ins', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-kill9-'));
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let cli: CliProcess | undefined;
  let port: number;

  async function startServe(): Promise<CliProcess> {
    const started = startCli(['serve', '--upstream', upstream.url, '--port', String(port), '--data-dir', dataDir]);
    await started.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('Dashgate is guarding'));
    return started;
  }

  before(async () => {
    upstream = await startRecordingUpstream();
    port = await findFreePort();
    const store = await openStore({ dataDir });
    for (const name of USERS) await createUser(store, name, ALICE_PASSWORD);
    await store.close();
  });

  after(async () => {
    await cli?.stop('SIGKILL');
    await upstream?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('leaves the store intact and every issued session valid', { timeout: 90_000 }, async (t) => {
    cli = await startServe();
    const base = `http://127.0.0.1:${port}`;
    const cookies: string[] = [];
    let failures = 0;
    let killed = false;
    const signingIn = USERS.map(async (name) => {
      while (!killed) {
        try {
          cookies.push(await signIn(base, name, ALICE_PASSWORD));
        } catch {
          failures++;
        }
      }
    });
    while (cookies.length < 12) await new Promise((resolve) => setTimeout(resolve, 20));
    cli.child.kill('SIGKILL');
    await cli.exited;
    killed = true;
    await Promise.all(signingIn);
    t.diagnostic(`${cookies.length} sign-ins completed before the kill, ${failures} cut by it`);

    const db = new SQLite(join(dataDir, 'dashgate.db'));
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }

    cli = await startServe();
    for (const cookie of cookies) {
      const res = await fetch(`${base}/after-restart`, { redirect: 'manual', headers: { cookie, accept: 'text/html' } });
      assert.equal(res.status, 200, 'a session issued before the kill is valid after it');
      await res.arrayBuffer();
    }
    assert.ok(await signIn(base, 'ann', ALICE_PASSWORD), 'and signing in works');
  });
});
