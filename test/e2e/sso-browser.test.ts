/**
 * Single sign-on in Chromium, end to end: a real Dash app behind the gateway, a real OpenID
 * Provider (oidc-provider, its own login page). A person opens a deep link, picks "Sign in with
 * Corp SSO", signs in at the provider, lands on the page they asked for with their name shown by
 * the Dash app and their provider groups applied; signing out ends the session here, continues
 * at the provider (RP-initiated logout) and comes back to the sign-in page.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { expectText, holdToLoopback, launchChromium, startGunicorn, stopProcessGroup, UI_TIMEOUT_MS } from '../helpers/browser.js';
import { freePort, startGateway, type TestGateway } from '../helpers/harness.js';
import { startTestOp, type TestOp } from '../helpers/oidc-op.js';

describe('single sign-on in the browser against a real OpenID Provider', { timeout: 240_000 }, () => {
  let dash: ChildProcess | undefined;
  let op: TestOp;
  let gw: TestGateway;
  let browser: Browser;
  let page: Page;
  let base: string;
  const offHost: string[] = [];

  before(async () => {
    const started = await startGunicorn('test/fixtures/dash_app');
    dash = started.child;
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    op = await startTestOp({
      clients: [{ client_id: 'weather', client_secret: 'browser test secret', redirect_uris: [`${base}/_dashgate/sso/corp/callback`], post_logout_redirect_uris: [`${base}/_dashgate/login?signed_out=1`] }],
      accounts: { 'dana@example.com': { sub: 'dana-1', email: 'dana@example.com', email_verified: true, name: 'Dana Data', preferred_username: 'dana', groups: ['weather-team'] } },
    });
    gw = await startGateway(
      started.url,
      {
        server: { public_url: base },
        branding: { app_name: 'Weather' },
        access: { default: { groups: ['weather'] } },
        sso: {
          logout_at_provider: true,
          providers: [{ id: 'corp', name: 'Corp SSO', issuer: op.issuer, client_id: 'weather', client_secret_env: 'WEATHER_SSO_SECRET', allowed_domains: ['example.com'], groups_map: { 'weather-team': 'weather' } }],
        },
      },
      { port, env: { WEATHER_SSO_SECRET: 'browser test secret' } },
    );
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    await holdToLoopback(context, offHost);
    page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await op?.close();
    if (dash) await stopProcessGroup(dash);
    // The provider's development login page asks for a web font; Dashgate's own pages ask for nothing off-host.
    assert.deepEqual(offHost.filter((url) => !url.startsWith('https://fonts.googleapis.com/')), []);
  });

  it('signs in at the provider and lands on the deep link, as the provider user, with the mapped group', async () => {
    await page.goto(`${base}/page-2`);
    await page.waitForURL(/\/_dashgate\/login\?next=%2Fpage-2$/);
    await page.getByRole('link', { name: 'Sign in with Corp SSO' }).click();
    // The provider's own login page.
    await page.waitForURL((url) => url.origin === op.issuer);
    await page.locator('input[name="login"]').fill('dana@example.com');
    await page.locator('input[name="password"]').fill('anything');
    await page.locator('button[type="submit"], input[type="submit"]').first().click();
    await page.waitForURL(`${base}/page-2`);
    await expectText(page.locator('#whoami'), 'Signed in as dana');
    await expectText(page.locator('#page-2 h2'), 'Page 2: about');
    const dana = await gw.store.users.findByUsername('dana');
    assert.deepEqual(dana?.groups, ['weather']);
  });

  it('when the session ends under an open page, the "session expired" dialog offers the provider and comes back signed in', async () => {
    const dana = (await gw.store.users.findByUsername('dana'))!;
    await gw.gateway.sessions.invalidateUserSessions(dana.id);
    // Navigating inside the Dash app fires a callback, which now gets the gateway's 401.
    await page.locator('#link-page-1').click();
    const dialog = page.getByRole('dialog', { name: 'Session expired' });
    await dialog.waitFor({ state: 'visible' });
    await dialog.getByRole('link', { name: 'Sign in with Corp SSO' }).click();
    // Still signed in at the provider: it answers at once, and the gateway returns to the page.
    await page.waitForURL(`${base}/`);
    await expectText(page.locator('#whoami'), 'Signed in as dana');
    assert.equal((await gw.store.sessions.listForUser(dana.id)).length, 1);
  });

  it('signs out here and at the provider, and comes back to the sign-in page', async () => {
    await page.goto(`${base}/_dashgate/logout`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.origin === op.issuer);
    // oidc-provider asks the signed-in user to confirm ending their session there.
    await page.locator('button[name="logout"], button[value="yes"]').first().click();
    await page.waitForURL(`${base}/_dashgate/login?signed_out=1`);
    await expectText(page.locator('.notice-info'), 'You have signed out.');
    assert.ok(op.endSessionRequests.length > 0, 'the provider saw the logout');
    await page.goto(`${base}/page-2`);
    await page.waitForURL(/\/_dashgate\/login\?next=%2Fpage-2$/);
    // Signed out at the provider too: the next SSO sign-in asks for the login again.
    await page.getByRole('link', { name: 'Sign in with Corp SSO' }).click();
    await page.waitForURL((url) => url.origin === op.issuer);
    await page.locator('input[name="login"]').waitFor({ state: 'visible' });
  });
});
