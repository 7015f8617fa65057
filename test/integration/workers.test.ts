/**
 * `server.workers: 2`: two gateway processes on one port (the real CLI). A session ended through
 * one is refused at once by the other (the change bus), however long the other had it cached;
 * simultaneous bad credentials spread over both are checked one at a time (the shared lock).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findFreePort } from '../../src/runner/free-port.js';
import { startCli, type CliProcess } from '../helpers/cli-process.js';
import { signIn, startRecordingUpstream } from '../helpers/harness.js';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../helpers/browser.js';

const PASSWORD = 'correct horse battery';

/** One request on a connection of its own (so the two workers share the load). */
function fresh(base: string, path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; body: string; worker: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method, agent: false, headers: { accept: 'application/json', connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      // The per-process prefix of the request id says which worker answered.
      res.on('end', () => resolve({ status: res.statusCode!, body, worker: String(res.headers['x-request-id'] ?? '').split('-')[0]! }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('server.workers: 2', { timeout: 120_000 }, () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let cli: CliProcess;
  let base: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-workers-'));

  before(async () => {
    upstream = await startRecordingUpstream();
    const add = spawnSync(process.execPath, ['bin/dashgate.js', 'users', 'add', 'alice', '--data-dir', dataDir, '--password-stdin'], { cwd: REPO_ROOT, input: PASSWORD, encoding: 'utf8', env: { ...process.env, DASHGATE_LOG__LEVEL: 'silent' } });
    assert.equal(add.status, 0, add.stderr);
    const port = await findFreePort();
    base = `http://127.0.0.1:${port}`;
    cli = startCli(['serve', '--upstream', upstream.url, '--port', String(port), '--data-dir', dataDir], {
      DASHGATE_SERVER__WORKERS: '2',
      // Long enough that, without the change bus, the other worker would keep believing a session for the whole test.
      DASHGATE_SESSION__CACHE_TTL: '10m',
      DASHGATE_THROTTLE__ACCOUNT_FREE_FAILURES: '3',
      DASHGATE_THROTTLE__IP_FREE_FAILURES: '3',
      // Each round of guesses below comes from its own address.
      DASHGATE_SERVER__TRUSTED_PROXIES: '[127.0.0.1]',
    });
    await cli.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('Dashgate is guarding'));
  });
  after(async () => {
    const exited = await cli?.stop();
    assert.equal(exited?.code, 0, 'the primary stops its workers and exits 0');
    await upstream?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Which worker forwarded a request: the per-process prefix of the request id the app received. */
  const workerOf = (requestId: unknown) => String(requestId).split('-')[0]!;

  it('a session ended through one worker is refused by the other at once', async () => {
    const cookie = await signIn(base, 'alice', PASSWORD);
    // Until both workers have the session in their cache.
    const served = new Set<string>();
    for (let i = 0; i < 100 && served.size < 2; i++) {
      const res = await fresh(base, `/mine-${i}`, { cookie });
      assert.equal(res.status, 200);
      served.add(workerOf(upstream.requests.at(-1)!.headers['x-request-id']));
    }
    assert.equal(served.size, 2, 'both workers cached the session');
    const page = await fetch(`${base}/_dashgate/api/session`, { headers: { cookie } });
    const { csrf } = (await page.json()) as { csrf: string };
    const out = await fetch(`${base}/_dashgate/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: base }, body: new URLSearchParams({ csrf }) });
    assert.equal(out.status, 303);
    // The bus is asynchronous: the other worker drops its copy within moments, never after its
    // 10-minute cache. Asked until both workers have answered: each must refuse.
    const refusedBy = new Set<string>();
    for (let round = 0; round < 100 && refusedBy.size < 2; round++) {
      const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => fresh(base, `/after-${round}-${i}`, { cookie })));
      for (const answer of answers) {
        if (answer.status === 200) {
          assert.ok(round < 20, `a worker still believed the ended session after ${round} rounds`);
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        assert.equal(answer.status, 401);
        refusedBy.add(answer.worker);
      }
    }
    assert.equal(refusedBy.size, 2, 'both workers refused it');
  });

  it('simultaneous bad tokens spread over both workers are checked one at a time: exactly the free ones get 401', async () => {
    // The kernel picks the worker for each connection: rounds (each from a new address) until one reached both.
    for (let round = 1; round <= 20; round++) {
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => fresh(base, `/guess-${i}`, { authorization: `Bearer dgt_${'a'.repeat(24)}.${String(i).padStart(43, 'b')}`, 'x-forwarded-for': `10.9.0.${round}` })));
      if (new Set(answers.map((a) => a.worker)).size < 2) continue;
      const statuses = answers.map((a) => a.status).sort();
      assert.equal(statuses.filter((s) => s === 401).length, 3, statuses.join(','));
      assert.equal(statuses.filter((s) => s === 429).length, 9);
      return;
    }
    assert.fail('no round of guesses reached both workers');
  });
});
