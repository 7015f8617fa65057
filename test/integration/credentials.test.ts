import assert from 'node:assert/strict';
import { hashPassword } from '../../src/auth/passwords.js';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { ApiTokenManager } from '../../src/auth/api-tokens.js';
import type { Store } from '../../src/store/store.js';
import type { User } from '../../src/store/types.js';
import { testClock } from '../helpers/clock.js';
import { createUser, signIn, startGateway, startRecordingUpstream, type RecordedRequest, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'a script passphrase';

/**
 * Scripts through the gateway, over real HTTP to a recording upstream: API tokens
 * (`Authorization: Bearer dgt_…`) on every rule, HTTP Basic only where the deciding rule says
 * `allow_basic`. What is checked here is what a caller and the app can observe: the status, the
 * challenge, the identity headers and the JWT the app receives, and that no credential the
 * gateway owns ever reaches the app.
 *
 * Time comes from the injected test clock; every test sends from its own client address
 * (X-Forwarded-For from a trusted 127.0.0.1) so one test's failures never throttle another.
 */
describe('API tokens and HTTP Basic through the gateway', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  const clock = testClock(Date.UTC(2030, 0, 1, 9));
  let tokens: ApiTokenManager;
  let fin: User;
  let ana: User;
  let finToken: string;
  let anaToken: string;
  let nextAddress = 1;
  /** A client address no other test has used. */
  const freshIp = () => `203.0.113.${nextAddress++}`;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(
      upstream.url,
      {
        server: { trusted_proxies: ['127.0.0.1'] },
        branding: { app_name: 'Sales "Q3" app' },
        access: {
          default: 'authenticated',
          rules: [
            { path: '/api/**', policy: 'authenticated', allow_basic: true },
            { path: '/reports/**', groups: ['finance'] },
            { path: '/open/**', policy: 'public' },
          ],
        },
        throttle: { ip_free_failures: 3 },
        // No memory caches: every request asks the store, so status and group changes apply at once.
        session: { cache_ttl: '0s' },
      },
      { now: clock.now },
    );
    fin = await createUser(gw.store, 'fin', PASSWORD, { groups: ['finance'] });
    ana = await createUser(gw.store, 'ana', PASSWORD, { groups: ['analysts'] });
    tokens = new ApiTokenManager(gw.store, { cacheTtlMs: 0, touchIntervalMs: 0 }, clock.now);
    finToken = (await tokens.create(fin, { name: 'fin script', expiresAt: null, createdBy: 'test' })).token;
    anaToken = (await tokens.create(ana, { name: 'ana script', expiresAt: null, createdBy: 'test' })).token;
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  interface Answer {
    status: number;
    headers: Headers;
    body: string;
    /** What reached the app because of this request. */
    reached: RecordedRequest[];
  }

  async function call(path: string, headers: Record<string, string>, ip: string, accept = 'application/json'): Promise<Answer> {
    const before = upstream.requests.length;
    const res = await fetch(`${gw.url}${path}`, { redirect: 'manual', headers: { accept, 'x-forwarded-for': ip, ...headers } });
    const body = await res.text();
    return { status: res.status, headers: res.headers, body, reached: upstream.requests.slice(before) };
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const basic = (username: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` });
  /** No header of any spelling named Authorization arrived at the app. */
  const noAuthorization = (seen: RecordedRequest) => {
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.rawHeaders.filter((_, i) => i % 2 === 0).some((name) => name.toLowerCase() === 'authorization'), false);
  };
  const assertRefusedCredentials = (answer: Answer, challenge: string | RegExp, what: string) => {
    assert.equal(answer.status, 401, `${what}: ${answer.body}`);
    assert.deepEqual(JSON.parse(answer.body), { error: 'invalid_credentials' }, what);
    if (typeof challenge === 'string') assert.equal(answer.headers.get('www-authenticate'), challenge, what);
    else assert.match(answer.headers.get('www-authenticate') ?? '', challenge, what);
    assert.equal(answer.headers.get('cache-control'), 'no-store', what);
    assert.equal(answer.reached.length, 0, `${what}: nothing reaches the app`);
  };
  const expectNotThrottled = async (ip: string) => {
    const ok = await call('/x', bearer(finToken), ip);
    assert.equal(ok.status, 200, `a good token from ${ip} is not throttled: ${ok.body}`);
  };

  describe('API tokens', () => {
    it('a valid token reaches the app as its user, with a JWT saying amr ["token"]; the token itself is not forwarded', async () => {
      const answer = await call('/api/items?page=2', bearer(finToken), freshIp());
      assert.equal(answer.status, 200, answer.body);
      assert.equal(answer.reached.length, 1);
      const seen = answer.reached[0]!;
      assert.equal(seen.url, '/api/items?page=2');
      assert.equal(seen.headers['x-forwarded-user'], 'fin');
      assert.equal(seen.headers['x-forwarded-groups'], 'finance');
      noAuthorization(seen);

      const jwt = seen.headers['x-dashgate-jwt'];
      assert.equal(typeof jwt, 'string');
      const jwks = (await (await fetch(`${gw.url}/_dashgate/.well-known/jwks.json`)).json()) as JSONWebKeySet;
      const { payload } = await jwtVerify(jwt as string, createLocalJWKSet(jwks), { audience: 'dash-app', currentDate: new Date(clock.now()) });
      assert.deepEqual(payload.amr, ['token']);
      assert.equal(payload.sub, fin.id);
      assert.equal(payload.username, 'fin');
      assert.deepEqual(payload.groups, ['finance']);
    });

    it('a tab between the scheme and the token is accepted (RFC 9110 allows spaces or tabs), and the token is still stripped', async () => {
      const answer = await call('/api/items', { authorization: `Bearer\t${finToken}` }, freshIp());
      assert.equal(answer.status, 200, answer.body);
      assert.equal(answer.reached[0]!.headers['x-forwarded-user'], 'fin');
      noAuthorization(answer.reached[0]!);
    });

    it("the token's user's groups decide: finance passes /reports/**, an analyst's token gets 403 JSON", async () => {
      const ip = freshIp();
      const allowed = await call('/reports/q3', bearer(finToken), ip);
      assert.equal(allowed.status, 200);
      assert.equal(allowed.reached[0]!.headers['x-forwarded-user'], 'fin');

      const refused = await call('/reports/q3', bearer(anaToken), ip);
      assert.equal(refused.status, 403);
      assert.deepEqual(JSON.parse(refused.body), { error: 'forbidden' });
      assert.equal(refused.headers.get('x-dashgate'), 'forbidden');
      assert.equal(refused.reached.length, 0);

      // Groups are read with the token (cache_ttl 0s): a new group applies to the next request.
      await gw.store.users.setGroups(ana.id, ['analysts', 'finance']);
      try {
        const now = await call('/reports/q3', bearer(anaToken), ip);
        assert.equal(now.status, 200);
        assert.equal(now.reached[0]!.headers['x-forwarded-groups'], 'analysts,finance');
      } finally {
        await gw.store.users.setGroups(ana.id, ['analysts']);
      }
      assert.equal((await call('/reports/q3', bearer(anaToken), ip)).status, 403, 'and taking it away applies as fast');
    });

    it('tampered, unknown, malformed, expired and revoked tokens get 401 invalid_credentials with a Bearer challenge; nothing reaches the app', async () => {
      const [id, secret] = finToken.slice('dgt_'.length).split('.') as [string, string];
      const flipped = (c: string) => (c === 'A' ? 'B' : 'A');
      const tampered = `dgt_${id}.${secret.slice(0, 20)}${flipped(secret[20]!)}${secret.slice(21)}`;
      const otherId = `dgt_${id.slice(0, 10)}${flipped(id[10]!)}${id.slice(11)}.${secret}`;
      const unknown = `dgt_${'A'.repeat(22)}.${'B'.repeat(43)}`;
      for (const [what, value] of [
        ['tampered secret', tampered],
        ['right secret, other id', otherId],
        ['unknown', unknown],
        ['malformed', 'dgt_not-a-token'],
        ['prefix only', 'dgt_'],
      ] as const) {
        assertRefusedCredentials(await call('/api/items', bearer(value), freshIp()), 'Bearer error="invalid_token"', what);
      }

      // Expired: works until its time, then not (the gateway's clock, no sleeping).
      const expiring = await tokens.create(fin, { name: 'expiring', expiresAt: clock.now() + 60_000, createdBy: 'test' });
      assert.equal((await call('/api/items', bearer(expiring.token), freshIp())).status, 200);
      clock.advance(60_000);
      assertRefusedCredentials(await call('/api/items', bearer(expiring.token), freshIp()), 'Bearer error="invalid_token"', 'expired');

      // Revoked: the row is gone; the gateway (cache_ttl 0s) notices on the next request.
      const revoking = await tokens.create(fin, { name: 'revoking', expiresAt: null, createdBy: 'test' });
      assert.equal((await call('/api/items', bearer(revoking.token), freshIp())).status, 200);
      assert.notEqual(await tokens.revoke(revoking.record.id), null);
      assertRefusedCredentials(await call('/api/items', bearer(revoking.token), freshIp()), 'Bearer error="invalid_token"', 'revoked');

      const audit = await gw.store.audit.list({ action: 'token.failure' });
      assert.ok(audit.length >= 7, `${audit.length} failures audited`);
      for (const value of [tampered, otherId, expiring.token, revoking.token]) {
        assert.equal(JSON.stringify(audit).includes(value.split('.')[1]!), false, 'no presented secret in the audit log');
      }
    });

    it('a bad token is refused even where the path is public, and a browser gets the 401 too, not a sign-in redirect', async () => {
      assertRefusedCredentials(await call('/open/page', bearer('dgt_not-a-token'), freshIp()), 'Bearer error="invalid_token"', 'public path');
      const browser = await call('/reports/q3', bearer('dgt_not-a-token'), freshIp(), 'text/html,application/xhtml+xml');
      assertRefusedCredentials(browser, 'Bearer error="invalid_token"', 'browser Accept');
      assert.equal(browser.headers.get('location'), null);
    });

    it('repeated failures from one address get 429 with Retry-After once past throttle.ip_free_failures; the wait is honoured and then doubles', async () => {
      const ip = freshIp();
      for (let i = 1; i <= 3; i++) assert.equal((await call('/x', bearer(`dgt_guess-${i}`), ip)).status, 401, `failure ${i} of 3 free`);

      const throttled = await call('/x', bearer('dgt_guess-4'), ip);
      assert.equal(throttled.status, 429);
      assert.equal(throttled.headers.get('retry-after'), '1');
      assert.deepEqual(JSON.parse(throttled.body), { error: 'too_many_attempts', retry_after: 1 });
      assert.equal(throttled.headers.get('cache-control'), 'no-store');
      assert.equal(throttled.reached.length, 0);

      const good = await call('/x', bearer(finToken), ip);
      assert.equal(good.status, 429, 'while throttled, even a good token waits (no oracle for guesses)');
      assert.equal(good.reached.length, 0);
      await expectNotThrottled(freshIp());

      clock.advance(1_000);
      assert.equal((await call('/x', bearer(finToken), ip)).status, 200, 'after Retry-After has passed');
      assert.equal((await call('/x', bearer('dgt_guess-5'), ip)).status, 401);
      const again = await call('/x', bearer('dgt_guess-6'), ip);
      assert.equal(again.status, 429);
      assert.equal(again.headers.get('retry-after'), '2', 'each further failure doubles the wait');
      clock.advance(2_000);
    });

    it('a Bearer value not starting with dgt_ is the app\'s: forwarded untouched, the caller anonymous, no failure counted', async () => {
      const ip = freshIp();
      const appToken = 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.';
      const open = await call('/open/data', { authorization: appToken }, ip);
      assert.equal(open.status, 200);
      assert.equal(open.reached[0]!.headers.authorization, appToken, 'the app gets its own token');
      assert.equal(open.reached[0]!.headers['x-forwarded-user'], undefined, 'and no identity');
      assert.equal(open.reached[0]!.headers['x-dashgate-jwt'], undefined);

      const before = (await gw.store.audit.list({ action: 'token.failure' })).length;
      for (let i = 0; i < 5; i++) {
        const refused = await call('/x', { authorization: appToken }, ip);
        assert.equal(refused.status, 401);
        const body = JSON.parse(refused.body) as { error: string; login_url: string };
        assert.equal(body.error, 'login_required');
        assert.equal(body.login_url, '/_dashgate/login?next=%2Fx');
        assert.equal(refused.headers.get('www-authenticate'), null, 'no Bearer challenge for a token that is not ours');
        assert.equal(refused.reached.length, 0);
      }
      assert.equal((await gw.store.audit.list({ action: 'token.failure' })).length, before);
      await expectNotThrottled(ip);
    });

    it('a session cookie decides over a token beside it, and the token header is stripped before the app', async () => {
      const cookie = await signIn(gw.url, 'ana', PASSWORD);
      const ip = freshIp();
      const asAna = await call('/x', { cookie, ...bearer(finToken) }, ip);
      assert.equal(asAna.status, 200);
      assert.equal(asAna.reached[0]!.headers['x-forwarded-user'], 'ana');
      assert.deepEqual(decodeJwt(asAna.reached[0]!.headers['x-dashgate-jwt'] as string).amr, ['password']);
      noAuthorization(asAna.reached[0]!);

      const refused = await call('/reports/q3', { cookie, ...bearer(finToken) }, ip);
      assert.equal(refused.status, 403, "fin's token does not lend ana its groups");
      assert.equal(refused.reached.length, 0);

      const before = (await gw.store.audit.list({ action: 'token.failure' })).length;
      const withBadToken = await call('/x', { cookie, ...bearer('dgt_not-a-token') }, ip);
      assert.equal(withBadToken.status, 200, 'the token is not checked once the cookie decided');
      noAuthorization(withBadToken.reached[0]!);
      assert.equal((await gw.store.audit.list({ action: 'token.failure' })).length, before);
    });
  });

  describe('HTTP Basic', () => {
    it('works where the rule allows it: 200 at the app as the user, amr ["basic"], the password not forwarded', async () => {
      const answer = await call('/api/items', basic('fin', PASSWORD), freshIp());
      assert.equal(answer.status, 200, answer.body);
      const seen = answer.reached[0]!;
      assert.equal(seen.headers['x-forwarded-user'], 'fin');
      assert.equal(seen.headers['x-forwarded-groups'], 'finance');
      noAuthorization(seen);
      assert.deepEqual(decodeJwt(seen.headers['x-dashgate-jwt'] as string).amr, ['basic']);
      assert.equal(JSON.stringify(seen).includes(PASSWORD), false, 'the password appears nowhere in what the app received');
    });

    it('is not checked on paths without allow_basic: the caller is anonymous (401 login_required), nothing is counted', async () => {
      const ip = freshIp();
      const before = (await gw.store.audit.list({ action: 'login.failure' })).length;
      for (const [username, password] of [['fin', PASSWORD], ['fin', 'not the password']] as const) {
        const answer = await call('/x', basic(username, password), ip);
        assert.equal(answer.status, 401);
        assert.equal((JSON.parse(answer.body) as { error: string }).error, 'login_required');
        assert.equal(answer.headers.get('www-authenticate'), null, 'no Basic challenge where Basic is not accepted');
        assert.equal(answer.reached.length, 0, 'a request with a Dashgate password is not let through');
        const reports = await call('/reports/q3', basic(username, password), ip);
        assert.equal(reports.status, 401, 'nor does it open a groups rule');
        assert.equal(reports.reached.length, 0);
      }
      assert.equal((await gw.store.audit.list({ action: 'login.failure' })).length, before, 'the gateway did not check the password');
      // On a public path the gateway checked nothing, so the header is the app's, passed on untouched.
      const open = await call('/open/data', basic('someone', 'app password'), ip);
      assert.equal(open.status, 200);
      assert.equal(open.reached[0]!.headers.authorization, basic('someone', 'app password').authorization);
      assert.equal(open.reached[0]!.headers['x-forwarded-user'], undefined);
    });

    // Regression: on an allow_basic path Basic is the gateway's scheme, but when a session cookie
    // decided, only a Bearer dgt_… header was stripped, so a Dashgate username and password reached
    // the app. Browsers cause exactly this: after answering one Basic challenge under /api/ they
    // resend the credentials to that protection space (RFC 7617 §2.2), also once the user has
    // signed in with the form.
    it('regression: with a session cookie on an allow_basic path, the Dashgate password in a Basic header does not reach the app', async () => {
      const cookie = await signIn(gw.url, 'ana', PASSWORD);
      const answer = await call('/api/items', { cookie, ...basic('fin', PASSWORD) }, freshIp());
      assert.equal(answer.status, 200);
      assert.equal(answer.reached[0]!.headers['x-forwarded-user'], 'ana', 'the cookie decides');
      assert.equal(answer.reached[0]!.headers.authorization, undefined, "fin's Dashgate password reached the app");
    });

    it('a wrong password, an unknown user, a password-less account or a malformed value → 401 with a Basic challenge', async () => {
      const nightly = await gw.store.users.create({ username: 'nightly', groups: ['finance'] });
      await tokens.create(nightly, { name: 'nightly', expiresAt: null, createdBy: 'test' });
      const challenge = 'Basic realm="Sales Q3 app", charset="UTF-8"';
      for (const [what, header] of [
        ['wrong password', basic('fin', 'not the password')],
        ['unknown user', basic('nobody', PASSWORD)],
        ['service account without a password', basic('nightly', '')],
        ['no colon', { authorization: `Basic ${Buffer.from('fin').toString('base64')}` }],
        ['not base64', { authorization: 'Basic !!!!' }],
      ] as const) {
        assertRefusedCredentials(await call('/api/items', header, freshIp()), challenge, what);
      }
    });

    it('is throttled after repeated failures from one address: 429 with Retry-After, even for the right password, until the wait has passed', async () => {
      const walt = await createUser(gw.store, 'walt', PASSWORD);
      const ip = freshIp();
      for (let i = 1; i <= 3; i++) assert.equal((await call('/api/items', basic('walt', `wrong ${i} passphrase`), ip)).status, 401, `failure ${i}`);
      const throttled = await call('/api/items', basic('walt', 'wrong 4 passphrase'), ip);
      assert.equal(throttled.status, 429);
      assert.equal(throttled.headers.get('retry-after'), '1');
      assert.equal(throttled.reached.length, 0);
      const right = await call('/api/items', basic('walt', PASSWORD), ip);
      assert.equal(right.status, 429, 'the right password waits too');
      assert.equal(right.reached.length, 0);
      assert.equal((await call('/api/items', basic('walt', PASSWORD), freshIp())).status, 200, 'another address is not throttled');
      clock.advance(1_000);
      const later = await call('/api/items', basic('walt', PASSWORD), ip);
      assert.equal(later.status, 200);
      assert.equal(later.reached[0]!.headers['x-forwarded-user'], walt.username);
    });
  });

  it("a disabled user's token and Basic password stop working at once, and work again when enabled", async () => {
    const ops = await createUser(gw.store, 'ops', PASSWORD);
    const { token } = await tokens.create(ops, { name: 'ops', expiresAt: null, createdBy: 'test' });
    assert.equal((await call('/api/items', bearer(token), freshIp())).status, 200);
    assert.equal((await call('/api/items', basic('ops', PASSWORD), freshIp())).status, 200);

    await gw.store.users.setStatus(ops.id, 'disabled');
    assertRefusedCredentials(await call('/api/items', bearer(token), freshIp()), 'Bearer error="invalid_token"', 'token of a disabled user');
    assertRefusedCredentials(await call('/api/items', basic('ops', PASSWORD), freshIp()), /^Basic realm=/, 'Basic of a disabled user');

    await gw.store.users.setStatus(ops.id, 'active');
    assert.equal((await call('/api/items', bearer(token), freshIp())).status, 200);
    assert.equal((await call('/api/items', basic('ops', PASSWORD), freshIp())).status, 200);
  });
});

/** With memory caches on (session.cache_ttl), a checked Basic password is remembered; the user's status and password are not. */
describe('HTTP Basic with the credential cache on', () => {
  it('regression: a changed password ends the old one at once, although the old one was remembered', async () => {
    const upstream = await startRecordingUpstream();
    const gw: TestGateway = await startGateway(upstream.url, {
      access: { rules: [{ path: '/api/**', policy: 'authenticated', allow_basic: true }] },
      session: { cache_ttl: '1h' },
    });
    try {
      const user = await createUser(gw.store, 'rotated', PASSWORD);
      const auth = (password: string) => ({ authorization: `Basic ${Buffer.from(`rotated:${password}`).toString('base64')}`, accept: 'application/json' });
      assert.equal((await fetch(`${gw.url}/api/a`, { headers: auth(PASSWORD) })).status, 200);
      assert.equal((await fetch(`${gw.url}/api/b`, { headers: auth(PASSWORD) })).status, 200, 'answered from the cache');
      await gw.store.users.setPasswordHash(user.id, await hashPassword('the rotated passphrase'));
      assert.equal((await fetch(`${gw.url}/api/c`, { headers: auth(PASSWORD) })).status, 401, 'the old password was still believed from memory');
      assert.equal((await fetch(`${gw.url}/api/d`, { headers: auth('the rotated passphrase') })).status, 200);
      assert.deepEqual(upstream.requests.map((r) => r.url), ['/api/a', '/api/b', '/api/d']);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  it("disabling a user ends their Basic access at once, cache or not", async () => {
    const upstream = await startRecordingUpstream();
    const gw: TestGateway = await startGateway(upstream.url, {
      access: { rules: [{ path: '/api/**', policy: 'authenticated', allow_basic: true }] },
      session: { cache_ttl: '1h' },
    });
    try {
      const user = await createUser(gw.store, 'cached', PASSWORD);
      const auth = { authorization: `Basic ${Buffer.from(`cached:${PASSWORD}`).toString('base64')}`, accept: 'application/json' };
      assert.equal((await fetch(`${gw.url}/api/a`, { headers: auth })).status, 200);
      assert.equal((await fetch(`${gw.url}/api/b`, { headers: auth })).status, 200, 'answered from the cache');
      await gw.store.users.setStatus(user.id, 'disabled');
      const refused = await fetch(`${gw.url}/api/c`, { headers: auth });
      assert.equal(refused.status, 401);
      assert.match(refused.headers.get('www-authenticate') ?? '', /^Basic realm="Dash app"/);
      assert.deepEqual(upstream.requests.map((r) => r.url), ['/api/a', '/api/b']);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

// The throttle's promise under real concurrency. On SQLite (better-sqlite3 answers synchronously)
// one request's check and count finish before the next request is read, so races never show; on
// PostgreSQL the queries of simultaneous requests really interleave.
describe('credential throttling under simultaneous requests (PostgreSQL store)', () => {
  const clock = testClock(Date.UTC(2030, 0, 1, 9));
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let store: Store;
  let url: string;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(
      upstream.url,
      { server: { trusted_proxies: ['127.0.0.1'] }, access: { rules: [{ path: '/api/**', policy: 'authenticated', allow_basic: true }] }, throttle: { ip_free_failures: 3 } },
      { now: clock.now, postgres: true },
    );
    ({ store, url } = gw);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  const statusesOf = (ip: string, authorizations: string[]) =>
    Promise.all(authorizations.map((authorization) => fetch(`${url}/api/items`, { headers: { authorization, accept: 'application/json', 'x-forwarded-for': ip } }).then((r) => r.status)));

  it('twelve simultaneous wrong passwords from one address: only ip_free_failures of them are checked', async () => {
    await createUser(store, 'pat', PASSWORD);
    const statuses = await statusesOf('198.51.100.1', Array.from({ length: 12 }, (_, i) => `Basic ${Buffer.from(`pat:guess number ${i}`).toString('base64')}`));
    assert.equal(statuses.filter((s) => s === 401).length, 3, statuses.join(','));
    assert.equal(upstream.requests.length, 0);
  });

  // Regression: a token was checked against the throttle only when its address was already a
  // suspect, and the failure was recorded outside SignInThrottle.exclusive(), so simultaneous
  // guesses from a fresh address were all answered 401 however low ip_free_failures was.
  it('regression: twelve simultaneous unknown tokens from one address: only ip_free_failures of them are answered 401, the rest wait (429)', async () => {
    // Well-formed, never issued: each one costs the gateway a store lookup.
    const guesses = Array.from({ length: 12 }, (_, i) => `Bearer dgt_${String(i).padStart(22, 'G')}.${'s'.repeat(43)}`);
    const statuses = await statusesOf('198.51.100.2', guesses);
    const checked = statuses.filter((s) => s === 401).length;
    assert.ok(checked <= 3, `${checked} of 12 simultaneous guesses were checked (401) where throttle.ip_free_failures is 3: ${statuses.join(',')}`);
    assert.equal(upstream.requests.length, 0);
  });
});
