/**
 * Accounts that run themselves, in Chromium against a real Dash app: an admin invites
 * alice@example.com from the console; alice opens the link, chooses her password and lands in the
 * app; she changes her password and ends her other browser; the admin revokes her session and her
 * next callback asks her to sign in again; she resets her password from the mail (the outbox, as
 * on a machine without SMTP). Nobody but alice types her password, and the audit log shows every
 * step. axe-core checks the login, account and admin pages.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AxeBuilder } from '@axe-core/playwright';
import { simpleParser } from 'mailparser';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expectText, holdToLoopback, launchChromium, startGunicorn, stopProcessGroup, UI_TIMEOUT_MS } from '../helpers/browser.js';
import { createUser, startGateway, type TestGateway } from '../helpers/harness.js';

const ADMIN_PASSWORD = 'the administrator passphrase';
const ALICE_FIRST = 'alice first passphrase';
const ALICE_SECOND = 'alice second passphrase';
const ALICE_THIRD = 'alice third passphrase';

describe('accounts in the browser: invite, sign up, change, revoke, reset', { timeout: 300_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const offHost: string[] = [];
  let adminPage: Page;
  let alicePage: Page;
  let inviteLink: string;

  before(async () => {
    const started = await startGunicorn('test/fixtures/dash_app');
    dash = started.child;
    gw = await startGateway(started.url, { branding: { app_name: 'Weather' } });
    await createUser(gw.store, 'root', ADMIN_PASSWORD, { isAdmin: true, groups: ['admins'] });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    if (dash) await stopProcessGroup(dash);
    assert.deepEqual(offHost, []);
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    contexts.push(context);
    await holdToLoopback(context, offHost);
    return context.newPage();
  }

  async function signInAt(page: Page, username: string, password: string): Promise<void> {
    await page.locator('#username').fill(username);
    await page.locator('#password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async function expectAccessible(page: Page, what: string): Promise<void> {
    const results = await new AxeBuilder({ page }).analyze();
    const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(
      bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`),
      [],
      `${what} has serious or critical accessibility violations`,
    );
  }

  it('the admin invites alice@example.com from the console', async () => {
    adminPage = await newPage();
    await adminPage.goto(`${gw.url}/_dashgate/admin`);
    await adminPage.waitForURL(/\/_dashgate\/login\?next=/);
    await expectAccessible(adminPage, 'the login page');
    await signInAt(adminPage, 'root', ADMIN_PASSWORD);
    // The console opens on its overview; invitations are made on the users page.
    await adminPage.waitForURL(`${gw.url}/_dashgate/admin`);
    await adminPage.goto(`${gw.url}/_dashgate/admin/users`);
    await expectAccessible(adminPage, 'the admin users page');
    await adminPage.locator('#invite-email').fill('alice@example.com');
    await adminPage.locator('#invite-groups').fill('analysts');
    await adminPage.getByRole('button', { name: 'Create invitation' }).click();
    const link = adminPage.locator('#new-link');
    await link.waitFor({ timeout: UI_TIMEOUT_MS });
    inviteLink = (await link.textContent())!.trim();
    assert.match(inviteLink, /^http:\/\/127\.0\.0\.1:\d+\/_dashgate\/invite\?token=/);
    await expectAccessible(adminPage, 'the admin invitations page');
  });

  it('alice opens the link, chooses a username and password, and lands in the Dash app', async () => {
    alicePage = await newPage();
    await alicePage.goto(inviteLink);
    assert.equal(await alicePage.locator('#username').inputValue(), 'alice@example.com', 'the invited email is offered as the username');
    await alicePage.locator('#username').fill('alice');
    await alicePage.locator('#password').fill(ALICE_FIRST);
    await alicePage.locator('#password2').fill(ALICE_FIRST);
    await alicePage.getByRole('button', { name: 'Create account and sign in' }).click();
    await alicePage.waitForURL(`${gw.url}/`);
    await expectText(alicePage.locator('#whoami'), 'Signed in as alice');
    const alice = await gw.store.users.findByUsername('alice');
    assert.deepEqual(alice!.groups, ['analysts']);
    assert.equal(alice!.email, 'alice@example.com');
    // The link is spent.
    const again = await fetch(inviteLink);
    assert.equal(again.status, 410);
  });

  it('alice changes her password and ends her other browser, which is asked to sign in on its next callback', async () => {
    const other = await newPage();
    await other.goto(`${gw.url}/`);
    await signInAt(other, 'alice', ALICE_FIRST);
    await other.waitForURL(`${gw.url}/`);
    await expectText(other.locator('#whoami'), 'Signed in as alice');

    await alicePage.goto(`${gw.url}/_dashgate/account`);
    await expectAccessible(alicePage, 'the account page');
    await alicePage.getByLabel('Current password').fill(ALICE_FIRST);
    await alicePage.getByLabel('New password', { exact: true }).fill(ALICE_SECOND);
    await alicePage.getByLabel('Repeat new password').fill(ALICE_SECOND);
    await alicePage.getByRole('button', { name: 'Change password' }).click();
    await alicePage.getByText('Your password was changed. Your other sign-ins have ended.').waitFor({ timeout: UI_TIMEOUT_MS });

    await other.getByRole('link', { name: 'Page 2' }).click();
    await other.locator('dialog.dg-dialog').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });

    await alicePage.goto(`${gw.url}/`);
    await expectText(alicePage.locator('#whoami'), 'Signed in as alice');
  });

  it('the admin revokes alice\'s session; her next callback asks her to sign in', async () => {
    await adminPage.goto(`${gw.url}/_dashgate/admin/sessions`);
    await expectAccessible(adminPage, 'the admin sessions page');
    await adminPage.getByRole('button', { name: /^Sign out alice on / }).first().click();
    await adminPage.getByText('Signed out.').waitFor({ timeout: UI_TIMEOUT_MS });

    await alicePage.getByRole('link', { name: 'Page 2' }).click();
    const dialog = alicePage.locator('dialog.dg-dialog');
    await dialog.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await dialog.locator('#dg-username').fill('alice');
    await dialog.locator('#dg-password').fill(ALICE_SECOND);
    await dialog.getByRole('button', { name: 'Sign in', exact: true }).click();
    await dialog.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
    await alicePage.getByRole('heading', { name: 'Page 2: about' }).waitFor({ timeout: UI_TIMEOUT_MS });
  });

  it('alice resets her forgotten password from the mail, and every other sign-in ends', async () => {
    const page = await newPage();
    await page.goto(`${gw.url}/_dashgate/login`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await expectAccessible(page, 'the forgot-password page');
    await page.getByLabel('Username or email').fill('alice@example.com');
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByText(/a link to choose a new password is on its way/).waitFor({ timeout: UI_TIMEOUT_MS });

    const link = await waitForOutboxLink(join(gw.gateway.config.data_dir, 'outbox'), 'alice@example.com');
    await page.goto(link);
    await page.getByLabel('New password', { exact: true }).fill(ALICE_THIRD);
    await page.getByLabel('Repeat new password').fill(ALICE_THIRD);
    await page.getByRole('button', { name: 'Save the new password' }).click();
    await page.waitForURL(`${gw.url}/_dashgate/login?reset=1`);
    await signInAt(page, 'alice', ALICE_THIRD);
    await page.waitForURL(`${gw.url}/`);
    await expectText(page.locator('#whoami'), 'Signed in as alice');

    // The browser alice used before the reset is signed out.
    await alicePage.getByRole('link', { name: 'Page 1' }).click();
    await alicePage.locator('dialog.dg-dialog').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  });

  it('the audit log shows every step, and nobody but alice typed her password', async () => {
    await adminPage.goto(`${gw.url}/_dashgate/admin/audit?user=alice`);
    await expectAccessible(adminPage, 'the audit log');
    const text = await adminPage.locator('table').innerText();
    for (const action of ['invite.used', 'login.success', 'password.change', 'session.revoked', 'password.reset_requested', 'password.reset']) assert.match(text, new RegExp(action.replace('.', '\\.')), action);
    const created = await gw.store.audit.list({ action: 'invite.created' });
    assert.equal(created[0]?.actor, 'root');
    assert.equal(created[0]?.target, 'alice@example.com');
  });
});

/** The link in the newest outbox message to `to`, parsed as a mail client would (quoted-printable and all). */
async function waitForOutboxLink(dir: string, to: string): Promise<string> {
  const deadline = Date.now() + UI_TIMEOUT_MS;
  while (Date.now() < deadline) {
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();
    } catch {
      files = [];
    }
    for (const file of files.reverse()) {
      const mail = await simpleParser(readFileSync(join(dir, file)));
      const addressed = (Array.isArray(mail.to) ? mail.to : mail.to ? [mail.to] : []).some((a) => a.text.includes(to));
      const link = /https?:\/\/\S+\/_dashgate\/reset\?token=\S+/.exec(mail.text ?? '')?.[0];
      if (addressed && link) return link;
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`no mail to ${to} in ${dir}`);
}
