/**
 * Invitations (`/_dashgate/invite`) and password reset (`/_dashgate/forgot`, `/_dashgate/reset`)
 * over real HTTP, with reset mail delivered to a real SMTP server and the links taken from the
 * parsed messages. Time moves only through the injected clock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleParser, type ParsedMail } from 'mailparser';
import pg from 'pg';
import pino from 'pino';
import { buildApp, type Gateway } from '../../src/app.js';
import { createInvite } from '../../src/auth/links.js';
import { parseConfig } from '../../src/config/load.js';
import { openStore, type Store } from '../../src/store/store.js';
import { testClock } from '../helpers/clock.js';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';
import { linkIn, startMailCatcher } from '../helpers/mail-catcher.js';

const OLD = 'the old passphrase';
const NEW = 'a brand new passphrase';
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** High enough that the address counter (shared by every request of a file) never throttles. */
const NO_IP_THROTTLE = { ip_free_failures: 10_000 };

/** The same token with one character of its secret changed: the shape stays valid. */
function tamper(link: string): string {
  return link.replace(/(token=[A-Za-z0-9_-]+\.)(.)/, (_m, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'));
}

/** A POST of a gateway form, from the gateway's own origin unless `headers` says otherwise. */
function postForm(gw: TestGateway, path: string, fields: Record<string, string>, headers: Record<string, string> = { origin: gw.url }) {
  return fetch(`${gw.url}/_dashgate/${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Whether a session cookie still signs in: a JSON request and a page navigation, as a browser and a script see it. */
async function cookieState(gw: TestGateway, cookie: string): Promise<{ json: number; page: number; location: string | null }> {
  const json = await fetch(`${gw.url}/data`, { headers: { cookie, accept: 'application/json' } });
  const page = await fetch(`${gw.url}/report`, { redirect: 'manual', headers: { cookie, accept: 'text/html' } });
  return { json: json.status, page: page.status, location: page.headers.get('location') };
}
const SIGNED_OUT = { json: 401, page: 303, location: '/_dashgate/login?next=%2Freport' };
const SIGNED_IN = { json: 200, page: 200, location: null };

async function emailTokenCount(store: Store, userId: string): Promise<number> {
  const rows = await store.db.selectFrom('email_tokens').select('id').where('user_id', '=', userId).execute();
  return rows.length;
}

describe('invitations: /_dashgate/invite', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  const clock = testClock(Date.UTC(2026, 2, 1, 9));

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, { throttle: NO_IP_THROTTLE }, { now: clock.now });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const invite = (input: { email?: string | null; groups?: string[]; isAdmin?: boolean; ttlMs?: number } = {}) =>
    createInvite(gw.store, clock.now, { email: input.email ?? null, groups: input.groups ?? [], isAdmin: input.isAdmin ?? false, createdBy: 'boss', ttlMs: input.ttlMs ?? DAY });
  const linkOf = (token: string) => `${gw.url}/_dashgate/invite?token=${encodeURIComponent(token)}`;
  /** Opens the link as a browser would and sends the form back with `fields` filled in. */
  async function accept(token: string, fields: Record<string, string>, headers?: Record<string, string>) {
    const page = await fetch(linkOf(token));
    assert.equal(page.status, 200);
    return postForm(gw, 'invite', { ...hiddenFields(await page.text()), ...fields }, headers);
  }

  it('shows the form with the invited address as the suggested username', async () => {
    const { token } = await invite({ email: 'Ivy.Green@example.com' });
    const res = await fetch(linkOf(token));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const page = await res.text();
    assert.match(page, /<input id="username" name="username"[^>]* value="Ivy\.Green@example\.com"/);
    assert.match(page, /as <strong>Ivy\.Green@example\.com<\/strong>/);
    const fields = hiddenFields(page);
    assert.equal(fields.token, token);
    assert.ok(fields.csrf, 'the form carries a CSRF token');
  });

  it('creates the account with the invitation’s groups and admin flag, signs in, audits, and works once', async () => {
    const { token, invite: created } = await invite({ email: 'ada@example.com', groups: ['finance', 'hr'], isAdmin: true });
    const res = await accept(token, { username: 'Ada', password: NEW, password2: NEW });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/');
    const setCookie = res.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^dashgate_session=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax/);
    const cookie = setCookie.split(';')[0]!;

    const ada = await gw.store.users.findByUsername('ada');
    assert.equal(ada?.email, 'ada@example.com');
    assert.equal(ada?.isAdmin, true);
    assert.deepEqual(ada?.groups, ['admins', 'finance', 'hr']);
    assert.equal((await fetch(`${gw.url}/`, { headers: { cookie } })).status, 200, 'signed in');
    assert.equal(upstream.requests.at(-1)!.headers['x-forwarded-user'], 'ada');
    assert.ok(await signIn(gw.url, 'ada', NEW), 'the chosen password works');

    const [used] = await gw.store.audit.list({ action: 'invite.used' });
    assert.equal(used?.actor, 'ada');
    assert.equal(used?.target, 'ada');
    assert.deepEqual(used?.detail, { invite: created.id, invited_by: 'boss', groups: ['admins', 'finance', 'hr'], admin: true });

    assert.equal((await fetch(linkOf(token))).status, 410, 'the page is gone');
    const again = await postForm(gw, 'invite', { ...hiddenFields(await (await fetch(`${gw.url}/_dashgate/forgot`)).text()), token, username: 'ada2', password: NEW, password2: NEW });
    assert.equal(again.status, 410, 'a second POST with a valid CSRF token is refused too');
    assert.equal(await gw.store.users.findByUsername('ada2'), null);
  });

  it('an invitation without groups or admin makes a plain account', async () => {
    const { token } = await invite();
    assert.equal((await accept(token, { username: 'plain', password: NEW, password2: NEW })).status, 303);
    const plain = await gw.store.users.findByUsername('plain');
    assert.equal(plain?.isAdmin, false);
    assert.deepEqual(plain?.groups, []);
    assert.equal(plain?.email, null);
  });

  it('two simultaneous acceptances of one link create one account', async () => {
    const { token } = await invite({ groups: ['race'] });
    const page = hiddenFields(await (await fetch(linkOf(token))).text());
    const results = await Promise.all(['racer1', 'racer2'].map((username) => postForm(gw, 'invite', { ...page, username, password: NEW, password2: NEW })));
    assert.deepEqual(results.map((r) => r.status).sort(), [303, 410]);
    const created = await Promise.all(['racer1', 'racer2'].map((u) => gw.store.users.findByUsername(u)));
    assert.equal(created.filter(Boolean).length, 1);
  });

  it('refuses a tampered link', async () => {
    const { token } = await invite();
    const tampered = tamper(linkOf(token));
    assert.notEqual(tampered, linkOf(token));
    const page = await fetch(tampered);
    assert.equal(page.status, 410);
    assert.match(await page.text(), /This invitation cannot be used/);
    const forged = await postForm(gw, 'invite', { csrf: hiddenFields(await (await fetch(linkOf(token))).text()).csrf!, token: new URL(tampered).searchParams.get('token')!, username: 'forger', password: NEW, password2: NEW });
    assert.equal(forged.status, 410);
    assert.equal(await gw.store.users.findByUsername('forger'), null);
    for (const junk of ['', 'x', 'a.b', `${token}x`]) assert.equal((await fetch(linkOf(junk))).status, 410, JSON.stringify(junk));
  });

  it('refuses an expired link, on the page and on a form opened before it expired', async () => {
    const { token } = await invite({ ttlMs: 10 * MINUTE });
    const fields = hiddenFields(await (await fetch(linkOf(token))).text());
    clock.advance(10 * MINUTE - 1);
    assert.equal((await fetch(linkOf(token))).status, 200, 'still valid one millisecond before');
    clock.advance(1);
    assert.equal((await fetch(linkOf(token))).status, 410);
    assert.equal((await postForm(gw, 'invite', { ...fields, username: 'late', password: NEW, password2: NEW })).status, 410);
    assert.equal(await gw.store.users.findByUsername('late'), null);
  });

  it('refuses a revoked link, also from a form opened before', async () => {
    const { token, invite: created } = await invite({ groups: ['x'] });
    const fields = hiddenFields(await (await fetch(linkOf(token))).text());
    assert.equal(await gw.store.invites.revoke(created.id, clock.now()), true);
    assert.equal((await fetch(linkOf(token))).status, 410);
    assert.equal((await postForm(gw, 'invite', { ...fields, username: 'withdrawn', password: NEW, password2: NEW })).status, 410);
    assert.equal(await gw.store.users.findByUsername('withdrawn'), null);
  });

  it('refuses a POST without the CSRF token or from another site with 403; the link still works', async () => {
    const { token } = await invite({ groups: ['ops'] });
    const noCsrf = await postForm(gw, 'invite', { token, username: 'csrf1', password: NEW, password2: NEW });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.headers.get('set-cookie'), null);
    const forgedCsrf = await accept(token, { csrf: 'x.y.z', username: 'csrf1', password: NEW, password2: NEW });
    assert.equal(forgedCsrf.status, 403);
    const crossSite = await accept(token, { username: 'csrf1', password: NEW, password2: NEW }, { origin: 'https://evil.example' });
    assert.equal(crossSite.status, 403);
    const fetchSite = await accept(token, { username: 'csrf1', password: NEW, password2: NEW }, { 'sec-fetch-site': 'cross-site' });
    assert.equal(fetchSite.status, 403);
    assert.equal(await gw.store.users.findByUsername('csrf1'), null);

    assert.equal((await accept(token, { username: 'csrf1', password: NEW, password2: NEW })).status, 303, 'the invitation was not spent');
    assert.deepEqual((await gw.store.users.findByUsername('csrf1'))?.groups, ['ops']);
  });

  it('refuses weak and mismatched passwords and bad usernames with 400 and says why; the link still works', async () => {
    const { token } = await invite({ email: 'wes@example.com' });
    for (const [fields, message] of [
      [{ username: 'wes', password: 'password', password2: 'password' }, /commonly used/],
      [{ username: 'wes', password: 'short', password2: 'short' }, /at least 8 characters/],
      [{ username: 'wes', password: 'wes@example.com', password2: 'wes@example.com' }, /must not be your username/],
      [{ username: 'wes', password: NEW, password2: `${NEW}!` }, /The two passwords are not the same/],
      [{ username: 'two words', password: NEW, password2: NEW }, /Username may contain/],
      [{ username: '', password: NEW, password2: NEW }, /Username is required/],
    ] as const) {
      const res = await accept(token, fields);
      assert.equal(res.status, 400, JSON.stringify(fields));
      const page = await res.text();
      assert.match(page, message);
      assert.equal(hiddenFields(page).token, token, 'the form is shown again with the same link');
      assert.equal(res.headers.get('set-cookie'), null);
    }
    assert.equal(await gw.store.users.findByUsername('wes'), null);
    assert.equal((await fetch(linkOf(token))).status, 200);
    assert.equal((await accept(token, { username: 'wes', password: NEW, password2: NEW })).status, 303);
  });

  it('refuses a username that is taken (in any spelling) with 400; the link still works', async () => {
    await createUser(gw.store, 'taken', OLD);
    const { token } = await invite({ groups: ['g'] });
    for (const username of ['taken', 'TAKEN', ' Taken ']) {
      const res = await accept(token, { username, password: NEW, password2: NEW });
      assert.equal(res.status, 400, username);
      assert.match(await res.text(), /That username is taken/);
    }
    assert.deepEqual((await gw.store.users.findByUsername('taken'))?.groups, [], 'the existing account is untouched');
    assert.ok(await signIn(gw.url, 'taken', OLD));
    assert.equal((await accept(token, { username: 'not-taken', password: NEW, password2: NEW })).status, 303);
  });

  it('refuses an invitation whose address already has an account', async () => {
    await createUser(gw.store, 'holder', OLD, { email: 'Holder@Example.com' });
    const { token } = await invite({ email: 'holder@example.com' });
    const res = await accept(token, { username: 'holder2', password: NEW, password2: NEW });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /An account with this email address already exists/);
    assert.equal(await gw.store.users.findByUsername('holder2'), null);
  });
});

describe('password reset by mail: /_dashgate/forgot and /_dashgate/reset', () => {
  let mail: Awaited<ReturnType<typeof startMailCatcher>>;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  const clock = testClock(Date.UTC(2026, 2, 2, 9));

  before(async () => {
    mail = await startMailCatcher();
    upstream = await startRecordingUpstream();
    gw = await startGateway(
      upstream.url,
      { mail: { from: 'Payroll <payroll@example.com>', smtp: { host: '127.0.0.1', port: mail.port, security: 'none' } }, branding: { app_name: 'Payroll' }, throttle: { ...NO_IP_THROTTLE, account_free_failures: 100 } },
      { now: clock.now },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await mail.close();
  });

  async function forgot(login: string) {
    const csrf = hiddenFields(await (await fetch(`${gw.url}/_dashgate/forgot`)).text()).csrf!;
    const res = await postForm(gw, 'forgot', { csrf, login });
    return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
  }
  /** Asks for a reset and returns the link of the mail it brings (the n-th mail to that address). */
  async function requestLink(login: string, to: string): Promise<string> {
    const before = mail.mails.filter((m) => m.to.includes(to)).length;
    assert.equal((await forgot(login)).status, 200);
    const mails = await mail.waitFor(to, before + 1);
    return linkIn(mails[before]!, 'reset');
  }
  /** Opens the link and sends the form back; the status of the page when it does not open. */
  async function resetWith(link: string, password: string, password2 = password, headers?: Record<string, string>) {
    const page = await fetch(link);
    if (page.status !== 200) return { status: page.status, body: await page.text() };
    const res = await postForm(gw, 'reset', { ...hiddenFields(await page.text()), password, password2 }, headers);
    return { status: res.status, body: await res.text(), location: res.headers.get('location') };
  }

  it('answers byte for byte the same for an account, an unknown name, an account without email and a disabled one; only the account gets mail', async () => {
    await createUser(gw.store, 'rita', OLD, { email: 'rita@example.com' });
    const noEmail = await createUser(gw.store, 'noemail', OLD);
    const gone = await createUser(gw.store, 'gone', OLD, { email: 'gone@example.com' });
    await gw.store.users.setStatus(gone.id, 'disabled');

    const real = await forgot('rita');
    const answers = { unknown: await forgot('nobody-here'), unknownEmail: await forgot('nobody@example.com'), noEmail: await forgot('noemail'), disabled: await forgot('gone') };
    assert.equal(real.status, 200);
    assert.match(real.body, /If an account with an email address matches/);
    for (const [name, answer] of Object.entries(answers)) assert.deepEqual(answer, real, name);

    const [message] = await mail.waitFor('rita@example.com');
    assert.equal(message!.subject, 'Reset your Payroll password');
    assert.match(message!.text, /account "rita" on Payroll/);
    assert.match(linkIn(message!, 'reset'), new RegExp(`^${gw.url}/_dashgate/reset\\?token=`), 'the link points at the address the gateway listens on');

    // Nobody else was sent anything: no link was made, and the audit log says why.
    assert.equal(await emailTokenCount(gw.store, noEmail.id), 0);
    assert.equal(await emailTokenCount(gw.store, gone.id), 0);
    const requests = await gw.store.audit.list({ action: 'password.reset_requested' });
    const reasons = Object.fromEntries(requests.map((e) => [e.actor, e.detail]));
    assert.deepEqual(reasons, {
      rita: { sent: true, reason: null },
      'nobody-here': { sent: false, reason: 'unknown_account' },
      'nobody@example.com': { sent: false, reason: 'unknown_account' },
      noemail: { sent: false, reason: 'no_email_or_inactive' },
      gone: { sent: false, reason: 'no_email_or_inactive' },
    });
    // The mail is sent after the answer, so its absence cannot be awaited; the store above shows
    // that no send was started. Belt and braces: a later mail arrives, and nothing else came with it.
    await requestLink('rita', 'rita@example.com');
    assert.deepEqual([...new Set(mail.mails.flatMap((m) => m.to))], ['rita@example.com']);
  });

  it('finds the account by its address in any case, too', async () => {
    await createUser(gw.store, 'emma', OLD, { email: 'emma@example.com' });
    const link = await requestLink('Emma@Example.COM', 'emma@example.com');
    const page = await fetch(link);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /For the account <strong>emma<\/strong>/);
  });

  it('the mailed link sets a new password once: every session ends, the old password fails, the new one works', async () => {
    const sam = await createUser(gw.store, 'sam', OLD, { email: 'sam@example.com' });
    const laptop = await signIn(gw.url, 'sam', OLD);
    const phone = await signIn(gw.url, 'sam', OLD);
    assert.deepEqual(await cookieState(gw, laptop), SIGNED_IN);
    assert.deepEqual(await cookieState(gw, phone), SIGNED_IN);
    const link = await requestLink('sam', 'sam@example.com');

    const done = await resetWith(link, NEW);
    assert.equal(done.status, 303);
    assert.equal(done.location, '/_dashgate/login?reset=1');
    assert.deepEqual(await cookieState(gw, laptop), SIGNED_OUT);
    assert.deepEqual(await cookieState(gw, phone), SIGNED_OUT);
    assert.deepEqual(await gw.store.sessions.listForUser(sam.id), []);
    await assert.rejects(signIn(gw.url, 'sam', OLD), /sign-in failed with 401/);
    assert.deepEqual(await cookieState(gw, await signIn(gw.url, 'sam', NEW)), SIGNED_IN);

    const [audit] = await gw.store.audit.list({ action: 'password.reset' });
    assert.equal(audit?.target, 'sam');
    assert.deepEqual(audit?.detail, { sessions_ended: 2 });

    assert.equal((await fetch(link)).status, 410, 'used links are gone');
    const token = new URL(link).searchParams.get('token')!;
    const reuse = await postForm(gw, 'reset', { csrf: hiddenFields(await (await fetch(`${gw.url}/_dashgate/forgot`)).text()).csrf!, token, password: 'yet another passphrase', password2: 'yet another passphrase' });
    assert.equal(reuse.status, 410);
    assert.ok(await signIn(gw.url, 'sam', NEW), 'the reuse changed nothing');
  });

  it('refuses weak or mismatched passwords and CSRF-less posts; the link stays usable', async () => {
    await createUser(gw.store, 'walt', OLD, { email: 'walt@example.com' });
    const laptop = await signIn(gw.url, 'walt', OLD);
    const link = await requestLink('walt', 'walt@example.com');
    for (const [password, password2, message] of [
      ['password', 'password', /commonly used/],
      ['short', 'short', /at least 8 characters/],
      ['walt@example.com', 'walt@example.com', /must not be your username/],
      [NEW, `${NEW}.`, /The two passwords are not the same/],
    ] as const) {
      const res = await resetWith(link, password, password2);
      assert.equal(res.status, 400, password);
      assert.match(res.body, message);
    }
    const fields = hiddenFields(await (await fetch(link)).text());
    const { csrf: _drop, ...withoutCsrf } = fields;
    assert.equal((await postForm(gw, 'reset', { ...withoutCsrf, password: NEW, password2: NEW })).status, 403);
    assert.equal((await postForm(gw, 'reset', { ...fields, password: NEW, password2: NEW }, { origin: 'https://evil.example' })).status, 403);
    assert.deepEqual(await cookieState(gw, laptop), SIGNED_IN, 'nothing happened yet');
    assert.ok(await signIn(gw.url, 'walt', OLD));
    assert.equal((await resetWith(link, NEW)).status, 303);
  });

  it('a second request voids the first link; a tampered link is refused', async () => {
    await createUser(gw.store, 'vera', OLD, { email: 'vera@example.com' });
    const first = await requestLink('vera', 'vera@example.com');
    const second = await requestLink('vera', 'vera@example.com');
    assert.notEqual(first, second);
    assert.equal((await fetch(first)).status, 410);
    assert.equal((await resetWith(tamper(second), NEW)).status, 410);
    assert.equal((await resetWith(first, NEW)).status, 410);
    assert.equal((await resetWith(second, NEW)).status, 303);
  });

  it('a link works for 30 minutes, and a form opened in time is refused once it expired', async () => {
    await createUser(gw.store, 'tim', OLD, { email: 'tim@example.com' });
    const link = await requestLink('tim', 'tim@example.com');
    clock.advance(30 * MINUTE - 1);
    const page = await fetch(link);
    assert.equal(page.status, 200, 'valid one millisecond before');
    const fields = hiddenFields(await page.text());
    clock.advance(1);
    assert.equal((await fetch(link)).status, 410);
    assert.equal((await postForm(gw, 'reset', { ...fields, password: NEW, password2: NEW })).status, 410);
    assert.ok(await signIn(gw.url, 'tim', OLD), 'the password is unchanged');
  });
});

describe('password reset: repeated requests for one name are throttled silently', () => {
  let mail: Awaited<ReturnType<typeof startMailCatcher>>;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  const clock = testClock(Date.UTC(2026, 2, 3, 9));
  const FREE = 2;

  before(async () => {
    mail = await startMailCatcher();
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, { mail: { smtp: { host: '127.0.0.1', port: mail.port, security: 'none' } }, throttle: { ...NO_IP_THROTTLE, account_free_failures: FREE } }, { now: clock.now });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await mail.close();
  });

  async function forgot(login: string) {
    const csrf = hiddenFields(await (await fetch(`${gw.url}/_dashgate/forgot`)).text()).csrf!;
    const res = await postForm(gw, 'forgot', { csrf, login });
    return { status: res.status, body: await res.text() };
  }

  it('sends no more mails after the free requests, with the same answer every time', async () => {
    const tess = await createUser(gw.store, 'tess', OLD, { email: 'tess@example.com' });
    const answers = [];
    for (let i = 0; i < FREE + 3; i++) answers.push(await forgot('tess'));
    for (const answer of answers) assert.deepEqual(answer, answers[0]);
    assert.equal(answers[0]!.status, 200);

    assert.equal(await emailTokenCount(gw.store, tess.id), FREE, 'only the free requests made a link');
    assert.equal((await gw.store.audit.list({ action: 'password.reset_throttled' })).length, 3);
    assert.equal((await mail.waitFor('tess@example.com', FREE)).length, FREE);
    // Another account is not affected; by the time its mail arrives, no further mail to tess has.
    await createUser(gw.store, 'tom', OLD, { email: 'tom@example.com' });
    await forgot('tom');
    await mail.waitFor('tom@example.com');
    assert.equal(mail.mails.filter((m) => m.to.includes('tess@example.com')).length, FREE);
    assert.ok(await signIn(gw.url, 'tess', OLD), 'sign-in is not throttled by reset requests for the name');

    // The throttle forgets after its window; then the name gets mail again.
    clock.advance(2 * 3_600_000);
    await forgot('tess');
    assert.equal(await emailTokenCount(gw.store, tess.id), FREE + 1);
    await mail.waitFor('tess@example.com', FREE + 1);
  });
});

// Regression (fixed in 6df478a): /forgot checked and counted its throttle outside
// SignInThrottle.exclusive(), so simultaneous requests all passed the check before any was counted
// and ten parallel requests sent nine mails. Run on PostgreSQL, whose queries really interleave; on
// SQLite (better-sqlite3 answers synchronously) one request's check and count ran before the next
// request was read, so the bug never showed there.
describe('password reset throttle under simultaneous requests (PostgreSQL store)', () => {
  const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `dg_test_reset_race_${randomBytes(4).toString('hex')}`;
  const FREE = 2;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let store: Store;
  let gateway: Gateway;
  let url: string;
  let dataDir: string;

  before(async () => {
    upstream = await startRecordingUpstream();
    dataDir = mkdtempSync(join(tmpdir(), 'dashgate-reset-race-'));
    const now = testClock(Date.UTC(2026, 2, 4, 9)).now;
    store = await openStore({ url: POSTGRES_URL, dataDir, schema, now });
    const config = parseConfig({ upstream: upstream.url, data_dir: dataDir, log: { level: 'silent', format: 'json', access: 'off' }, throttle: { ...NO_IP_THROTTLE, account_free_failures: FREE } });
    gateway = await buildApp(config, { store, logger: pino({ level: 'silent' }), now });
    await gateway.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(gateway.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await gateway.close();
    await store.close();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  });

  it('ten simultaneous requests for one name make no more links (mails) than the free requests', async () => {
    const una = await createUser(store, 'una', OLD, { email: 'una@example.com' });
    const csrf = hiddenFields(await (await fetch(`${url}/_dashgate/forgot`)).text()).csrf!;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => fetch(`${url}/_dashgate/forgot`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, login: 'una' }).toString() })),
    );
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
    const links = await emailTokenCount(store, una.id);
    assert.ok(links <= FREE, `${links} reset links (each one a mail) for ${FREE} free requests`);
  });
});

describe('password reset without mail.smtp: the outbox', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, { branding: { app_name: 'Payroll' } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  /**
   * The outbox's one message once it is completely written: the mail is written after the answer
   * is sent, and the file exists (empty) before writeFile has filled it.
   */
  async function outboxMessage(): Promise<{ file: string; parsed: ParsedMail }> {
    const dir = join(gw.gateway.config.data_dir, 'outbox');
    for (let i = 0; i < 400; i++) {
      const [name, ...more] = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.eml')) : [];
      assert.deepEqual(more, [], 'one message');
      if (name) {
        const parsed = await simpleParser(readFileSync(join(dir, name)));
        if (parsed.text?.trimEnd().endsWith('Payroll')) return { file: join(dir, name), parsed };
      }
      await new Promise((done) => setTimeout(done, 25));
    }
    throw new Error(`no complete .eml file in ${dir}`);
  }

  it('writes the message as a private .eml file whose text holds a working link', async () => {
    await createUser(gw.store, 'olga', OLD, { email: 'olga@example.com' });
    const csrf = hiddenFields(await (await fetch(`${gw.url}/_dashgate/forgot`)).text()).csrf!;
    assert.equal((await postForm(gw, 'forgot', { csrf, login: 'olga' })).status, 200);

    const { file, parsed } = await outboxMessage();
    assert.equal(statSync(file).mode & 0o777, 0o600, 'readable by the gateway’s user only');
    assert.equal(statSync(join(gw.gateway.config.data_dir, 'outbox')).mode & 0o777, 0o700);
    assert.equal(parsed.subject, 'Reset your Payroll password');
    assert.equal((Array.isArray(parsed.to) ? parsed.to[0] : parsed.to)?.text, 'olga@example.com');
    const link = linkIn({ to: ['olga@example.com'], subject: parsed.subject ?? '', text: parsed.text ?? '', html: '' }, 'reset');

    const page = await fetch(link);
    assert.equal(page.status, 200);
    const done = await postForm(gw, 'reset', { ...hiddenFields(await page.text()), password: NEW, password2: NEW });
    assert.equal(done.status, 303);
    assert.ok(await signIn(gw.url, 'olga', NEW));
  });
});
