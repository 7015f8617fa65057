/**
 * What a person sees on the console's forms and refusals, read with a real HTML parser: setup and
 * invitation forms report every problem at once under its field, keep what was typed (never a
 * password) and state the configured password minimum before typing; an invitation made without
 * a mail server does not claim it was sent; the audit log shows an anonymous visitor as
 * anonymous, what they typed escaped; the 403 page names who is signed in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse, type HTMLElement } from 'node-html-parser';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'console forms passphrase';
const MIN = 12;
const XSS = '<img src=x onerror=alert(1)>';

describe('console forms and refusals', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let root: string;
  let mallory: string;

  before(async () => {
    upstream = await startRecordingUpstream();
    // No mail.smtp: mail goes to the outbox.
    gw = await startGateway(upstream.url, { password: { min_length: MIN } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const form = (path: string, fields: Record<string, string>, cookie?: string) =>
    fetch(`${gw.url}/_dashgate${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: gw.url, 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
      body: new URLSearchParams(fields).toString(),
    });
  const page = async (res: Response): Promise<HTMLElement> => parse(await res.text());
  const errorsOf = (doc: HTMLElement) => Object.fromEntries(doc.querySelectorAll('.field-error').map((e) => [e.id.replace(/-error$/, ''), e.text]));

  it('setup: every problem at once, under its field, with what was typed kept and no password echoed', async () => {
    const link = (await gw.gateway.setupLinkIfNeeded(gw.url))!;
    const first = await page(await fetch(link));
    assert.match(first.querySelector('#password-hint')!.text, new RegExp(`At least ${MIN} characters`), 'the real minimum, before typing');
    assert.equal(first.querySelector('#password')!.getAttribute('aria-describedby'), 'password-hint');
    const res = await form('/setup', { ...hiddenFields(first.toString()), username: 'bad name', email: 'not-an-address', password: 'short', password2: 'other' });
    assert.equal(res.status, 400);
    const doc = await page(res);
    assert.deepEqual(Object.keys(errorsOf(doc)).sort(), ['email', 'password', 'username']);
    // The password was refused: its repetition is not refused a second time.
    assert.equal(doc.querySelector('#password2-error'), null);
    assert.equal(doc.querySelectorAll('#form-error li').length, 3, 'a summary names all three');
    assert.equal(doc.querySelector('#username')!.getAttribute('value'), 'bad name');
    assert.equal(doc.querySelector('#email')!.getAttribute('value'), 'not-an-address');
    assert.equal(doc.querySelector('#username')!.getAttribute('aria-invalid'), 'true');
    for (const id of ['password', 'password2']) assert.equal(doc.querySelector(`#${id}`)!.getAttribute('value'), undefined, `${id} is never sent back`);

    const mismatch = await page(await form('/setup', { ...hiddenFields(doc.toString()), username: 'root', email: 'root@example.com', password: PASSWORD, password2: `${PASSWORD}!` }));
    assert.deepEqual(Object.keys(errorsOf(mismatch)), ['password2']);
    const done = await form('/setup', { ...hiddenFields(mismatch.toString()), username: 'root', email: 'root@example.com', password: PASSWORD, password2: PASSWORD });
    assert.equal(done.status, 303);
    root = await signIn(gw.url, 'root', PASSWORD);
  });

  it('an invitation made without a mail server says it went to the outbox, never that it was sent', async () => {
    const users = await page(await fetch(`${gw.url}/_dashgate/admin/users`, { headers: { cookie: root } }));
    assert.match(users.querySelector('#invite-title')!.parentNode.text, /No mail server is configured/);
    const res = await form('/admin/invites', { csrf: hiddenFields(users.toString()).csrf!, email: 'ivy@example.com', groups: 'hr', expires: '7d' }, root);
    assert.equal(res.status, 200);
    const doc = await page(res);
    const notice = doc.querySelector('[role=status]')!.text;
    assert.doesNotMatch(notice, /was sent/);
    assert.match(notice, /outbox/);
    assert.match(doc.querySelector('#new-link')!.text, /\/_dashgate\/invite\?token=/);
  });

  it('a refused invitation keeps what the admin typed', async () => {
    const users = await page(await fetch(`${gw.url}/_dashgate/admin/users`, { headers: { cookie: root } }));
    const res = await form('/admin/invites', { csrf: hiddenFields(users.toString()).csrf!, email: 'not an address', groups: 'hr, finance', expires: '30d', admin: '1' }, root);
    assert.equal(res.status, 400);
    const doc = await page(res);
    assert.equal(doc.querySelector('#invite-email')!.getAttribute('value'), 'not an address');
    assert.equal(doc.querySelector('#invite-groups')!.getAttribute('value'), 'hr, finance');
    assert.equal(doc.querySelector('#invite-expires option[selected]')!.getAttribute('value'), '30d');
    assert.ok(doc.querySelector('input[name=admin]')!.hasAttribute('checked'));
  });

  it('accepting an invitation: a taken username and a mismatch are both reported', async () => {
    await createUser(gw.store, 'mallory', PASSWORD);
    mallory = await signIn(gw.url, 'mallory', PASSWORD);
    const users = await page(await fetch(`${gw.url}/_dashgate/admin/users`, { headers: { cookie: root } }));
    const created = await page(await form('/admin/invites', { csrf: hiddenFields(users.toString()).csrf!, expires: '7d' }, root));
    const link = created.querySelector('#new-link')!.text;
    const invitePage = await page(await fetch(link));
    assert.match(invitePage.querySelector('#password-hint')!.text, new RegExp(`At least ${MIN} characters`));
    const res = await form('/invite', { ...hiddenFields(invitePage.toString()), username: 'Mallory', password: PASSWORD, password2: 'something else entirely' });
    assert.equal(res.status, 400);
    const doc = await page(res);
    assert.deepEqual(Object.keys(errorsOf(doc)).sort(), ['password2', 'username']);
    assert.equal(doc.querySelector('#username')!.getAttribute('value'), 'mallory');
  });

  it('the audit log shows an anonymous visitor as anonymous, with what they typed escaped, and times in words', async () => {
    const forgot = await fetch(`${gw.url}/_dashgate/forgot`);
    await form('/forgot', { ...hiddenFields(await forgot.text()), login: XSS });
    const res = await fetch(`${gw.url}/_dashgate/admin/audit?action=password.reset_requested`, { headers: { cookie: root } });
    const html = await res.text();
    assert.doesNotMatch(html, /<img src=x/i, 'never as markup');
    const row = parse(html).querySelector('tbody tr')!;
    const cells = Object.fromEntries(row.querySelectorAll('td[data-label]').map((td) => [td.getAttribute('data-label'), td]));
    assert.equal(cells.Who!.text.trim(), 'anonymous');
    const typed = cells.Details!.querySelectorAll('.kv > div').find((d: HTMLElement) => d.querySelector('dt')!.text === 'typed');
    assert.equal(typed?.querySelector('dd')!.text, XSS.toLowerCase(), 'the typed text, as text');
    const time = cells.When!.querySelector('time')!;
    assert.equal(time.text, 'just now');
    assert.match(time.getAttribute('datetime')!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(time.getAttribute('title')!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    assert.doesNotMatch(cells.Details!.text, /[{}"]/, 'no raw JSON');
  });

  it('the 403 page of the console names who is signed in and offers Switch account', async () => {
    const res = await fetch(`${gw.url}/_dashgate/admin/users`, { headers: { cookie: mallory } });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('x-dashgate'), 'admin-required');
    const doc = await page(res);
    assert.ok(doc.querySelector('[data-code="admin-required"]'));
    assert.equal(doc.querySelector('.signed-in-as strong')!.text, 'mallory');
    const switchLink = doc.querySelectorAll('a').find((a) => a.text === 'Switch account')!;
    assert.equal(switchLink.getAttribute('href'), '/_dashgate/logout?switch=1&next=%2F_dashgate%2Fadmin%2Fusers');
  });

  it('switch account: signing out with a destination sends the next sign-in there', async () => {
    const logoutPage = await page(await fetch(`${gw.url}/_dashgate/logout?switch=1&next=%2Freports%2Fq3`, { headers: { cookie: mallory } }));
    const fields = Object.fromEntries(logoutPage.querySelectorAll('form input[type=hidden]').map((i) => [i.getAttribute('name')!, i.getAttribute('value')!]));
    assert.equal(fields.next, '/reports/q3');
    const res = await form('/logout', fields, mallory);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/_dashgate/login?signed_out=1&next=%2Freports%2Fq3');
    // A destination elsewhere is not followed (the same rule as sign-in's next).
    const other = await signIn(gw.url, 'mallory', PASSWORD);
    const csrf = hiddenFields(await (await fetch(`${gw.url}/_dashgate/logout`, { headers: { cookie: other } })).text()).csrf!;
    const away = await form('/logout', { csrf, next: '//evil.example/x' }, other);
    assert.equal(away.headers.get('location'), '/_dashgate/login?signed_out=1');
  });
});
