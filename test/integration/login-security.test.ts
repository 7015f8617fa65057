import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, hiddenFields, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

describe('sign-in security', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let t = Date.UTC(2026, 0, 1);
  const now = () => t;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, {}, { now });
    await createUser(gw.store, 'alice', 'correct horse battery');
    await createUser(gw.store, 'bob', 'another good passphrase');
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function post(fields: Record<string, string>, headers: Record<string, string> = {}) {
    const page = await fetch(`${gw.url}/_dashgate/login`);
    const hidden = hiddenFields(await page.text());
    return fetch(`${gw.url}/_dashgate/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ ...hidden, ...fields }),
    });
  }

  it('gives the same status and body for an unknown user and a wrong password', async () => {
    const unknown = await post({ username: 'nobody', password: 'whatever password' });
    const wrong = await post({ username: 'bob', password: 'whatever password' });
    assert.equal(unknown.status, 401);
    assert.equal(wrong.status, 401);
    const strip = (html: string) => html.replace(/(name="csrf" value|data-csrf)="[^"]*"/g, '').replace(/value="(nobody|bob)"/, '');
    assert.equal(strip(await unknown.text()), strip(await wrong.text()));
  });

  it('refuses a sign-in without the form token, with a forged token, or from another origin', async () => {
    const noToken = await fetch(`${gw.url}/_dashgate/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: 'alice', password: 'correct horse battery' }) });
    assert.equal(noToken.status, 403);
    assert.equal(noToken.headers.get('set-cookie'), null);
    const forged = await post({ username: 'alice', password: 'correct horse battery', csrf: `${t}.AAAA.forged` });
    assert.equal(forged.status, 403);
    const crossSite = await post({ username: 'alice', password: 'correct horse battery' }, { origin: 'https://evil.example' });
    assert.equal(crossSite.status, 403);
    const fetchMetadata = await post({ username: 'alice', password: 'correct horse battery' }, { 'sec-fetch-site': 'cross-site' });
    assert.equal(fetchMetadata.status, 403);
  });

  it('refuses an expired sign-in form', async () => {
    const page = await fetch(`${gw.url}/_dashgate/login`);
    const hidden = hiddenFields(await page.text());
    t += 3 * 3_600_000;
    const res = await fetch(`${gw.url}/_dashgate/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...hidden, username: 'alice', password: 'correct horse battery' }) });
    assert.equal(res.status, 403);
  });

  it('never redirects off-site after sign-in', async () => {
    for (const next of ['//evil.example', 'https://evil.example', '/\\evil.example', '/%09/evil.example']) {
      const res = await post({ username: 'alice', password: 'correct horse battery', next });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/', next);
    }
  });

  it('issues a new session at every sign-in and ends the one the browser had (no fixation)', async () => {
    const first = await post({ username: 'alice', password: 'correct horse battery' });
    const firstCookie = first.headers.get('set-cookie')!.split(';')[0]!;
    const second = await post({ username: 'alice', password: 'correct horse battery' }, { cookie: firstCookie });
    const secondCookie = second.headers.get('set-cookie')!.split(';')[0]!;
    assert.notEqual(firstCookie, secondCookie);
    assert.equal((await fetch(`${gw.url}/`, { redirect: 'manual', headers: { cookie: firstCookie } })).status, 303, 'old session ended');
    assert.equal((await fetch(`${gw.url}/`, { headers: { cookie: secondCookie } })).status, 200);
  });

  it('throttles an account with an increasing delay, counts unknown users alike, and lets the user in after the wait', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await post({ username: 'bob', password: `wrong ${i} password` })).status, 401);
    const throttled = await post({ username: 'bob', password: 'another good passphrase' });
    assert.equal(throttled.status, 429, 'even the right password waits');
    assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
    assert.match(await throttled.text(), /Too many attempts/);

    for (let i = 0; i < 5; i++) await post({ username: 'ghost', password: `wrong ${i} password` });
    assert.equal((await post({ username: 'ghost', password: 'x y z w v u' })).status, 429, 'unknown names are throttled the same way');

    t += 2000;
    const after = await post({ username: 'bob', password: 'another good passphrase' });
    assert.equal(after.status, 303, 'no hard lockout: the delay passes');
    const audit = await gw.store.audit.list({ actor: 'bob' });
    assert.ok(audit.some((e) => e.action === 'login.throttled'));
    assert.ok(audit.some((e) => e.action === 'login.failure' && (e.detail as { reason: string }).reason === 'wrong_password'));
  });

  it('refuses a disabled user with the same generic answer', async () => {
    const carol = await createUser(gw.store, 'carol', 'carol has a passphrase');
    await gw.store.users.setStatus(carol.id, 'disabled');
    const res = await post({ username: 'carol', password: 'carol has a passphrase' });
    assert.equal(res.status, 401);
    assert.match(await res.text(), /The username or password is not correct\./);
  });

  it('answers the in-page dialog with JSON', async () => {
    const session = (await (await fetch(`${gw.url}/_dashgate/api/session`)).json()) as { authenticated: boolean; csrf: string };
    assert.equal(session.authenticated, false);
    const res = await fetch(`${gw.url}/_dashgate/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ username: 'alice', password: 'correct horse battery', csrf: session.csrf }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true, next: '/' });
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    const me = (await (await fetch(`${gw.url}/_dashgate/api/session`, { headers: { cookie } })).json()) as { authenticated: boolean; username: string };
    assert.equal(me.authenticated, true);
    assert.equal(me.username, 'alice');
  });

  it('serves its pages with a strict CSP, no framing and no caching', async () => {
    const res = await fetch(`${gw.url}/_dashgate/login`);
    assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
  });
});

