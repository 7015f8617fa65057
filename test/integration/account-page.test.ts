/**
 * The account page's password change and its list of signed-in browsers (`/_dashgate/account`),
 * over real HTTP, each browser a separate sign-in with its own User-Agent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { User } from '../../src/store/types.js';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

const OLD = 'the old passphrase';
const NEW = 'a brand new passphrase';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const EDGE_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0';

interface Browser {
  cookie: string;
  /** The session id: the cookie token's public half. */
  id: string;
}

describe('account page: password change and signed-in browsers', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let userSeq = 0;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, { throttle: { ip_free_failures: 10_000 } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  /** A fresh account per test, so no test depends on another's sessions. */
  const newUser = (): Promise<User> => createUser(gw.store, `user${++userSeq}`, OLD);

  /** Signs in through the login form as a browser with this User-Agent would. */
  async function signInAs(username: string, userAgent: string): Promise<Browser> {
    const fields = hiddenFields(await (await fetch(`${gw.url}/_dashgate/login`, { headers: { 'user-agent': userAgent } })).text());
    const res = await fetch(`${gw.url}/_dashgate/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'user-agent': userAgent, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, username, password: OLD }),
    });
    assert.equal(res.status, 303);
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    return { cookie, id: cookie.slice(cookie.indexOf('=') + 1).split('.')[0]! };
  }
  const accountPage = async (b: Browser) => {
    const res = await fetch(`${gw.url}/_dashgate/account`, { headers: { cookie: b.cookie } });
    assert.equal(res.status, 200);
    return res.text();
  };
  const csrfOf = async (b: Browser) => hiddenFields(await accountPage(b)).csrf!;
  async function submit(b: Browser, path: string, fields: Record<string, string>, headers: Record<string, string> = { origin: gw.url }) {
    const res = await fetch(`${gw.url}/_dashgate/account/${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: b.cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  }
  /** 200 while the cookie signs in; 401 for a script and 303 to sign-in for a page once it does not. */
  async function state(b: Browser): Promise<'signed in' | 'signed out'> {
    const json = (await fetch(`${gw.url}/data`, { headers: { cookie: b.cookie, accept: 'application/json' } })).status;
    const page = await fetch(`${gw.url}/report`, { redirect: 'manual', headers: { cookie: b.cookie, accept: 'text/html' } });
    if (json === 200 && page.status === 200) return 'signed in';
    assert.equal(json, 401);
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/_dashgate/login?next=%2Freport');
    return 'signed out';
  }
  /** The rows of the "Where you are signed in" table. */
  function sessionRows(page: string): Array<{ text: string; endId: string | null }> {
    const table = /<table class="table" aria-labelledby="sessions-title">([\s\S]*?)<\/table>/.exec(page)![1]!;
    return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)]
      .map((m) => m[1]!)
      .filter((row) => row.includes('<td>'))
      .map((row) => ({ text: row, endId: /action="\/_dashgate\/account\/sessions\/end" [\s\S]*?name="id" value="([^"]+)"/.exec(row)?.[1] ?? null }));
  }

  it('lists the user’s own browsers by name, marks this one, and offers to end the others', async () => {
    const user = await newUser();
    const other = await newUser();
    const firefox = await signInAs(user.username, FIREFOX_LINUX);
    const chrome = await signInAs(user.username, CHROME_MAC);
    await signInAs(other.username, EDGE_WINDOWS);

    const fromFirefox = await accountPage(firefox);
    const rows = sessionRows(fromFirefox);
    assert.equal(rows.length, 2, 'only this user’s sessions');
    const mine = rows.filter((r) => r.text.includes('(this browser)'));
    assert.equal(mine.length, 1);
    assert.match(mine[0]!.text, /Firefox on Linux <strong>\(this browser\)<\/strong>/);
    assert.equal(mine[0]!.endId, null, 'no button to end the current session from the list');
    const theirs = rows.find((r) => !r.text.includes('(this browser)'))!;
    assert.match(theirs.text, /Chrome on macOS/);
    assert.match(theirs.text, /127\.0\.0\.1/);
    assert.equal(theirs.endId, chrome.id);
    assert.ok(!fromFirefox.includes('Edge on Windows'));
    assert.match(fromFirefox, /Sign out everywhere else/);

    const fromChrome = sessionRows(await accountPage(chrome));
    assert.match(fromChrome.find((r) => r.text.includes('(this browser)'))!.text, /Chrome on macOS/);
    assert.equal(fromChrome.find((r) => r.endId !== null)?.endId, firefox.id);
  });

  it('offers no "everywhere else" with one browser, and escapes what the User-Agent says', async () => {
    const user = await newUser();
    const odd = await signInAs(user.username, '<img src=x onerror=alert(1)>');
    const page = await accountPage(odd);
    assert.equal(sessionRows(page).length, 1);
    assert.ok(!page.includes('Sign out everywhere else'));
    assert.ok(!page.includes('<img src=x'));
    assert.match(page, /&lt;img src=x onerror=alert\(1\)&gt;/);
  });

  it('a password change needs the current password: a wrong one is refused with 400 and changes nothing', async () => {
    const user = await newUser();
    const here = await signInAs(user.username, FIREFOX_LINUX);
    const there = await signInAs(user.username, CHROME_MAC);
    const wrong = await submit(here, 'password', { csrf: await csrfOf(here), current: 'not the passphrase', password: NEW, password2: NEW });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body, /The current password is not correct/);
    const missing = await submit(here, 'password', { csrf: await csrfOf(here), password: NEW, password2: NEW });
    assert.equal(missing.status, 400);
    assert.equal(await state(here), 'signed in');
    assert.equal(await state(there), 'signed in', 'no session ended');
    assert.ok(await signIn(gw.url, user.username, OLD), 'the old password still works');
    await assert.rejects(signIn(gw.url, user.username, NEW));
    assert.equal((await gw.store.audit.list({ action: 'password.changed' })).filter((e) => e.actor === user.username).length, 0);
  });

  it('a weak or mismatched new password is refused with 400 and changes nothing', async () => {
    const user = await newUser();
    const here = await signInAs(user.username, FIREFOX_LINUX);
    const there = await signInAs(user.username, CHROME_MAC);
    for (const [password, password2, message] of [
      ['password', 'password', /commonly used/],
      ['short', 'short', /at least 8 characters/],
      [NEW, `${NEW}!`, /The two new passwords are not the same/],
    ] as const) {
      const res = await submit(here, 'password', { csrf: await csrfOf(here), current: OLD, password, password2 });
      assert.equal(res.status, 400, password);
      assert.match(res.body, message);
    }
    assert.equal(await state(there), 'signed in');
    assert.ok(await signIn(gw.url, user.username, OLD));
  });

  it('a password change ends the other sessions and keeps this one', async () => {
    const user = await newUser();
    const here = await signInAs(user.username, FIREFOX_LINUX);
    const there = await signInAs(user.username, CHROME_MAC);
    const third = await signInAs(user.username, EDGE_WINDOWS);
    const done = await submit(here, 'password', { csrf: await csrfOf(here), current: OLD, password: NEW, password2: NEW });
    assert.equal(done.status, 303);
    assert.equal(done.location, '/_dashgate/account?done=password');
    assert.equal(await state(here), 'signed in', 'the browser that changed it stays signed in');
    assert.equal(await state(there), 'signed out');
    assert.equal(await state(third), 'signed out');
    assert.deepEqual((await gw.store.sessions.listForUser(user.id)).map((s) => s.id), [here.id]);
    await assert.rejects(signIn(gw.url, user.username, OLD));
    assert.ok(await signIn(gw.url, user.username, NEW));
    const [audit] = (await gw.store.audit.list({ action: 'password.changed' })).filter((e) => e.actor === user.username);
    assert.deepEqual(audit?.detail, { sessions_ended: 2 });
    const page = await (await fetch(`${gw.url}/_dashgate/account?done=password`, { headers: { cookie: here.cookie } })).text();
    assert.match(page, /Your password was changed\. Your other sign-ins have ended\./);
  });

  it('ends one other browser from its form in the list', async () => {
    const user = await newUser();
    const here = await signInAs(user.username, FIREFOX_LINUX);
    const there = await signInAs(user.username, CHROME_MAC);
    const kept = await signInAs(user.username, EDGE_WINDOWS);
    const page = await accountPage(here);
    const row = sessionRows(page).find((r) => r.text.includes('Chrome on macOS'))!;
    const done = await submit(here, 'sessions/end', { ...hiddenFields(/<form[^>]*sessions\/end"[\s\S]*?<\/form>/.exec(row.text)![0]), csrf: hiddenFields(page).csrf! });
    assert.equal(done.status, 303);
    assert.equal(done.location, '/_dashgate/account?done=session');
    assert.equal(await state(there), 'signed out');
    assert.equal(await state(here), 'signed in');
    assert.equal(await state(kept), 'signed in', 'only the one chosen');
    assert.ok((await gw.store.audit.list({ action: 'session.revoked' })).some((e) => e.actor === user.username && (e.detail as { by?: string }).by === 'self'));

    const again = await submit(here, 'sessions/end', { csrf: await csrfOf(here), id: there.id });
    assert.equal(again.status, 404, 'already ended');
    const itself = await submit(here, 'sessions/end', { csrf: await csrfOf(here), id: here.id });
    assert.equal(itself.status, 404, 'the current session is ended by signing out, not from the list');
    assert.equal(await state(here), 'signed in');
  });

  it('"Sign out everywhere else" ends every other session and keeps this one', async () => {
    const user = await newUser();
    const here = await signInAs(user.username, FIREFOX_LINUX);
    const others = [await signInAs(user.username, CHROME_MAC), await signInAs(user.username, EDGE_WINDOWS), await signInAs(user.username, FIREFOX_LINUX)];
    const done = await submit(here, 'sessions/end-others', { csrf: await csrfOf(here) });
    assert.equal(done.status, 303);
    assert.equal(done.location, '/_dashgate/account?done=sessions');
    for (const other of others) assert.equal(await state(other), 'signed out');
    assert.equal(await state(here), 'signed in');
    assert.deepEqual((await gw.store.sessions.listForUser(user.id)).map((s) => s.id), [here.id]);
    assert.ok(await signIn(gw.url, user.username, OLD), 'the password is unchanged');
  });

  it("refuses to end another user's session (404) and that session survives", async () => {
    const user = await newUser();
    const victim = await newUser();
    const here = await signInAs(user.username, FIREFOX_LINUX);
    const theirs = await signInAs(victim.username, CHROME_MAC);
    for (const id of [theirs.id, 'no-such-session', '']) {
      const res = await submit(here, 'sessions/end', { csrf: await csrfOf(here), id });
      assert.equal(res.status, 404, JSON.stringify(id));
      assert.match(res.body, /That sign-in has already ended/);
    }
    assert.equal(await state(theirs), 'signed in');
    assert.equal(await state(here), 'signed in');
  });

  it('refuses every account form without the session’s CSRF token, with another session’s, or from another site (403)', async () => {
    const user = await newUser();
    const stranger = await newUser();
    const here = await signInAs(user.username, FIREFOX_LINUX);
    const there = await signInAs(user.username, CHROME_MAC);
    const strangers = await signInAs(stranger.username, EDGE_WINDOWS);
    const valid = await csrfOf(here);
    const forms: Record<string, Record<string, string>> = {
      password: { current: OLD, password: NEW, password2: NEW },
      'sessions/end': { id: there.id },
      'sessions/end-others': {},
      tokens: { name: 'sneaky', expires: '30d' },
      'tokens/revoke': { id: 'x' },
      'totp/setup': {},
      'totp/confirm': { code: '123456' },
      'totp/manage': { current: OLD, action: 'disable' },
    };
    for (const [path, fields] of Object.entries(forms)) {
      for (const [how, extra, headers] of [
        ['no token', {}, { origin: gw.url }],
        ['a forged token', { csrf: 'x'.repeat(43) }, { origin: gw.url }],
        ['another user’s token', { csrf: await csrfOf(strangers) }, { origin: gw.url }],
        ['another browser’s token', { csrf: await csrfOf(there) }, { origin: gw.url }],
        ['another origin', { csrf: valid }, { origin: 'https://evil.example' }],
        ['a cross-site fetch', { csrf: valid }, { 'sec-fetch-site': 'cross-site' }],
      ] as const) {
        const res = await submit(here, path, { ...fields, ...extra }, headers);
        assert.equal(res.status, 403, `${path} with ${how}`);
        assert.match(res.body, /The form expired or came from another site/);
      }
    }
    assert.equal(await state(there), 'signed in');
    assert.equal(await state(here), 'signed in');
    assert.ok(await signIn(gw.url, user.username, OLD), 'the password is unchanged');
    assert.deepEqual(await gw.store.apiTokens.listForUser(user.id), []);
    assert.equal(await gw.store.factors.totp(user.id), null);
  });
});
