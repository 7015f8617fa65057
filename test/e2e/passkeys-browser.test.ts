/**
 * Passkeys in Chromium with the DevTools virtual authenticator (WebAuthn.addVirtualAuthenticator
 * over CDP): register on the account page, sign out, sign in with the passkey and no username,
 * reach a step-up path without being asked again, rename and remove it. WebAuthn needs a domain,
 * so the browser uses http://localhost:<port> (the gateway takes its relying party from the
 * request's origin when server.public_url is not set).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { User } from '../../src/store/types.js';
import { launchChromium, UI_TIMEOUT_MS } from '../helpers/browser.js';
import { createUser, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'passkey user passphrase';

describe('passkeys in the browser', { timeout: 180_000 }, () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let pia: User;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  const offHost: string[] = [];

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, { access: { rules: [{ path: '/payroll/**', policy: 'authenticated', mfa: true }] } });
    pia = await createUser(gw.store, 'pia', PASSWORD);
    base = gw.url.replace('127.0.0.1', 'localhost');
    browser = await launchChromium();
    context = await browser.newContext();
    await context.route('**/*', (route) => {
      const host = new URL(route.request().url()).hostname;
      if (host === 'localhost' || host === '127.0.0.1') return route.continue();
      offHost.push(route.request().url());
      return route.abort('blockedbyclient');
    });
    page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await upstream?.close();
    assert.deepEqual(offHost, []);
  });

  it('registers a passkey on the account page', async () => {
    await page.goto(`${base}/_dashgate/login?next=%2F_dashgate%2Faccount`);
    await page.locator('#username').fill('pia');
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}/_dashgate/account`);
    await page.locator('#passkey-name').fill('Test key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForURL(`${base}/_dashgate/account?done=passkey_added`, { timeout: UI_TIMEOUT_MS });
    await page.getByRole('cell', { name: 'Test key', exact: true }).waitFor();
    const keys = await gw.store.factors.passkeysOf(pia.id);
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.name, 'Test key');
  });

  it('signs in with the passkey alone after signing out, and counts as two factors', async () => {
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(`${base}/_dashgate/login?signed_out=1`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL(`${base}/`, { timeout: UI_TIMEOUT_MS });
    const sessions = await gw.store.sessions.listForUser(pia.id);
    assert.deepEqual(sessions.map((s) => s.authMethod), ['passkey']);
    const response = await page.goto(`${base}/payroll/march`);
    assert.equal(response?.status(), 200, 'a step-up path does not ask a passkey session again');
    assert.equal(upstream.requests.at(-1)!.headers['x-forwarded-user'], 'pia');
    assert.ok((await gw.store.factors.passkeysOf(pia.id))[0]!.lastUsedAt !== null);
  });

  it('with a password, the passkey is asked as the second step, and the session records both', async () => {
    await page.goto(`${base}/_dashgate/account`);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(`${base}/_dashgate/login?signed_out=1`);
    await page.goto(`${base}/_dashgate/login?next=%2Freports`);
    await page.locator('#username').fill('pia');
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}/_dashgate/login/mfa?next=%2Freports`);
    assert.equal(await page.locator('#code').count(), 0, 'no code field: pia has no authenticator app');
    assert.deepEqual((await gw.store.sessions.listForUser(pia.id)).length, 0, 'no session after the password alone');
    await page.getByRole('button', { name: 'Use your passkey' }).click();
    await page.waitForURL(`${base}/reports`, { timeout: UI_TIMEOUT_MS });
    assert.deepEqual((await gw.store.sessions.listForUser(pia.id)).map((s) => s.authMethod), ['password+passkey']);
  });

  it('renames and removes the passkey; then it no longer signs in', async () => {
    await page.goto(`${base}/_dashgate/account`);
    const id = (await gw.store.factors.passkeysOf(pia.id))[0]!.id;
    await page.locator(`[id="rename-${id}"]`).fill('Old key');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByRole('cell', { name: 'Old key', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Remove Old key' }).click();
    await page.getByText('Passkey removed.').waitFor();
    assert.equal((await gw.store.factors.passkeysOf(pia.id)).length, 0);

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(`${base}/_dashgate/login?signed_out=1`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByText('That passkey cannot sign in here.').waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal(page.url(), `${base}/_dashgate/login?signed_out=1`);
    const log = await gw.store.audit.list({ user: 'pia' });
    for (const action of ['passkey.added', 'passkey.renamed', 'passkey.removed']) assert.ok(log.some((e) => e.action === action), action);
  });
});
