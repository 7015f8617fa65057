/**
 * `dashgate run -- python app.py` as a user types it: the CLI starts the Dash app on a private
 * port, prints a one-time setup link because there are no users yet, and on SIGTERM stops the app
 * with itself. Chromium follows the link, creates the first account, uses the app and signs out.
 *
 * Needs the Python venv with dash (`.venv/bin/python`, or E2E_PYTHON) and Chromium at
 * /usr/bin/chromium. Every request the browser makes is held to 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { findFreePort } from '../../src/runner/free-port.js';
import { expectText, holdToLoopback, launchChromium, REPO_ROOT, testPython } from '../helpers/browser.js';

const PASSWORD = 'correct horse battery';

describe('dashgate run in front of a Dash app, first run to shutdown', { timeout: 240_000 }, () => {
  let cli: ChildProcess;
  let output: CapturedOutput;
  let dataDir: string;
  let gatewayUrl: string;
  let appPort: number;
  let setupLink: string;
  let browser: Browser;
  let page: Page;
  const offHostRequests: string[] = [];

  before(async () => {
    const python = testPython();
    dataDir = mkdtempSync(join(tmpdir(), 'dashgate-run-e2e-'));
    const port = await findFreePort();
    gatewayUrl = `http://127.0.0.1:${port}`;
    cli = spawn(process.execPath, ['bin/dashgate.js', 'run', '--port', String(port), '--data-dir', dataDir, '--', python, 'test/fixtures/dash_app/app.py'], {
      cwd: REPO_ROOT,
      // Own process group: if the test fails midway, `after` can still end the app the CLI started.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...environmentWithoutDashgateSettings(), PYTHONDONTWRITEBYTECODE: '1' },
    });
    output = captureOutput(cli);

    // The CLI logs the app's private port (JSON lines: stdout is not a terminal) ...
    const started = await output.waitFor('stdout', /"port":(\d+)[^\n]*"msg":"starting the app"/, 60_000);
    appPort = Number(started[1]);
    // ... and, once it listens, prints the setup link on stderr, never through the logger.
    setupLink = (await output.waitFor('stderr', /(http:\/\/\S+\/_dashgate\/setup\?token=\S+)/, 90_000))[1]!;

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    await holdToLoopback(context, offHostRequests);
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    if (cli?.pid !== undefined) {
      const running = cli.exitCode === null && cli.signalCode === null;
      const exited = running ? new Promise((done) => cli.once('exit', done)) : Promise.resolve();
      // The whole group: also an app left behind by a CLI that failed to stop it.
      try {
        process.kill(-cli.pid, 'SIGKILL');
      } catch {
        // ESRCH: nothing of the group is left.
      }
      await exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints a one-time setup link to the address it listens on', () => {
    assert.ok(setupLink.startsWith(`${gatewayUrl}/_dashgate/setup?token=`), `unexpected setup link ${setupLink}`);
    assert.notEqual(appPort, Number(new URL(gatewayUrl).port));
  });

  it('creates the first account from the setup link and lands in the app, signed in', async () => {
    await page.goto(setupLink);
    await page.locator('#username').fill('alice');
    await page.locator('#email').fill('alice@example.com');
    await page.locator('#password').fill(PASSWORD);
    await page.locator('#password2').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account and sign in' }).click();
    await page.waitForURL(`${gatewayUrl}/`);

    await expectText(page.locator('#whoami'), 'Signed in as alice');
    await expectText(page.locator('#graph .gtitle'), 'Temperature in Montreal');
    await expectText(page.locator('.dg-badge .dg-user'), 'alice');
  });

  it('runs a callback when the dropdown changes', async () => {
    await page.locator('#city').click();
    await page.getByRole('option', { name: 'Oslo', exact: true }).click();
    await expectText(page.locator('#chosen'), 'Selected: Oslo');
    await expectText(page.locator('#graph .gtitle'), 'Temperature in Oslo');
  });

  it('signs out from the badge, and the new account signs in again with its password', async () => {
    await page.locator('.dg-badge .dg-logout').click();
    await page.waitForURL(`${gatewayUrl}/_dashgate/login?signed_out=1`);
    await page.getByText('You have signed out.').waitFor();

    await page.locator('#username').fill('alice');
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${gatewayUrl}/`);
    await expectText(page.locator('#whoami'), 'Signed in as alice');
  });

  it('sent nothing to any host but 127.0.0.1', () => {
    assert.deepEqual(offHostRequests, []);
  });

  it('stops the app with itself on SIGTERM', async () => {
    assert.equal(await answers(appPort), true, 'the app answers while the gateway runs');
    const exited = new Promise<number | null>((done) => cli.once('exit', (code) => done(code)));
    // To the CLI alone, not its group: stopping the app is the CLI's job.
    cli.kill('SIGTERM');
    assert.equal(await exited, 0, `the CLI should exit cleanly; its stderr:\n${output.text('stderr')}`);
    assert.equal(await answers(appPort), false, 'the Dash app still answers after the gateway stopped');
    assert.equal(await answers(Number(new URL(gatewayUrl).port)), false, 'the gateway still answers after it stopped');
  });
});

/**
 * The CLI reads every DASHGATE_* variable as a setting and refuses unknown ones, so the test's
 * own E2E_PYTHON (or a developer's DASHGATE_SERVER__PORT) must not reach it.
 */
function environmentWithoutDashgateSettings(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('DASHGATE_')));
}

interface CapturedOutput {
  text(stream: 'stdout' | 'stderr'): string;
  /** Resolves with the first match of `pattern` in `stream`; rejects if the process exits first or time runs out. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
}

function captureOutput(child: ChildProcess): CapturedOutput {
  const texts = { stdout: '', stderr: '' };
  const listeners = new Set<() => void>();
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]!.setEncoding('utf8').on('data', (chunk: string) => {
      texts[stream] += chunk;
      for (const listener of listeners) listener();
    });
  }
  child.on('exit', () => {
    for (const listener of listeners) listener();
  });
  return {
    text: (stream) => texts[stream],
    waitFor(stream, pattern, timeoutMs) {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          const match = texts[stream].match(pattern);
          if (match) finish(() => resolvePromise(match));
          else if (child.exitCode !== null || child.signalCode !== null) {
            finish(() => reject(new Error(`dashgate exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${texts.stdout}\n${texts.stderr}`)));
          }
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`dashgate did not print ${pattern} within ${timeoutMs / 1000} s:\n${texts.stdout}\n${texts.stderr}`))), timeoutMs);
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Whether something answers HTTP on 127.0.0.1:`port`. */
function answers(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/`, { redirect: 'manual', signal: AbortSignal.timeout(5000) }).then(
    async (res) => (await res.arrayBuffer(), true),
    () => false,
  );
}
