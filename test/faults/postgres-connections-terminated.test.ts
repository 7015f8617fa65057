import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { findFreePort } from '../../src/runner/free-port.js';
import { startCli, type CliProcess } from '../helpers/cli-process.js';
import { startRecordingUpstream } from '../helpers/harness.js';

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/test';

/**
 * pg-pool re-emits the error of an idle pooled connection on the pool; without a listener Node
 * ended the gateway (exit 1, "Unhandled 'error' event … 57P01") the moment PostgreSQL restarted
 * or an operator terminated its connections. The real CLI runs in a child process so "the
 * process is still alive" is literally what is checked.
 */
describe('PostgreSQL terminates the gateway\'s connections', () => {
  const schema = `fault_${randomBytes(4).toString('hex')}`;
  const appName = `dashgate_fault_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-fault-'));
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let cli: CliProcess;
  let base: string;

  before(async () => {
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    upstream = await startRecordingUpstream();
    const port = await findFreePort();
    base = `http://127.0.0.1:${port}`;
    const url = `${ADMIN_URL}?application_name=${appName}&options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    cli = startCli(['serve', '--upstream', upstream.url, '--port', String(port), '--data-dir', dataDir, '--database-url', url]);
    await cli.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('Dashgate is guarding'));
  });

  after(async () => {
    await cli?.stop();
    await upstream?.close();
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Requests whose answer needs the store: a session cookie that must be looked up. */
  async function storeBackedRequests(count: number): Promise<number[]> {
    return Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const res = await fetch(`${base}/page-${i}`, { redirect: 'manual', headers: { accept: 'text/html', cookie: `dashgate_session=${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}` } });
        await res.arrayBuffer();
        return res.status;
      }),
    );
  }

  it('regression: terminating idle pooled connections (pg_terminate_backend) does not end the gateway', { timeout: 60_000 }, async () => {
    assert.deepEqual(new Set(await storeBackedRequests(8)), new Set([303]), 'unknown sessions are sent to sign in');

    const { rows } = await admin.query<{ terminated: boolean }>('select pg_terminate_backend(pid) as terminated from pg_stat_activity where application_name = $1', [appName]);
    assert.ok(rows.length > 0, 'the gateway had pooled connections to terminate');

    const lost = await cli.waitForLog((line) => line.kind === 'store.connection_lost');
    assert.equal(lost.level, 40, 'logged as a warning');
    assert.equal(cli.child.exitCode, null, 'the gateway is still running');

    // The lost connections were replaced: the store answers again.
    assert.deepEqual(new Set(await storeBackedRequests(8)), new Set([303]));
    assert.equal(cli.child.exitCode, null);
    assert.equal(cli.logs.filter((line) => line.kind === 'store.connection_lost' && line.repeated === undefined).length, 1, 'one line for the episode, not one per connection');
  });
});
