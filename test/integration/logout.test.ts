import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

describe('logout', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url);
    await createUser(gw.store, 'alice', 'correct horse battery');
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function logoutForm(cookie: string) {
    const page = await fetch(`${gw.url}/_dashgate/logout`, { headers: { cookie } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<button type="submit"[^>]*>Sign out<\/button>/);
    return hiddenFields(html);
  }

  it('GET shows a confirm button and does not end the session', async () => {
    const cookie = await signIn(gw.url, 'alice', 'correct horse battery');
    await logoutForm(cookie);
    assert.equal((await fetch(`${gw.url}/`, { headers: { cookie } })).status, 200);
  });

  it('POST ends the session server-side: replaying the old cookie fails', async () => {
    const cookie = await signIn(gw.url, 'alice', 'correct horse battery');
    const fields = await logoutForm(cookie);
    const res = await fetch(`${gw.url}/_dashgate/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/_dashgate/login?signed_out=1');
    assert.match(res.headers.get('set-cookie') ?? '', /^dashgate_session=; .*Max-Age=0/);
    const [id] = cookie.split('=')[1]!.split('.');
    assert.equal(await gw.store.sessions.findById(id!), null, 'the row is gone');
    const replay = await fetch(`${gw.url}/`, { redirect: 'manual', headers: { cookie, accept: 'text/html' } });
    assert.equal(replay.status, 303);
    assert.match(replay.headers.get('location') ?? '', /^\/_dashgate\/login/);
    const actions = (await gw.store.audit.list({ action: 'logout' })).map((e) => e.actor);
    assert.ok(actions.includes('alice'));
  });

  it('refuses a logout without the CSRF token (a cross-site form cannot sign users out)', async () => {
    const cookie = await signIn(gw.url, 'alice', 'correct horse battery');
    const forged = await fetch(`${gw.url}/_dashgate/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    assert.equal(forged.status, 403);
    const otherSite = await fetch(`${gw.url}/_dashgate/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams(await logoutForm(cookie)),
    });
    assert.equal(otherSite.status, 403);
    assert.equal((await fetch(`${gw.url}/`, { headers: { cookie } })).status, 200, 'still signed in');
  });

  it("refuses another session's CSRF token", async () => {
    const mine = await signIn(gw.url, 'alice', 'correct horse battery');
    const theirs = await signIn(gw.url, 'alice', 'correct horse battery');
    const fields = await logoutForm(theirs);
    const res = await fetch(`${gw.url}/_dashgate/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: mine, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
    assert.equal(res.status, 403);
  });
});
