/**
 * `dashgate run` never leaves its app behind: SIGTERM stops the app with the gateway, and a
 * gateway killed with SIGKILL (no code of its own runs) still takes the app, gunicorn's workers
 * included, with it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../../src/runner/free-port.js';
import { REPO_ROOT, testPython } from '../helpers/browser.js';
import { startCli } from '../helpers/cli-process.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
};

/** The pids of `pid` and everything below it, from /proc. */
function tree(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return [pid, ...children.flatMap(tree)];
}

async function gone(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 100; i++) {
    const left = pids.filter(alive);
    if (left.length === 0) return [];
    await new Promise((r) => setTimeout(r, 100));
  }
  return pids.filter(alive);
}

describe('dashgate run and its app', { timeout: 120_000 }, () => {
  for (const [name, signal] of [['SIGKILL', 'SIGKILL'], ['SIGTERM', 'SIGTERM']] as const) {
    it(`regression: a gateway stopped with ${name} leaves no app process behind (gunicorn master and workers)`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-orphans-'));
      const port = await findFreePort();
      const cli = startCli(['run', '--port', String(port), '--data-dir', dataDir, '--', testPython(), '-m', 'gunicorn', '-w', '2', '-b', '127.0.0.1:{port}', '--chdir', join(REPO_ROOT, 'test/fixtures/dash_app'), 'app:server']);
      try {
        await cli.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('Dashgate is guarding'));
        const app = tree(cli.child.pid!).filter((pid) => pid !== cli.child.pid);
        assert.ok(app.length >= 3, `gunicorn's master and two workers run under the gateway (saw ${app.length})`);
        cli.child.kill(signal);
        await cli.exited;
        assert.deepEqual(await gone(app), [], 'every app process ended');
      } finally {
        if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }
});
