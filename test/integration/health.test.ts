/**
 * Liveness and readiness: /_dashgate/health says the process answers; /_dashgate/ready asks the
 * store and the app (503 naming the part that is down); `dashgate health` turns either into an
 * exit code for probes in images without curl.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { BIN } from '../helpers/cli-process.js';
import { startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

/** The real CLI, asynchronously: the gateway it asks runs in this process. */
function healthCli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'health', ...args], { env: { ...process.env, DASHGATE_LOG__LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('health and readiness', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url);
  });
  after(async () => {
    await gw.close().catch(() => {});
    await upstream.close().catch(() => {});
  });

  async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${gw.url}${path}`);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('is live and ready, and says which parts it asked', async () => {
    assert.deepEqual(await get('/_dashgate/health'), { status: 200, body: { status: 'ok' } });
    assert.deepEqual(await get('/_dashgate/ready'), { status: 200, body: { status: 'ok', parts: { store: 'ok', upstream: 'ok' } } });
    const live = await healthCli('--url', gw.url);
    assert.equal(live.code, 0, live.stderr);
    assert.deepEqual(JSON.parse(live.stdout), { status: 'ok' });
    assert.equal((await healthCli('--ready', '--url', gw.url)).code, 0);
  });

  it('regression: is not ready while the app is down (health said ok), and stays live', async () => {
    await upstream.close();
    // Readiness is checked at most once a second.
    let ready = await get('/_dashgate/ready');
    for (let i = 0; i < 30 && ready.status === 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await get('/_dashgate/ready');
    }
    assert.deepEqual(ready, { status: 503, body: { status: 'unavailable', parts: { store: 'ok', upstream: 'unavailable' } } });
    assert.equal((await get('/_dashgate/health')).status, 200);
    const probe = await healthCli('--ready', '--url', gw.url);
    assert.equal(probe.code, 1);
    assert.match(probe.stderr, /\/_dashgate\/ready answered 503/);
  });

  it('is not ready when the store does not answer', async () => {
    await gw.store.close();
    let ready = await get('/_dashgate/ready');
    for (let i = 0; i < 30 && (ready.body.parts as Record<string, string>).store === 'ok'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await get('/_dashgate/ready');
    }
    assert.equal(ready.status, 503);
    assert.equal((ready.body.parts as Record<string, string>).store, 'unavailable');
  });

  it('the probe fails clearly when nothing answers', async () => {
    const probe = await healthCli('--url', 'http://127.0.0.1:1');
    assert.equal(probe.code, 1);
    assert.match(probe.stderr, /no answer from http:\/\/127\.0\.0\.1:1\/_dashgate\/health/);
  });
});
