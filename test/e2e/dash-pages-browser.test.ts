/**
 * The README's example "/reports/** for finance only" in Chromium, against real Dash apps
 * reached through the gateway: a Dash Pages app at "/" and under a prefix, the tutorial's
 * dcc.Location routing, and the Pages app on Dash's FastAPI backend with every callback over
 * its WebSocket. carol (analysts) clicks the in-app link and gets the gateway's "no access"
 * panel, never the content; bob (finance) gets the page; deep links, reloads, Back and Forward
 * agree; an ended session under an open WebSocket page brings up the sign-in dialog.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { expectText, holdToLoopback, launchChromium, startGunicorn, startUvicorn, stopProcessGroup, UI_TIMEOUT_MS } from '../helpers/browser.js';
import { createUser, signIn, startGateway, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'reports passphrase';

interface Setup {
  name: string;
  prefix: string;
  start(): Promise<{ child: ChildProcess; url: string }>;
  /** Where the page's content is rendered (the refused callback's output). */
  content: string;
}

const SETUPS: Setup[] = [
  { name: 'Dash Pages at /', prefix: '/', start: () => startGunicorn('test/fixtures/dash_pages'), content: '#_pages_content' },
  { name: 'Dash Pages under /app/', prefix: '/app/', start: () => startGunicorn('test/fixtures/dash_pages', { env: { DASH_PREFIX: '/app/' } }), content: '#_pages_content' },
  { name: 'dcc.Location routing', prefix: '/', start: () => startGunicorn('test/fixtures/dash_location'), content: '#page-content' },
  { name: 'Dash Pages over WebSocket callbacks (FastAPI)', prefix: '/', start: () => startUvicorn('test/fixtures/dash_pages', { env: { DASH_WEBSOCKET: '1' } }), content: '#_pages_content' },
];

