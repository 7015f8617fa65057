import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { ApiTokenManager } from '../../src/auth/api-tokens.js';
import type { User } from '../../src/store/types.js';
import { createUser, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'script passphrase one';

/**
 * Scripts through the gateway: API tokens (Bearer) on every rule, HTTP Basic only where a rule
 * says allow_basic; bad credentials are refused with 401 (429 once throttled); the app never
 * sees a credential the gateway checked.
 */
describe('API tokens and HTTP Basic through the gateway', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let tokens: ApiTokenManager;
  let nightly: User;
  let analyst: User;
  let nightlyToken: string;
  let analystToken: string;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, {
      access: {
        rules: [
          { path: '/api/**', policy: 'authenticated', allow_basic: true },
          { path: '/reports/**', groups: ['finance'] },
        ],
      },
      throttle: { ip_free_failures: 5, account_free_failures: 3 },
      session: { cache_ttl: '1s' },
    });
    nightly = await createUser(gw.store, 'nightly', PASSWORD, { groups: ['finance'] });
    analyst = await createUser(gw.store, 'analyst', PASSWORD, { groups: ['analysts'] });
    tokens = new ApiTokenManager(gw.store, { cacheTtlMs: 0, touchIntervalMs: 0 }, Date.now);
    nightlyToken = (await tokens.create(nightly, { name: 'nightly', expiresAt: null, createdBy: 'test' })).token;
    analystToken = (await tokens.create(analyst, { name: 'analyst', expiresAt: null, createdBy: 'test' })).token;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function call(path: string, headers: Record<string, string>) {
    const before = upstream.requests.length;
    const res = await fetch(`${gw.url}${path}`, { redirect: 'manual', headers: { accept: 'application/json', ...headers } });
    const body = await res.text();
    return { res, body, reached: upstream.requests.slice(before) };
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  it('a valid token acts as its user, with the user\'s groups, and never reaches the app', async () => {
    const { res, reached } = await call('/reports/daily.csv', bearer(nightlyToken));
    assert.equal(res.status, 200);
    const seen = reached[0]!;
    assert.equal(seen.headers['x-forwarded-user'], 'nightly');
    assert.equal(seen.headers['x-forwarded-groups'], 'finance');
    assert.equal(seen.headers.authorization, undefined, 'the token is not forwarded');
    const jwt = decodeJwt(seen.headers['x-dashgate-jwt'] as string);
    assert.deepEqual(jwt.amr, ['token']);
    assert.equal(jwt.username, 'nightly');

    const refused = await call('/reports/daily.csv', bearer(analystToken));
    assert.equal(refused.res.status, 403);
    assert.equal(refused.reached.length, 0);
  });

  it('a browser session decides when there is one, and a Dashgate token beside it is still stripped', async () => {
    const cookie = await signIn(gw.url, 'analyst', PASSWORD);
    const { res, reached } = await call('/x', { cookie, ...bearer(nightlyToken) });
    assert.equal(res.status, 200);
    assert.equal(reached[0]!.headers['x-forwarded-user'], 'analyst');
    assert.equal(reached[0]!.headers.authorization, undefined);
  });

  it('a Bearer token that is not Dashgate\'s is the app\'s business: passed on, the caller anonymous', async () => {
    const { res, reached } = await call('/x', { authorization: 'Bearer eyJ.app.token' });
    assert.equal(res.status, 401);
    assert.equal(JSON.parse((await call('/x', { authorization: 'Bearer eyJ.app.token' })).body).error, 'login_required');
    assert.equal(reached.length, 0);
    const cookie = await signIn(gw.url, 'analyst', PASSWORD);
    const passed = await call('/x', { cookie, authorization: 'Bearer eyJ.app.token' });
    assert.equal(passed.reached[0]!.headers.authorization, 'Bearer eyJ.app.token');
  });

  it('Basic works only where the rule allows it, and the app never sees the password', async () => {
    const ok = await call('/api/items', basic('nightly', PASSWORD));
    assert.equal(ok.res.status, 200);
    assert.equal(ok.reached[0]!.headers['x-forwarded-user'], 'nightly');
    assert.equal(ok.reached[0]!.headers.authorization, undefined);
    assert.deepEqual(decodeJwt(ok.reached[0]!.headers['x-dashgate-jwt'] as string).amr, ['basic']);

    const elsewhere = await call('/x', basic('nightly', PASSWORD));
    assert.equal(elsewhere.res.status, 401, 'no Basic outside allow_basic rules');
    assert.equal(JSON.parse(elsewhere.body).error, 'login_required');
    assert.equal(elsewhere.reached.length, 0);
  });

  it('a revoked, expired or disabled credential stops working at once', async () => {
    const { token, record } = await tokens.create(nightly, { name: 'short', expiresAt: null, createdBy: 'test' });
    assert.equal((await call('/x', bearer(token))).res.status, 200);
    await gw.gateway.store.apiTokens.delete(record.id);
    // The gateway's own manager caches for session.cache_ttl: wait it out rather than reach inside.
    await new Promise((done) => setTimeout(done, gw.gateway.config.session.cache_ttl + 50));
    assert.equal((await call('/x', bearer(token))).res.status, 401);

    const expiring = await tokens.create(nightly, { name: 'expiring', expiresAt: Date.now() + 300, createdBy: 'test' });
    assert.equal((await call('/x', bearer(expiring.token))).res.status, 200);
    await new Promise((done) => setTimeout(done, Math.max(400, gw.gateway.config.session.cache_ttl + 50)));
    assert.equal((await call('/x', bearer(expiring.token))).res.status, 401);
  });

  it('tampered and unknown tokens get 401 with a Bearer challenge, then 429 once throttled', async () => {
    const wrongPassword = await call('/api/items', basic('nightly', 'not the password'));
    assert.equal(wrongPassword.res.status, 401);
    assert.match(wrongPassword.res.headers.get('www-authenticate') ?? '', /^Basic realm="Dash app", charset="UTF-8"$/);
    assert.equal(wrongPassword.reached.length, 0);
    const tampered = `${nightlyToken.slice(0, -4)}AAAA`;
    const first = await call('/x', bearer(tampered));
    assert.equal(first.res.status, 401);
    assert.equal(first.res.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    assert.deepEqual(JSON.parse(first.body), { error: 'invalid_credentials' });
    assert.equal(first.reached.length, 0);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call('/x', bearer('dgt_notatoken'))).res.status);
    assert.ok(statuses.includes(429), `statuses ${statuses.join(',')}`);
    const throttled = await call('/x', bearer(nightlyToken));
    assert.equal(throttled.res.status, 429, 'even a good token waits while the address is throttled');
    assert.match(throttled.res.headers.get('retry-after') ?? '', /^\d+$/);
    const audit = await gw.store.audit.list({ action: 'token.failure' });
    assert.ok(audit.length >= 3);
    assert.ok(!JSON.stringify(audit).includes(tampered), 'the presented token is not written to the audit log');
  });
});