describe('cookies behind HTTPS', () => {
  it('uses __Host- and Secure when public_url is https', async () => {
    const upstream = await startRecordingUpstream();
    const gw = await startGateway(upstream.url, { server: { public_url: 'https://dash.example.com' } });
    try {
      await createUser(gw.store, 'alice', 'correct horse battery');
      const page = await fetch(`${gw.url}/_dashgate/login`);
      const hidden = hiddenFields(await page.text());
      const res = await fetch(`${gw.url}/_dashgate/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://dash.example.com' },
        body: new URLSearchParams({ ...hidden, username: 'alice', password: 'correct horse battery' }),
      });
      assert.equal(res.status, 303);
      const cookie = res.headers.get('set-cookie')!;
      assert.match(cookie, /^__Host-dashgate_session=/);
      for (const attr of ['Secure', 'HttpOnly', 'SameSite=Lax', 'Path=/']) assert.ok(cookie.split('; ').includes(attr), attr);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('already signed in', () => {
  it('never redirects off-site from GET /login?next=… (regression: /.//evil resolved to //evil)', async () => {
    const upstream = await startRecordingUpstream();
    const gw = await startGateway(upstream.url);
    try {
      await createUser(gw.store, 'alice', 'correct horse battery');
      const page = await fetch(`${gw.url}/_dashgate/login`);
      const res = await fetch(`${gw.url}/_dashgate/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...hiddenFields(await page.text()), username: 'alice', password: 'correct horse battery' }),
      });
      const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
      for (const next of ['/.//evil.example', '/..//evil.example', '/%2e//evil.example', '/a/..//evil.example']) {
        const again = await fetch(`${gw.url}/_dashgate/login?next=${encodeURIComponent(next)}`, { redirect: 'manual', headers: { cookie } });
        assert.equal(again.status, 303);
        assert.equal(again.headers.get('location'), '/', next);
      }
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('throttling under concurrency', () => {
  it('checks no more passwords than allowed when guesses arrive all at once (regression: 11 of 40 got through with 3 allowed)', { timeout: 60_000 }, async () => {
    const upstream = await startRecordingUpstream();
    const fixed = Date.UTC(2026, 0, 1);
    const gw = await startGateway(upstream.url, { throttle: { account_free_failures: 3 } }, { now: () => fixed });
    try {
      await createUser(gw.store, 'alice', 'correct horse battery');
      const page = await fetch(`${gw.url}/_dashgate/login`);
      const fields = hiddenFields(await page.text());
      const statuses = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          fetch(`${gw.url}/_dashgate/login`, {
            method: 'POST',
            redirect: 'manual',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ ...fields, username: 'alice', password: `wrong guess ${i}` }),
          }).then((r) => r.status),
        ),
      );
      assert.equal(statuses.filter((s) => s === 401).length, 3, 'exactly the free failures were checked');
      assert.equal(statuses.filter((s) => s === 429).length, 37);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