for (const setup of SETUPS) {
  describe(`page rules in the browser: ${setup.name}`, { timeout: 240_000 }, () => {
    let dash: ChildProcess | undefined;
    let gw: TestGateway;
    let browser: Browser;
    const offHost: string[] = [];
    const at = (path: string) => `${setup.prefix.replace(/\/$/, '')}${path}`;

    before(async () => {
      const started = await setup.start();
      dash = started.child;
      gw = await startGateway(started.url, {
        access: { rules: [{ path: at('/about'), policy: 'public' }, { path: at('/reports/**'), groups: ['finance'], components: ['load-figures', 'report-*'] }] },
        dash: { prefix: setup.prefix },
      });
      await createUser(gw.store, 'carol', PASSWORD, { groups: ['analysts'] });
      await createUser(gw.store, 'bob', PASSWORD, { groups: ['analysts', 'finance'] });
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      await gw?.close();
      if (dash) await stopProcessGroup(dash);
      assert.deepEqual(offHost, []);
    });

    /** A page signed in as `username`, at the app's home page, with every response body it received recorded. */
    async function openAs(username: string): Promise<{ page: Page; seen: string[]; cookie: string }> {
      const cookie = await signIn(gw.url, username, PASSWORD);
      const [name, value] = cookie.split('=') as [string, string];
      const context = await browser.newContext();
      await holdToLoopback(context, offHost);
      await context.addCookies([{ name, value, url: gw.url }]);
      const page = await context.newPage();
      const seen: string[] = [];
      page.on('response', (response) => void response.text().then((text) => seen.push(text), () => {}));
      page.on('websocket', (socket) => socket.on('framereceived', (frame) => seen.push(String(frame.payload))));
      await page.goto(`${gw.url}${at('/')}`);
      await page.getByRole('heading', { name: 'Reports app' }).waitFor({ timeout: UI_TIMEOUT_MS });
      await expectText(page.locator(`${setup.content} h2`), 'Home');
      return { page, seen, cookie };
    }
    const noAccess = (page: Page) => page.locator('[data-dashgate="no-access"]');
    const neverShown = (seen: string[]) => assert.ok(!seen.some((text) => /Confidential finance report|North: 1\.2M/.test(text)), 'the confidential page never reached the browser');

    it('carol clicks the in-app link and gets the no-access panel in place of the page, never its content', async () => {
      const { page, seen } = await openAs('carol');
      await page.getByRole('link', { name: 'Reports' }).click();
      await noAccess(page).waitFor({ timeout: UI_TIMEOUT_MS });
      await expectText(noAccess(page).getByRole('heading'), 'No access');
      await expectText(noAccess(page).locator('.dg-who'), 'Signed in as carol.');
      assert.ok(await page.locator(setup.content).isHidden(), 'the old page content is hidden under the panel');
      assert.equal(new URL(page.url()).pathname, at('/reports'));
      // Back leads home, the panel goes; Forward brings it back; the public page works.
      await noAccess(page).getByRole('button', { name: 'Go back' }).click();
      await expectText(page.locator(`${setup.content} h2`), 'Home');
      assert.equal(await noAccess(page).count(), 0);
      await page.goForward();
      await noAccess(page).waitFor({ timeout: UI_TIMEOUT_MS });
      await page.getByRole('link', { name: 'About' }).click();
      await expectText(page.locator(`${setup.content} h2`), 'About');
      assert.equal(await noAccess(page).count(), 0);
      neverShown(seen);
      await page.context().close();
    });

    it('a deep link and a reload of the page are refused the same way, by the gateway itself', async () => {
      const { page, seen } = await openAs('carol');
      const deep = await page.goto(`${gw.url}${at('/reports')}`);
      assert.equal(deep?.status(), 403);
      const reload = await page.reload();
      assert.equal(reload?.status(), 403);
      neverShown(seen);
      await page.context().close();
    });

    it('bob (finance) gets the page and its data, by link, deep link and reload', async () => {
      const { page } = await openAs('bob');
      await page.getByRole('link', { name: 'Reports' }).click();
      await expectText(page.locator(`${setup.content} h2`), 'Confidential finance report');
      await page.getByRole('button', { name: 'Load figures' }).click();
      await expectText(page.locator('.figure-row').first(), 'North: 1.2M');
      await page.reload();
      await expectText(page.locator(`${setup.content} h2`), 'Confidential finance report');
      assert.equal(await noAccess(page).count(), 0);
      await page.context().close();
    });

    it('"Switch account" signs carol out and brings bob to the page she was refused', async () => {
      const { page } = await openAs('carol');
      await page.getByRole('link', { name: 'Reports' }).click();
      await noAccess(page).getByRole('button', { name: 'Switch account' }).click();
      await page.waitForURL((url) => url.pathname === '/_dashgate/login', { timeout: UI_TIMEOUT_MS });
      await page.getByLabel('Username').fill('bob');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await expectText(page.locator(`${setup.content} h2`), 'Confidential finance report');
      assert.equal(new URL(page.url()).pathname, at('/reports'));
      await page.context().close();
    });

    if (setup.name.includes('WebSocket')) {
      it('callbacks really travel over the WebSocket, and a session ended under the open page brings up the sign-in dialog', async () => {
        const { page, cookie } = await openAs('carol');
        const httpCallbacks: string[] = [];
        page.on('request', (request) => {
          if (request.url().includes('_dash-update-component')) httpCallbacks.push(request.url());
        });
        await page.getByRole('link', { name: 'About' }).click();
        await expectText(page.locator('#_pages_content h2'), 'About');
        assert.deepEqual(httpCallbacks, [], 'no callback fell back to HTTP');
        const sessionId = decodeURIComponent(cookie.split('=')[1]!).split('.')[0]!;
        await gw.gateway.sessions.invalidateSession(sessionId);
        const dialog = page.getByRole('dialog', { name: 'Session expired' });
        await dialog.waitFor({ timeout: UI_TIMEOUT_MS });
        await dialog.getByLabel('Password').fill(PASSWORD);
        await dialog.getByRole('button', { name: 'Sign in' }).click();
        await dialog.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
        // The worker opens a new socket with the new session on the next callback.
        await page.getByRole('link', { name: 'Home' }).click();
        await expectText(page.locator('#_pages_content h2'), 'Home');
        await page.context().close();
      });
    }
  });
}
