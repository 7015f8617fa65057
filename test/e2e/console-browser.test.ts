/**
 * The console as a person sees it, in Chromium at 1280 and 390 px, light and dark: no page grows
 * wider than a phone's screen (tables stack their rows), the navigation bar stays where it is from
 * one section to the next, and axe-core finds no violation of any impact on any page. With
 * SCREENSHOT_DIR set, every page is also saved there as a PNG to look at.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { holdToLoopback, launchChromium } from '../helpers/browser.js';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';
import type { User } from '../../src/store/types.js';

const PASSWORD = 'console browser passphrase';
const XSS = '<img src=x onerror=alert(1)>';
const WIDTHS = [1280, 390] as const;
const SCHEMES = ['light', 'dark'] as const;

describe('the console in Chromium', { timeout: 300_000 }, () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let browser: Browser;
  let root: string;
  let alice: string;
  let bob: User;
  let inviteLink: string;
  const offHost: string[] = [];

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, { branding: { app_name: 'Weather' }, access: { rules: [{ path: '/finance/**', groups: ['finance'] }] } });
    await createUser(gw.store, 'root', PASSWORD, { isAdmin: true, groups: ['admins'], displayName: 'Ruth Root', email: 'root@example.com' });
    await createUser(gw.store, 'alice', PASSWORD, { groups: ['analysts'], email: 'alice@example.com' });
    bob = await createUser(gw.store, 'bob', PASSWORD, { groups: ['analysts', 'a-group-with-a-rather-long-name', 'forecasters'], email: 'bob.with.a.very.long.address.indeed@subdomain.example.com', displayName: XSS });
    for (let i = 0; i < 12; i++) await createUser(gw.store, `user${i}`, PASSWORD, { email: `user${i}@example.com`, groups: i % 2 ? ['analysts'] : [] });
    root = await signIn(gw.url, 'root', PASSWORD);
    alice = await signIn(gw.url, 'alice', PASSWORD);
    // Audit entries with what an anonymous visitor typed.
    const forgot = await fetch(`${gw.url}/_dashgate/forgot`);
    await fetch(`${gw.url}/_dashgate/forgot`, {
      method: 'POST',
      headers: { origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...hiddenFields(await forgot.text()), login: XSS }).toString(),
    });
    await signIn(gw.url, 'alice', 'wrong').catch(() => undefined);
    const users = await fetch(`${gw.url}/_dashgate/admin/users`, { headers: { cookie: root } });
    const invited = await fetch(`${gw.url}/_dashgate/admin/invites`, {
      method: 'POST',
      headers: { cookie: root, origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: hiddenFields(await users.text()).csrf!, email: 'carol@example.com', groups: 'analysts', expires: '7d' }).toString(),
    });
    assert.equal(invited.status, 200);
    inviteLink = /<code class="secret" id="new-link">([^<]+)<\/code>/.exec(await invited.text())![1]!.replace(/&amp;/g, '&');
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await upstream?.close();
    assert.deepEqual(offHost, []);
  });

  const consolePages = () => ['/admin', '/admin/users', `/admin/users/${bob.id}`, '/admin/groups', '/admin/groups/analysts', '/admin/invites', '/admin/signups', '/admin/sessions', '/admin/audit', '/account'];

  async function open(cookie: string, width: number, scheme: 'light' | 'dark'): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme });
    await holdToLoopback(context, offHost);
    const [name, value] = cookie.split('=') as [string, string];
    await context.addCookies([{ name, value, url: gw.url }]);
    return context.newPage();
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    const dir = process.env.SCREENSHOT_DIR;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, `${name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}.png`), fullPage: true });
  }

  /** How far the document is wider than the window (0: no sideways scrolling). */
  const overflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

  it('no console page is wider than a 390 px phone, in light and dark', async () => {
    for (const scheme of SCHEMES) {
      for (const width of WIDTHS) {
        const page = await open(root, width, scheme);
        for (const path of consolePages()) {
          const res = await page.goto(`${gw.url}/_dashgate${path}`);
          assert.equal(res?.status(), 200, path);
          assert.equal(await overflow(page), 0, `${path} at ${width} px overflows sideways`);
          await screenshot(page, `${path}-${width}-${scheme}`);
        }
        await page.context().close();
      }
    }
  });

  it('the navigation bar stays in the same place from one section to the next', async () => {
    for (const width of WIDTHS) {
      const page = await open(root, width, 'light');
      const boxes: string[] = [];
      for (const path of ['/admin/users', '/admin/audit', '/admin/sessions', '/admin/groups']) {
        await page.goto(`${gw.url}/_dashgate${path}`);
        const box = await page.locator('nav.console-nav').boundingBox();
        assert.ok(box, `${path} has the navigation bar`);
        boxes.push(`${Math.round(box.x)},${Math.round(box.y)},${Math.round(box.width)}`);
        // It is outside the page's main content (not inside a card).
        assert.equal(await page.locator('main nav.console-nav').count(), 0);
      }
      assert.equal(new Set(boxes).size, 1, `the bar moved at ${width} px: ${boxes.join(' | ')}`);
      await page.context().close();
    }
  });

  it('axe-core finds no violations of any impact on any console page, light or dark', async () => {
    for (const scheme of SCHEMES) {
      const page = await open(root, 1280, scheme);
      for (const path of consolePages()) {
        await page.goto(`${gw.url}/_dashgate${path}`);
        const results = await new AxeBuilder({ page }).analyze();
        assert.ok(results.passes.length > 10, `axe ran its rules on ${path}`);
        assert.deepEqual(
          results.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`),
          [],
          `${path} in ${scheme}`,
        );
      }
      await page.context().close();
    }
  });

  it('the 403 page names who is signed in and offers a way back and another account', async () => {
    for (const width of WIDTHS) {
      const page = await open(alice, width, 'light');
      const res = await page.goto(`${gw.url}/finance/report`);
      assert.equal(res?.status(), 403);
      assert.equal(await page.locator('[data-code="forbidden"]').count(), 1);
      assert.match((await page.locator('.signed-in-as').textContent()) ?? '', /alice/);
      assert.equal(await page.getByRole('link', { name: 'Switch account' }).count(), 1);
      assert.equal(await overflow(page), 0);
      const results = await new AxeBuilder({ page }).analyze();
      assert.deepEqual(results.violations.map((v) => v.id), []);
      await screenshot(page, `forbidden-${width}-light`);
      // Switch account: sign out, then sign in again with the same destination.
      await page.getByRole('link', { name: 'Switch account' }).click();
      await page.getByRole('button', { name: /Sign out/ }).click();
      await page.waitForURL(/\/_dashgate\/login\?/);
      assert.match(page.url(), /next=%2Ffinance%2Freport/);
      await page.context().close();
      alice = await signIn(gw.url, 'alice', PASSWORD);
    }
  });

  it('the invitation form shows every problem at once, fits a phone and passes axe, light and dark', async () => {
    for (const scheme of SCHEMES) {
      for (const width of WIDTHS) {
        const context = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme });
        await holdToLoopback(context, offHost);
        const page = await context.newPage();
        await page.goto(inviteLink);
        await page.locator('#username').fill('alice');
        await page.locator('#password').fill('short');
        await page.locator('#password2').fill('different');
        await page.getByRole('button', { name: 'Create account and sign in' }).click();
        await page.locator('#form-error').waitFor();
        assert.equal(await page.locator('.field-error').count(), 2, 'username taken and password too short');
        assert.equal(await page.locator('#username').inputValue(), 'alice');
        assert.equal(await page.locator('#password').inputValue(), '');
        assert.equal(await overflow(page), 0);
        const results = await new AxeBuilder({ page }).analyze();
        assert.deepEqual(results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`), [], `invitation errors in ${scheme}`);
        await screenshot(page, `invite-errors-${width}-${scheme}`);
        await page.goto(`${gw.url}/_dashgate/login`);
        assert.equal(await overflow(page), 0);
        await screenshot(page, `login-${width}-${scheme}`);
        await context.close();
      }
    }
  });

  it('keyboard only: the skip link and the sections are reachable with Tab', async () => {
    const page = await open(root, 1280, 'light');
    await page.goto(`${gw.url}/_dashgate/admin/users`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'content');
    // From the top of the page through the bar to the audit log, by keyboard alone.
    await page.goto(`${gw.url}/_dashgate/admin/users`);
    let reached = false;
    for (let i = 0; i < 20 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.getAttribute('href')?.endsWith('/admin/audit') === true);
    }
    assert.ok(reached, 'the audit link is reachable with Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/admin\/audit$/);
    assert.equal(await page.locator('a[aria-current="page"]').textContent(), 'Audit log');
    await page.context().close();
  });
});
