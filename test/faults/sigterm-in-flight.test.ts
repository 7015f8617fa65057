import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findFreePort } from '../../src/runner/free-port.js';
import { startCli, type CliProcess } from '../helpers/cli-process.js';
import { startRecordingUpstream } from '../helpers/harness.js';

/**
 * SIGTERM while requests are in flight (issue 14): the real CLI in a child process, 16 requests
 * held by the app until after the signal; every one completes with the app's answer and the
 * process exits 0. What holds today; server.drain_timeout and WebSocket closes extend this file.
 */
describe('SIGTERM with requests in flight', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-sigterm-'));
  const held: ServerResponse[] = [];
  let arrived: () => void = () => {};
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let cli: CliProcess;
  let base: string;

  before(async () => {
    upstream = await startRecordingUpstream((req, res) => {
      if (req.url === '/') return res.end('ok');
      held.push(res);
      if (held.length === 16) arrived();
    });
    const port = await findFreePort();
    base = `http://127.0.0.1:${port}`;
    // Public paths: the requests need no session, only the proxy.
    cli = startCli(['serve', '--upstream', upstream.url, '--port', String(port), '--data-dir', dataDir], { DASHGATE_ACCESS__DEFAULT: 'public' });
    await cli.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('Dashgate is guarding'));
  });

  after(async () => {
    await cli?.stop('SIGKILL');
    await upstream?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every request in flight completes and the process exits 0', { timeout: 60_000 }, async () => {
    const allArrived = new Promise<void>((resolve) => (arrived = resolve));
    const requests = Array.from({ length: 16 }, (_, i) => fetch(`${base}/held/${i}`).then(async (res) => ({ status: res.status, body: await res.text() })));
    await allArrived;

    cli.child.kill('SIGTERM');
    await cli.waitForLog((line) => line.msg === 'shutting down');
    for (const [i, res] of held.entries()) res.end(`answer ${i}`);

    const answers = await Promise.all(requests);
    assert.deepEqual(answers.map((a) => a.status), Array(16).fill(200));
    assert.deepEqual(answers.map((a) => a.body), Array.from({ length: 16 }, (_, i) => `answer ${i}`));
    assert.deepEqual(await cli.exited, { code: 0, signal: null });
  });
});
