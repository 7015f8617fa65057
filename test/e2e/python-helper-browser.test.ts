/**
 * The Python helper in a browser: a Dash app using `dashgate` (python/tests/app_with_helper.py)
 * behind `dashgate run`. The page shows the user read from the verified JWT, and the app's own
 * `create_logout_button()` signs out in one click (the page helper turns its GET form into the
 * CSRF-protected POST).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { findFreePort } from '../../src/runner/free-port.js';
import { expectText, holdToLoopback, launchChromium, REPO_ROOT, testPython, UI_TIMEOUT_MS } from '../helpers/browser.js';

describe('the Python helper in a real Dash app, in Chromium', { timeout: 180_000 }, () => {
  let cli: ChildProcess;
  let dataDir: string;
  let base: string;
  let browser: Browser;
  const offHost: string[] = [];
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('DASHGATE_')));

  before(async () => {
    const python = testPython();
    dataDir = mkdtempSync(join(tmpdir(), 'dashgate-pyhelper-'));
    const add = spawnSync(process.execPath, ['bin/dashgate.js', 'users', 'add', 'alice', '--groups', 'hr', '--password-stdin', '--data-dir', dataDir], { cwd: REPO_ROOT, env, input: 'alice passphrase 1', encoding: 'utf8' });
    assert.equal(add.status, 0, add.stderr);
    const port = await findFreePort();
    base = `http://127.0.0.1:${port}`;
    cli = spawn(process.execPath, ['bin/dashgate.js', 'run', '--port', String(port), '--data-dir', dataDir, '--', python, 'python/tests/app_with_helper.py'], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: 'ignore',
      env: { ...env, PYTHONPATH: join(REPO_ROOT, 'python') },
    });
    const deadline = Date.now() + 90_000;
    for (;;) {
      const up = await fetch(`${base}/_dashgate/health`).then((r) => r.ok, () => false);
      if (up) break;
      if (Date.now() > deadline) throw new Error('dashgate run did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    if (cli?.pid !== undefined) {
      const exited = cli.exitCode === null ? new Promise((done) => cli.once('exit', done)) : Promise.resolve();
      process.kill(-cli.pid, 'SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows the verified user and signs out with the app\'s own logout button', async () => {
    const context = await browser.newContext();
    await holdToLoopback(context, offHost);
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.waitForURL(/\/_dashgate\/login/, { timeout: UI_TIMEOUT_MS });
    await page.fill('#username', 'alice');
    await page.fill('#password', 'alice passphrase 1');
    await page.click('button[type=submit]');
    await expectText(page.locator('#who'), 'user=alice name=alice via=jwt');
    await expectText(page.locator('#salaries'), 'salary table');
    await page.locator('form[data-dashgate-logout] button').click();
    await page.waitForURL(/\/_dashgate\/login\?signed_out=1$/, { timeout: UI_TIMEOUT_MS });
    const again = await page.request.get(`${base}/_dash-layout`, { headers: { accept: 'application/json' } });
    assert.equal(again.status(), 401, 'the session really ended (one click, no confirm page)');
    assert.deepEqual(offHost, []);
  });
});
