import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

/** The account page's API tokens: created from the browser, shown once, used as Bearer, revoked. */
describe('account page: personal API tokens', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let alice: string;
  let bob: string;
  const PASSWORD = 'account passphrase';

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url);
    await createUser(gw.store, 'alice', PASSWORD, { groups: ['analysts'], displayName: '<img src=x onerror=alert(1)>' });
    await createUser(gw.store, 'bob', PASSWORD);
    alice = await signIn(gw.url, 'alice', PASSWORD);
    bob = await signIn(gw.url, 'bob', PASSWORD);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const account = (cookie: string) => fetch(`${gw.url}/_dashgate/account`, { headers: { cookie } });
  async function submit(cookie: string, path: string, fields: Record<string, string>) {
    return fetch(`${gw.url}/_dashgate/account${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
  const csrfOf = async (cookie: string) => hiddenFields(await (await account(cookie)).text()).csrf!;
  const viaToken = (token: string) => fetch(`${gw.url}/data`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });

  it('sends anonymous visitors to sign in and back', async () => {
    const res = await fetch(`${gw.url}/_dashgate/account`, { redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/_dashgate/login?next=%2F_dashgate%2Faccount');
  });

  it('shows who is signed in, escaped, with the page security headers', async () => {
    const res = await account(alice);
    const page = await res.text();
    assert.equal(res.status, 200);
    assert.match(page, /&lt;img src=x onerror=alert\(1\)&gt;/);
    assert.ok(!page.includes('<img src=x'));
    assert.match(page, /<dt>Groups<\/dt><dd>analysts<\/dd>/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  });

  it('creates a token shown exactly once, which then works as a Bearer token', async () => {
    const created = await submit(alice, '/tokens', { csrf: await csrfOf(alice), name: 'nightly <report>', expires: '30d' });
    assert.equal(created.status, 200);
    const page = await created.text();
    const token = /<code class="secret" id="new-token">(dgt_[^<]+)<\/code>/.exec(page)?.[1];
    assert.ok(token, 'the new token is on the page');
    assert.match(page, /nightly &lt;report&gt;/);
    const later = await (await account(alice)).text();
    assert.ok(!later.includes(token), 'not shown again');
    assert.match(later, /nightly &lt;report&gt;/);
    const used = await viaToken(token);
    assert.equal(used.status, 200);
    assert.equal(upstream.requests.at(-1)!.headers['x-forwarded-user'], 'alice');
  });

  it('refuses token forms without the session CSRF token or from another origin', async () => {
    const before = (await gw.store.apiTokens.listForUser((await gw.store.users.findByUsername('bob'))!.id)).length;
    const noCsrf = await submit(bob, '/tokens', { name: 'x', expires: '30d' });
    assert.equal(noCsrf.status, 403);
    const alicesCsrf = await submit(bob, '/tokens', { csrf: await csrfOf(alice), name: 'x', expires: '30d' });
    assert.equal(alicesCsrf.status, 403, "another session's token");
    const crossSite = await fetch(`${gw.url}/_dashgate/account/tokens`, {
      method: 'POST',
      headers: { cookie: bob, origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: await csrfOf(bob), name: 'x', expires: '30d' }).toString(),
    });
    assert.equal(crossSite.status, 403);
    const badExpiry = await submit(bob, '/tokens', { csrf: await csrfOf(bob), name: 'x', expires: '10y' });
    assert.equal(badExpiry.status, 400);
    assert.equal((await gw.store.apiTokens.listForUser((await gw.store.users.findByUsername('bob'))!.id)).length, before);
  });

  it('revokes a token at once; nobody can revoke another user\'s token', async () => {
    const page = await (await submit(alice, '/tokens', { csrf: await csrfOf(alice), name: 'to revoke', expires: 'never' })).text();
    const token = /id="new-token">(dgt_[^<]+)</.exec(page)![1]!;
    assert.equal((await viaToken(token)).status, 200);
    const id = token.slice('dgt_'.length).split('.')[0]!;
    const byBob = await submit(bob, '/tokens/revoke', { csrf: await csrfOf(bob), id });
    assert.equal(byBob.status, 404);
    assert.equal((await viaToken(token)).status, 200, "bob could not revoke alice's token");
    const byAlice = await submit(alice, '/tokens/revoke', { csrf: await csrfOf(alice), id });
    assert.equal(byAlice.status, 303);
    assert.equal((await viaToken(token)).status, 401);
    const audit = await gw.store.audit.list({ limit: 20 });
    assert.ok(audit.some((e) => e.action === 'token.revoke' && e.actor === 'alice'));
    assert.ok(audit.some((e) => e.action === 'token.create' && e.actor === 'alice'));
  });
});