describe('credential throttling is per address', () => {
  it('failures from one address never throttle another (regression: a shared key throttled everyone)', async () => {
    const upstream = await startRecordingUpstream();
    const gw = await startGateway(upstream.url, { server: { trusted_proxies: ['127.0.0.1'] }, throttle: { ip_free_failures: 3, account_free_failures: 3 } });
    try {
      const user = await createUser(gw.store, 'svc', PASSWORD);
      const { token } = await new ApiTokenManager(gw.store, { cacheTtlMs: 0, touchIntervalMs: 0 }, Date.now).create(user, { name: 'svc', expiresAt: null, createdBy: 'test' });
      const from = (ip: string, value: string) => fetch(`${gw.url}/x`, { headers: { authorization: `Bearer ${value}`, 'x-forwarded-for': ip, accept: 'application/json' } }).then((r) => r.status);
      const attacker: number[] = [];
      for (let i = 0; i < 6; i++) attacker.push(await from('203.0.113.1', 'dgt_guess'));
      assert.ok(attacker.includes(429), `attacker statuses ${attacker.join(',')}`);
      assert.equal(await from('198.51.100.7', 'dgt_typo'), 401, 'one honest mistake elsewhere');
      assert.equal(await from('198.51.100.7', token), 200, 'and that address is not throttled by the attacker');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
