import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse, type HTMLElement } from 'node-html-parser';
import type { User } from '../../src/store/types.js';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'admin console passphrase';
const XSS = '<script>alert(1)</script>';

/** The admin console over HTTP: who may use it, that every form is protected, and what each action does. */
describe('admin console', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let root: string;
  let rootUser: User;
  let mallory: string;
  let victim: User;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url);
    rootUser = await createUser(gw.store, 'root', PASSWORD, { isAdmin: true, groups: ['admins'] });
    await createUser(gw.store, 'mallory', PASSWORD);
    victim = await createUser(gw.store, 'victim', PASSWORD, { email: `v${XSS}@example.com`, displayName: XSS, groups: ['analysts'] });
    root = await signIn(gw.url, 'root', PASSWORD);
    mallory = await signIn(gw.url, 'mallory', PASSWORD);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const get = (path: string, cookie?: string) => fetch(`${gw.url}/_dashgate/admin${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  const post = (path: string, cookie: string, fields: Record<string, string>, origin = gw.url) =>
    fetch(`${gw.url}/_dashgate/admin${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, origin, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  const csrf = async (cookie: string) => hiddenFields(await (await get('/users', cookie)).text()).csrf!;

  const pages = () => ['', '/users', `/users/${victim.id}`, '/groups', '/groups/analysts', '/invites', '/sessions', '/audit', '/audit.csv'];
  const forms = () => [
    `/users/${victim.id}/status`,
    `/users/${victim.id}/admin`,
    `/users/${victim.id}/groups`,
    `/users/${victim.id}/reset-link`,
    `/users/${victim.id}/sessions/revoke`,
    `/users/${victim.id}/delete`,
    '/invites',
    '/invites/revoke',
    '/groups',
    '/groups/rename',
    '/groups/delete',
    '/groups/analysts/members',
    '/groups/analysts/members/remove',
    '/sessions/revoke',
  ];

  it('sends anonymous visitors to sign in and refuses non-admins with 403 on every page and form', async () => {
    for (const path of pages()) {
      const anonymous = await get(path);
      assert.equal(anonymous.status, 303, path);
      assert.match(anonymous.headers.get('location')!, /^\/_dashgate\/login\?next=/);
      assert.equal((await get(path, mallory)).status, 403, `GET ${path} as a non-admin`);
    }
    const malloryCsrf = hiddenFields(await (await fetch(`${gw.url}/_dashgate/account`, { headers: { cookie: mallory } })).text()).csrf!;
    for (const path of forms()) {
      const res = await post(path, mallory, { csrf: malloryCsrf, status: 'disabled', admin: '1', groups: 'admins', confirm: 'victim', name: 'x', email: 'a@example.com', expires: '7d', username: 'mallory' });
      assert.equal(res.status, 403, `POST ${path} as a non-admin`);
    }
    const after = await gw.store.users.findById(victim.id);
    assert.deepEqual(after, victim, 'nothing changed');
    assert.equal((await gw.store.users.findByUsername('mallory'))!.isAdmin, false);
  });

  it('refuses every form without the CSRF token, with another session\'s token, or from another origin', async () => {
    const token = await csrf(root);
    const foreign = hiddenFields(await (await fetch(`${gw.url}/_dashgate/account`, { headers: { cookie: mallory } })).text()).csrf!;
    for (const path of forms()) {
      const fields = { status: 'disabled', admin: '1', confirm: 'victim', name: 'newgroup', email: 'x@example.com', expires: '7d', username: 'victim', groups: 'x' };
      assert.equal((await post(path, root, fields)).status, 403, `${path} without a token`);
      assert.equal((await post(path, root, { ...fields, csrf: foreign })).status, 403, `${path} with another session's token`);
      assert.equal((await post(path, root, { ...fields, csrf: token }, 'https://evil.example')).status, 403, `${path} cross-origin`);
    }
    assert.deepEqual(await gw.store.users.findById(victim.id), victim);
  });

  it('shows hostile names, emails and groups escaped on every page', async () => {
    await gw.store.groups.create('g"onmouseover=x');
    await createUser(gw.store, 'x.y', PASSWORD, { groups: ['g"onmouseover=x'] });
    for (const path of pages().filter((p) => !p.endsWith('.csv') && p !== '')) {
      const body = await (await get(path, root)).text();
      assert.ok(!body.includes(XSS), `${path} contains raw markup`);
      assert.ok(!/onmouseover=x"?[ >]/.test(body.replace(/&quot;onmouseover=x/g, '')), `${path} contains a raw attribute`);
    }
    // Shown, as text: the parsed page has the name in the text and no script element from it.
    const detail = parse(await (await get(`/users/${victim.id}`, root)).text());
    const facts = Object.fromEntries(detail.querySelectorAll('.facts dt').map((dt) => [dt.text, (dt.nextElementSibling as HTMLElement | null)?.text]));
    assert.equal(facts.Name, XSS);
    assert.equal(detail.querySelectorAll('script').length, 0);
  });

  it('invites someone: the link is shown once and works; revoking another invitation makes it useless', async () => {
    const res = await post('/invites', root, { csrf: await csrf(root), email: 'new@example.com', groups: 'analysts, finance', expires: '7d' });
    assert.equal(res.status, 200);
    const page = await res.text();
    const link = /<code class="secret" id="new-link">([^<]+)<\/code>/.exec(page)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(link?.includes('/_dashgate/invite?token='), page);
    assert.equal((await fetch(link!)).status, 200);
    const open = await gw.store.invites.listOpen(Date.now());
    assert.equal(open.length, 1);
    assert.deepEqual(open[0]!.groups, ['analysts', 'finance']);
    assert.equal(open[0]!.createdBy, 'root');
    const revoked = await post('/invites/revoke', root, { csrf: await csrf(root), id: open[0]!.id });
    assert.equal(revoked.status, 303);
    assert.equal((await fetch(link!)).status, 410);
    assert.equal((await post('/invites', root, { csrf: await csrf(root), email: 'not an email', expires: '7d' })).status, 400);
  });

  it('disables a user (their session ends at once), re-enables, and sets groups', async () => {
    const victimCookie = await signIn(gw.url, 'victim', PASSWORD);
    assert.equal((await fetch(`${gw.url}/x`, { headers: { cookie: victimCookie, accept: 'application/json' } })).status, 200);
    assert.equal((await post(`/users/${victim.id}/status`, root, { csrf: await csrf(root), status: 'disabled' })).status, 303);
    assert.equal((await fetch(`${gw.url}/x`, { headers: { cookie: victimCookie, accept: 'application/json' } })).status, 401);
    assert.equal((await post(`/users/${victim.id}/status`, root, { csrf: await csrf(root), status: 'active' })).status, 303);
    assert.equal((await post(`/users/${victim.id}/groups`, root, { csrf: await csrf(root), groups: 'finance, hr' })).status, 303);
    assert.deepEqual((await gw.store.users.findById(victim.id))!.groups, ['finance', 'hr']);
    const log = await gw.store.audit.list({ actor: 'root' });
    for (const action of ['user.disabled', 'user.enabled', 'user.groups_set']) assert.ok(log.some((e) => e.action === action && e.target === 'victim'), action);
  });

  it('never lets the last active administrator be disabled, demoted or deleted', async () => {
    for (const [path, fields] of [
      [`/users/${rootUser.id}/status`, { status: 'disabled' }],
      [`/users/${rootUser.id}/admin`, { admin: '0' }],
      [`/users/${rootUser.id}/delete`, { confirm: 'root' }],
    ] as const) {
      const res = await post(path, root, { csrf: await csrf(root), ...fields });
      assert.equal(res.status, 409, path);
      assert.match(await res.text(), /last active administrator/);
    }
    const still = await gw.store.users.findById(rootUser.id);
    assert.equal(still!.status, 'active');
    assert.equal(still!.isAdmin, true);
  });

  it('revokes another browser\'s session from the sessions page', async () => {
    const victimCookie = await signIn(gw.url, 'victim', PASSWORD);
    const sessions = await gw.store.sessions.listForUser(victim.id);
    const latest = sessions.sort((a, b) => b.createdAt - a.createdAt)[0]!;
    const list = await (await get('/sessions', root)).text();
    assert.match(list, /victim/);
    assert.equal((await post('/sessions/revoke', root, { csrf: await csrf(root), id: latest.id })).status, 303);
    assert.equal((await fetch(`${gw.url}/x`, { headers: { cookie: victimCookie, accept: 'application/json' } })).status, 401);
  });

  it('filters the audit log and exports it as CSV with formula cells defused', async () => {
    await gw.store.audit.record({ action: 'login.failure', actor: '=HYPERLINK("http://evil")', ip: '10.0.0.1' });
    const filtered = await (await get('/audit?action=user.', root)).text();
    assert.match(filtered, /user\.disabled/);
    assert.ok(!filtered.includes('login.failure'));
    const csv = await get('/audit.csv?action=login.', root);
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type')!, /^text\/csv/);
    assert.match(csv.headers.get('content-disposition')!, /attachment; filename="dashgate-audit-/);
    const text = await csv.text();
    assert.match(text, /^at,actor,action,target,ip,detail\r\n/);
    assert.match(text, /"'=HYPERLINK\(""http:\/\/evil""\)"/);
    assert.ok(!/^[^\r\n]*,=/m.test(text), 'no cell starts with "="');
  });

  it('deletes a user after the username is typed', async () => {
    const doomed = await createUser(gw.store, 'doomed', PASSWORD);
    assert.equal((await post(`/users/${doomed.id}/delete`, root, { csrf: await csrf(root), confirm: 'someone' })).status, 400);
    assert.equal((await post(`/users/${doomed.id}/delete`, root, { csrf: await csrf(root), confirm: 'doomed' })).status, 303);
    assert.equal(await gw.store.users.findById(doomed.id), null);
  });
});
