/**
 * The console's routes through HTTP, asserted on codes and structure (node-html-parser): every
 * state-changing route refuses a missing or foreign CSRF token with `csrf-failed` and changes
 * nothing; refusals are pages with `data-code` for browsers and JSON for scripts; input the
 * schemas refuse is `bad-input` naming the field; bulk actions, filters, sorting and the overview
 * do what they say; hostile text is shown as text everywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'node-html-parser';
import type { User } from '../../src/store/types.js';
import { createUser, hiddenFields, rawRequest, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';
import { tableRows } from '../helpers/html.js';

const PASSWORD = 'console routes passphrase';
const XSS = '<img src=x onerror=alert(1)>';

describe('console routes: guards, codes, input, features', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let root: string;
  let rootUser: User;
  let ann: User;
  let ben: User;
  let cy: User;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url);
    rootUser = await createUser(gw.store, 'root', PASSWORD, { isAdmin: true, groups: ['admins'] });
    ann = await createUser(gw.store, 'ann', PASSWORD, { email: 'zed@example.com', displayName: XSS, groups: ['x"><b>g'] });
    ben = await createUser(gw.store, 'ben', PASSWORD, { email: 'amy@example.com' });
    cy = await createUser(gw.store, 'cy', PASSWORD, { email: 'mid@example.com' });
    root = await signIn(gw.url, 'root', PASSWORD);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${gw.url}/_dashgate/admin${path}`, { redirect: 'manual', headers: { cookie: root, ...headers } });
  const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/_dashgate/admin${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: root, origin: gw.url, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  const csrf = async () => hiddenFields(await (await get('/users')).text()).csrf!;
  const NAVIGATE = { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'same-origin', accept: 'text/html' };

  const stateChanging = () => [
    '/users/bulk',
    `/users/${ann.id}/status`,
    `/users/${ann.id}/admin`,
    `/users/${ann.id}/groups`,
    `/users/${ann.id}/reset-link`,
    `/users/${ann.id}/mfa-reset`,
    `/users/${ann.id}/sso/unlink`,
    `/users/${ann.id}/sessions/revoke`,
    `/users/${ann.id}/delete`,
    '/invites',
    '/invites/revoke',
    '/signups/approve',
    '/signups/reject',
    '/groups',
    '/groups/rename',
    '/groups/delete',
    '/groups/analysts/members',
    '/groups/analysts/members/remove',
    '/sessions/revoke',
  ];

  it('every state-changing route refuses a missing or wrong CSRF token with csrf-failed, and nothing changes', async () => {
    const before = await gw.store.users.list();
    const fields = { action: 'disable', [`user:${ann.id}`]: '1', status: 'disabled', admin: '1', groups: 'x', confirm: 'ann', name: 'g', from: 'x', to: 'y', email: 'a@example.com', expires: '7d', username: 'ann', id: ann.id, provider: 'p' };
    for (const path of stateChanging()) {
      for (const token of [undefined, 'forged', await csrf().then((t) => `${t}x`)]) {
        const res = await post(path, token === undefined ? fields : { ...fields, csrf: token }, { accept: 'application/json' });
        assert.equal(res.status, 403, `${path} with ${token ?? 'no token'}`);
        assert.equal(res.headers.get('x-dashgate'), 'csrf-failed', path);
        assert.equal(((await res.json()) as { error: string }).error, 'csrf-failed', path);
      }
    }
    assert.deepEqual(await gw.store.users.list(), before);
  });

  it('a browser sees the refusal as a page with its code, who is signed in and a way back', async () => {
    // fetch() always sends Sec-Fetch-Mode: cors; a real form submission says navigate.
    const res = await rawRequest(gw.url, `/_dashgate/admin/users/${ann.id}/status`, { method: 'POST', headers: { cookie: root, origin: gw.url, 'content-type': 'application/x-www-form-urlencoded', ...NAVIGATE }, body: 'status=disabled' });
    assert.equal(res.status, 403);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.equal(res.headers['x-dashgate'], 'csrf-failed');
    const doc = parse(res.body);
    assert.ok(doc.querySelector('[data-code="csrf-failed"]'));
    assert.equal(doc.querySelector('.signed-in-as strong')!.text, 'root');
  });

  it('input the route does not accept is bad-input naming the field; an unknown user is not-found', async () => {
    const token = await csrf();
    const bogus = await post(`/users/${ann.id}/status`, { csrf: token, status: 'bogus' }, { accept: 'application/json' });
    assert.equal(bogus.status, 400);
    assert.equal(bogus.headers.get('x-dashgate'), 'bad-input');
    const body = (await bogus.json()) as { error: string; issues: Array<{ field: string }> };
    assert.deepEqual(body.issues.map((i) => i.field), ['status']);
    const notAnId = await get('/users/not-a-uuid', { accept: 'text/html' });
    assert.equal(notAnId.status, 400);
    assert.equal(notAnId.headers.get('x-dashgate'), 'bad-input');
    const gone = await get('/users/00000000-0000-4000-8000-000000000000', { accept: 'text/html' });
    assert.equal(gone.status, 404);
    assert.ok(parse(await gone.text()).querySelector('[data-code="not-found"]'));
    assert.equal((await get('/groups/no-such-group')).status, 404);
  });

  it('bulk actions change the ticked users through the account rules, and say what was refused', async () => {
    const disabled = await post('/users/bulk', { csrf: await csrf(), action: 'disable', [`user:${ben.id}`]: '1', [`user:${cy.id}`]: '1', [`user:${rootUser.id}`]: '1' });
    assert.equal(disabled.status, 200);
    const doc = parse(await disabled.text());
    assert.match(doc.querySelector('[role=status]')!.text, /^2 users disabled\.$/);
    assert.match(doc.querySelector('[role=alert]')!.text, /root: not your own account/);
    assert.equal((await gw.store.users.findById(ben.id))!.status, 'disabled');
    assert.equal((await gw.store.users.findById(cy.id))!.status, 'disabled');
    assert.equal((await gw.store.users.findById(rootUser.id))!.status, 'active');
    assert.equal((await post('/users/bulk', { csrf: await csrf(), action: 'enable', [`user:${ben.id}`]: '1', [`user:${cy.id}`]: '1' })).status, 200);
    assert.equal((await gw.store.users.findById(cy.id))!.status, 'active');

    const grouped = await post('/users/bulk', { csrf: await csrf(), action: 'add_group', group: 'forecasters', [`user:${ben.id}`]: '1', [`user:${cy.id}`]: '1' });
    assert.equal(grouped.status, 200);
    assert.deepEqual((await gw.store.users.findById(ben.id))!.groups, ['forecasters']);
    // The admins group follows the admin role: a bulk add cannot hand it out.
    const admins = await post('/users/bulk', { csrf: await csrf(), action: 'add_group', group: 'admins', [`user:${ben.id}`]: '1' });
    assert.equal(admins.status, 400);
    assert.deepEqual((await gw.store.users.findById(ben.id))!.groups, ['forecasters']);
    assert.equal((await gw.store.users.findById(ben.id))!.isAdmin, false);
    const none = await post('/users/bulk', { csrf: await csrf(), action: 'add_group', group: '', [`user:${ben.id}`]: '1' }, { accept: 'application/json' });
    assert.equal(none.headers.get('x-dashgate'), 'bad-input');
  });

  it('the users list sorts by a column and keeps search, filter and sort in the form, the links and the pager', async () => {
    const byEmail = parse(await (await get('/users?sort=email&dir=desc')).text());
    const emails = tableRows(byEmail).map((cells) => cells[2]);
    assert.deepEqual(emails.filter((e) => e !== '—'), ['zed@example.com', 'mid@example.com', 'amy@example.com']);
    assert.equal(byEmail.querySelector('th[aria-sort]')!.getAttribute('aria-sort'), 'descending');
    const emailHeader = byEmail.querySelectorAll('th a').find((a) => a.text.startsWith('Email'))!;
    assert.equal(emailHeader.getAttribute('href'), '/_dashgate/admin/users?sort=email', 'the next click sorts the other way');

    await post('/users/bulk', { csrf: await csrf(), action: 'disable', [`user:${cy.id}`]: '1' });
    const filtered = parse(await (await get('/users?status=disabled&q=example&sort=created')).text());
    assert.deepEqual(tableRows(filtered).map((cells) => cells[1]), ['cy']);
    assert.equal(filtered.querySelector('#q')!.getAttribute('value'), 'example');
    assert.equal(filtered.querySelector('#status option[selected]')!.getAttribute('value'), 'disabled');
    assert.equal(filtered.querySelector('form[role=search] input[name=sort]')!.getAttribute('value'), 'created');
    const sortLinks = filtered.querySelectorAll('th a').map((a) => a.getAttribute('href')!);
    assert.ok(sortLinks.every((href) => href.includes('q=example') && href.includes('status=disabled')), sortLinks.join(' '));
  });

  it('the user page lists groups, sessions, factors, tokens and recent activity', async () => {
    const doc = parse(await (await get(`/users/${ann.id}`)).text());
    for (const id of ['groups-title', 'factors-title', 'tokens-title', 'sessions-title', 'recent-title']) assert.ok(doc.querySelector(`#${id}`), id);
    assert.equal(doc.querySelector('#user-groups')!.getAttribute('value'), 'x"><b>g');
  });

  it('the overview counts users, sessions and sign-ins, with the chart described in words', async () => {
    await signIn(gw.url, 'ann', 'wrong').catch(() => undefined);
    const doc = parse(await (await get('')).text());
    const stats = Object.fromEntries(doc.querySelectorAll('.stat').map((s) => [s.querySelector('.stat-label')!.text, Number(s.querySelector('.stat-value')!.text)]));
    assert.equal(stats.Users, 4);
    assert.equal(stats['Signed-in sessions'], 1);
    assert.equal(stats['Sign-ins, last 7 days'], 1);
    assert.equal(stats['Failed sign-ins, last 7 days'], 1);
    assert.match(doc.querySelector('svg.chart title')!.text, /1 successful, 1 failed/);
    assert.equal(doc.querySelectorAll('svg.chart rect').length, 28, 'two bars for each of 14 days');
  });

  it('hostile names, groups and typed text are text on every console page', async () => {
    const forgot = await fetch(`${gw.url}/_dashgate/forgot`);
    await fetch(`${gw.url}/_dashgate/forgot`, { method: 'POST', headers: { origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...hiddenFields(await forgot.text()), login: XSS }).toString() });
    for (const path of ['', '/users', `/users/${ann.id}`, '/groups', `/groups/${encodeURIComponent('x"><b>g')}`, '/invites', '/signups', '/sessions', '/audit']) {
      const page = await (await get(path)).text();
      assert.ok(!/<img src=x/i.test(page), `${path} shows markup`);
      assert.ok(!page.includes('"><b>g'), `${path} lets a group name end an attribute`);
    }
  });
});
