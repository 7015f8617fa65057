/**
 * Three real `dashgate serve` processes on one PostgreSQL database and the shared Redis (the
 * first with server.workers: 2, so its two workers each hold their own Redis link), with a
 * 10-minute session cache and everything configured through DASHGATE_* variables: signed in on
 * A, used on B and C, signed out on C; A (both workers) and B refuse it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { findFreePort } from '../../src/runner/free-port.js';
import { REPO_ROOT } from '../helpers/browser.js';
import { startCli, type CliProcess } from '../helpers/cli-process.js';
import { ALICE_PASSWORD, POSTGRES_URL, signIn, startRecordingUpstream } from '../helpers/harness.js';
import { signOut, uniqueKeyPrefix, waitFor } from '../helpers/instances.js';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** One request on a connection of its own (so A's two workers share the load); a refusal's request id names the worker that refused. */
function fresh(base: string, path: string, cookie: string): Promise<{ status: number; worker: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, agent: false, headers: { accept: 'application/json', connection: 'close', cookie } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, worker: String(res.headers['x-request-id'] ?? '').split('-')[0]! }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('three dashgate processes on one PostgreSQL and Redis', { timeout: 180_000 }, () => {
  const database = `dg_test_proc_${randomBytes(5).toString('hex')}`;
  const databaseUrl = POSTGRES_URL.replace(/\/test$/, `/${database}`);
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  const processes: CliProcess[] = [];
  const bases: string[] = [];

  before(async () => {
    await admin(`create database ${database}`);
    upstream = await startRecordingUpstream();
    const env = {
      DASHGATE_DATABASE__URL: databaseUrl,
      DASHGATE_REDIS__URL: 'redis://127.0.0.1:6379',
      DASHGATE_REDIS__KEY_PREFIX: uniqueKeyPrefix(),
      DASHGATE_SESSION__CACHE_TTL: '10m',
    };
    const add = spawnSync(process.execPath, ['bin/dashgate.js', 'users', 'add', 'alice', '--password-stdin'], { cwd: REPO_ROOT, input: ALICE_PASSWORD, encoding: 'utf8', env: { ...process.env, ...env, DASHGATE_LOG__LEVEL: 'silent' } });
    assert.equal(add.status, 0, add.stderr);
    for (const workers of ['2', '1', '1']) {
      const port = await findFreePort();
      const cli = startCli(['serve', '--upstream', upstream.url, '--port', String(port)], { ...env, DASHGATE_SERVER__WORKERS: workers });
      processes.push(cli);
      bases.push(`http://127.0.0.1:${port}`);
      await cli.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('Dashgate is guarding'));
    }
    // Every gateway process says so once it hears its own heartbeat (A: both workers).
    for (const [i, cli] of processes.entries()) {
      const expected = i === 0 ? 2 : 1;
      await waitFor(`process ${i} connected to Redis`, () => cli.logs.filter((line) => String(line.msg).startsWith('Redis connected')).length >= expected);
    }
  });
  after(async () => {
    for (const cli of processes) assert.equal((await cli.stop()).code, 0, 'stops cleanly with its Redis links');
    await upstream?.close();
    await admin(`drop database if exists ${database} with (force)`);
  });

  it('a sign-out on C is honoured by both workers of A and by B, whatever they cached', async () => {
    const [a, b, c] = bases as [string, string, string];
    const cookie = await signIn(a, 'alice', ALICE_PASSWORD);
    const workersOfA = new Set<string>();
    for (let i = 0; i < 100 && workersOfA.size < 2; i++) {
      const res = await fresh(a, `/a-${i}`, cookie);
      assert.equal(res.status, 200);
      // Proxied answers are the app's: the request id it received names the worker.
      workersOfA.add(String(upstream.requests.at(-1)!.headers['x-request-id']).split('-')[0]!);
    }
    assert.equal(workersOfA.size, 2, "both of A's workers cached the session");
    for (const base of [b, c]) assert.equal((await fresh(base, '/page', cookie)).status, 200);
    const ready = (await (await fetch(`${b}/_dashgate/ready`)).json()) as { parts: Record<string, string> };
    assert.equal(ready.parts.redis, 'ok');

    assert.equal(await signOut(c, cookie), 303);
    const refusedBy = new Set<string>();
    await waitFor("both of A's workers refuse the ended session", async () => {
      const res = await fresh(a, '/after', cookie);
      if (res.status === 401) refusedBy.add(res.worker);
      else assert.equal(res.status, 200);
      return refusedBy.size === 2;
    });
    await waitFor('B refuses the ended session', async () => (await fresh(b, '/after', cookie)).status === 401);
  });
});
