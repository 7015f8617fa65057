/**
 * A real Dash app under gunicorn, the gateway in front of it, and Chromium: sign-in, callbacks,
 * page changes, an in-page renewal of a session revoked on the server, and sign-out.
 *
 * Needs the Python venv with dash and gunicorn (`.venv/bin/python`, or E2E_PYTHON) and
 * Chromium at /usr/bin/chromium. Every request the browser makes is held to 127.0.0.1.
 *
 * Set DASHGATE_E2E_SCREENSHOTS=<dir> to keep screenshots of the login page and the signed-in app.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { User } from '../../src/store/types.js';
import { expectText, holdToLoopback, launchChromium, startGunicorn, stopProcessGroup, UI_TIMEOUT_MS } from '../helpers/browser.js';
import { createUser, startGateway, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'correct horse battery';

describe('a Dash app behind the gateway, in Chromium', { timeout: 240_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let alice: User;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const offHostRequests: string[] = [];

  before(async () => {
    const started = await startGunicorn('test/fixtures/dash_app', { workers: 2 });
    dash = started.child;
    const upstream = started.url;

    gw = await startGateway(upstream);
    alice = await createUser(gw.store, 'alice', PASSWORD);

    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    await holdToLoopback(context, offHostRequests);
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await gw?.close();
    if (dash) await stopProcessGroup(dash);
  });

  it('sends an anonymous visitor to the login page', async () => {
    await page.goto(`${gw.url}/`);
    assert.equal(page.url(), `${gw.url}/_dashgate/login`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await screenshot(page, 'login-page');
  });

  it('signs in and shows the app, which learns who is signed in', async () => {
    await page.locator('#username').fill('alice');
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${gw.url}/`);

    await expectText(page.locator('#whoami'), 'Signed in as alice');
    await expectText(page.locator('#graph .gtitle'), 'Temperature in Montreal');
    await expectText(page.locator('.dg-badge .dg-user'), 'alice');
  });

  it('runs a callback when the dropdown changes', async () => {
    await chooseCity(page, 'Oslo');
    await expectText(page.locator('#chosen'), 'Selected: Oslo');
    await expectText(page.locator('#graph .gtitle'), 'Temperature in Oslo');
    await screenshot(page, 'signed-in-app');
  });

  it('moves to page 2 and back without reloading', async () => {
    await setMarker(page);
    await page.getByRole('link', { name: 'Page 2' }).click();
    await page.waitForURL(`${gw.url}/page-2`);
    await page.getByRole('heading', { name: 'Page 2: about' }).waitFor({ timeout: UI_TIMEOUT_MS });

    await page.getByRole('link', { name: 'Page 1' }).click();
    await page.waitForURL(`${gw.url}/`);
    await expectText(page.locator('#graph .gtitle'), 'Temperature in Montreal');
    await expectText(page.locator('#whoami'), 'Signed in as alice');
    assert.equal(await readMarker(page), 1, 'a dcc.Link navigation must not reload the page');
  });

  it('renews a session revoked on the server in a dialog, keeping the page and finishing the callback', async () => {
    await setMarker(page);
    assert.ok((await gw.gateway.sessions.invalidateUserSessions(alice.id)) >= 1, 'alice had a session to end');

    await chooseCity(page, 'Lima');
    const dialog = page.locator('dialog.dg-dialog');
    await dialog.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    assert.equal(await dialog.evaluate((node) => (node as HTMLDialogElement).open), true);
    // Dash has not seen the refused callback: the old output stays until the retry succeeds.
    await expectText(page.locator('#chosen'), 'Selected: Montreal');
    assert.equal(page.url(), `${gw.url}/`);
    assert.equal(await readMarker(page), 1, 'the 401 must not reload the page');
    await screenshot(page, 'session-expired-dialog');

    // A wrong password keeps the dialog open with the gateway's generic message.
    await dialog.locator('#dg-username').fill('alice');
    await dialog.locator('#dg-password').fill('not the password');
    await dialog.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expectText(dialog.locator('#dg-error'), 'The username or password is not correct.');

    await dialog.locator('#dg-password').fill(PASSWORD);
    await dialog.getByRole('button', { name: 'Sign in', exact: true }).click();
    await dialog.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
    await expectText(page.locator('#chosen'), 'Selected: Lima');
    await expectText(page.locator('#graph .gtitle'), 'Temperature in Lima');
    await expectText(page.locator('.dg-badge .dg-user'), 'alice');
    assert.equal(await readMarker(page), 1, 'signing in again must not reload the page');
  });

  it('signs out from the badge and lands on the login page', async () => {
    await page.locator('.dg-badge .dg-logout').click();
    await page.waitForURL(`${gw.url}/_dashgate/login?signed_out=1`);
    await page.getByText('You have signed out.').waitFor();

    await page.goto(`${gw.url}/`);
    assert.equal(page.url(), `${gw.url}/_dashgate/login`, 'the session ended on the server too');
  });

  it('sent nothing to any host but 127.0.0.1', () => {
    assert.deepEqual(offHostRequests, []);
  });
});

/** Opens the Dash 4 dropdown `#city` and picks `city`. */
async function chooseCity(page: Page, city: string): Promise<void> {
  await page.locator('#city').click();
  await page.getByRole('option', { name: city, exact: true }).click();
}

/** A value on `window` that only survives as long as the document does: proof of no reload. */
async function setMarker(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as { __marker?: number }).__marker = 1;
  });
}

function readMarker(page: Page): Promise<number | undefined> {
  return page.evaluate(() => (window as unknown as { __marker?: number }).__marker);
}

async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.DASHGATE_E2E_SCREENSHOTS;
  if (dir) await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}
