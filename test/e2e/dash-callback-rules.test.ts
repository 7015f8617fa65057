/**
 * Callback rules against a real Dash app (gunicorn, Chromium), at the root and under a path
 * prefix: single-output, multi-output, allow_duplicate ("@<hash>") and pattern-matching (MATCH)
 * callbacks that write salary data are refused for a user outside "hr" with a 403 the page helper
 * shows as a notice, while the app's other callbacks keep working; an hr user gets everything.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { expectText, holdToLoopback, launchChromium, startGunicorn, stopProcessGroup, UI_TIMEOUT_MS } from '../helpers/browser.js';
import { createUser, signIn, startGateway, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'payroll passphrase';
const CALLBACK_RULES = [
  { name: 'salary outputs', outputs: ['salary-table.children', 'salary-total.children'], groups: ['hr'] },
  { name: 'salary cells', outputs: ['{"type":"salary-cell","index":"*"}.children'], groups: ['hr'] },
];

for (const prefix of ['/', '/app/']) {
  describe(`callback rules on a real Dash app served at ${prefix}`, { timeout: 240_000 }, () => {
    let dash: ChildProcess | undefined;
    let gw: TestGateway;
    let browser: Browser;
    const offHost: string[] = [];

    before(async () => {
      const started = await startGunicorn('test/fixtures/dash_callbacks', { env: { DASH_PREFIX: prefix } });
      dash = started.child;
      gw = await startGateway(started.url, { dash: { prefix, callbacks: CALLBACK_RULES } });
      await createUser(gw.store, 'ana', PASSWORD, { groups: ['analysts'] });
      await createUser(gw.store, 'harry', PASSWORD, { groups: ['analysts', 'hr'] });
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      await gw?.close();
      if (dash) await stopProcessGroup(dash);
      assert.deepEqual(offHost, []);
    });

    async function openAs(username: string): Promise<Page> {
      const [name, value] = (await signIn(gw.url, username, PASSWORD)).split('=') as [string, string];
      const context = await browser.newContext();
      await holdToLoopback(context, offHost);
      await context.addCookies([{ name, value, url: gw.url }]);
      const page = await context.newPage();
      await page.goto(`${gw.url}${prefix}`);
      await page.getByRole('heading', { name: 'Payroll' }).waitFor({ timeout: UI_TIMEOUT_MS });
      return page;
    }

    /** Clicks and waits for the callback's answer; returns its status. */
    async function clickForCallback(page: Page, button: string): Promise<number> {
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().includes('_dash-update-component'), { timeout: UI_TIMEOUT_MS }),
        page.getByRole('button', { name: button, exact: true }).click(),
      ]);
      return response.status();
    }

    it('refuses every shape of protected callback to a user outside hr, and says so on the page', async () => {
      const page = await openAs('ana');
      assert.equal(await clickForCallback(page, 'Load salaries'), 403, 'single output');
      await expectText(page.locator('.dg-notice').first(), 'You do not have access to this part of Dash app.');
      assert.equal(await clickForCallback(page, 'Reset table'), 403, 'allow_duplicate output (id@hash)');
      assert.equal(await clickForCallback(page, 'Summarise'), 403, 'multi-output with one protected output');
      assert.equal(await clickForCallback(page, 'Show ada'), 403, 'pattern-matching MATCH output');
      assert.equal(await page.locator('#salary-table').textContent(), '');
      assert.equal(await page.locator('#summary').textContent(), '', 'a refused multi-output callback writes none of its outputs');
      assert.equal(await page.locator('#salary-total').textContent(), '');
      assert.equal(await page.locator('[id*="salary-cell"]').first().textContent(), '');
      // The app still works for everything else.
      assert.equal(await clickForCallback(page, 'Say hello'), 200);
      await expectText(page.locator('#greeting'), 'Hello from the app');
      await page.context().close();
    });

    it('lets an hr user run all of them', async () => {
      const page = await openAs('harry');
      assert.equal(await clickForCallback(page, 'Load salaries'), 200);
      await expectText(page.locator('.salary-row').first(), 'ada: 7100');
      assert.equal(await clickForCallback(page, 'Summarise'), 200);
      await expectText(page.locator('#salary-total'), 'total 20400');
      await expectText(page.locator('#summary'), '3 people');
      assert.equal(await clickForCallback(page, 'Show grace'), 200);
      await expectText(page.locator('[id*="salary-cell"]').nth(1), '= 6900');
      assert.equal(await clickForCallback(page, 'Reset table'), 200);
      await expectText(page.locator('#salary-table'), 'table reset');
      assert.equal(await page.locator('.dg-notice').count(), 0);
      await page.context().close();
    });
  });
}
