import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generate } from 'otplib';
import { ApiTokenManager } from '../../src/auth/api-tokens.js';
import { newTotpSecret } from '../../src/auth/totp.js';
import type { User } from '../../src/store/types.js';
import { testClock } from '../helpers/clock.js';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'step up passphrase';

/** `mfa.required` and rules with `mfa: true`: enrolment is enforced, and a password-only session is asked for its code. */
describe('second-factor policy and step-up', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let sam: User;
  let secret: string;
  const clock = testClock(Date.UTC(2026, 10, 28, 15, 0, 0));

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(
      upstream.url,
      {
        mfa: { required: 'admins' },
        session: { cache_ttl: '0s' },
        access: { rules: [{ path: '/payroll/**', policy: 'authenticated', mfa: true, allow_basic: true }, { path: '/api/**', policy: 'authenticated', allow_basic: true }] },
      },
      { now: clock.now },
    );
    await createUser(gw.store, 'root', PASSWORD, { isAdmin: true, groups: ['admins'] });
    sam = await createUser(gw.store, 'sam', PASSWORD);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const get = (path: string, headers: Record<string, string>) => fetch(`${gw.url}${path}`, { redirect: 'manual', headers });

  it('sends an administrator without a factor to set one up, and tells scripts why', async () => {
    const root = await signIn(gw.url, 'root', PASSWORD);
    const page = await get('/dashboard', { cookie: root });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/_dashgate/account?enrol=1');
    const callback = await get('/_dash-layout', { cookie: root, accept: 'application/json' });
    assert.equal(callback.status, 403);
    assert.equal(((await callback.json()) as { error: string }).error, 'second_factor_enrolment_required');
    assert.match(await (await get('/_dashgate/account?enrol=1', { cookie: root })).text(), /Two-factor sign-in is required here/);
  });

  it('lets a user the policy does not cover through, except on step-up paths', async () => {
    const cookie = await signIn(gw.url, 'sam', PASSWORD);
    assert.equal((await get('/dashboard', { cookie })).status, 200);
    const payroll = await get('/payroll/march', { cookie });
    assert.equal(payroll.status, 303);
    assert.equal(payroll.headers.get('location'), '/_dashgate/account?enrol=1', 'no factor yet: set one up first');
  });

  it('asks a password-only session for its code before a step-up path, then lets the new session through', async () => {
    const before = await signIn(gw.url, 'sam', PASSWORD);
    secret = await newTotpSecret();
    await gw.store.factors.startTotp(sam.id, secret, clock.now());
    await gw.store.factors.confirmTotp(sam.id, clock.now(), 0);
    const asked = await get('/payroll/march?x=1', { cookie: before });
    assert.equal(asked.status, 303);
    assert.equal(asked.headers.get('location'), '/_dashgate/stepup?next=%2Fpayroll%2Fmarch%3Fx%3D1');
    assert.equal((await get('/dashboard', { cookie: before })).status, 200, 'other paths are unaffected');

    const page = await get('/_dashgate/stepup?next=%2Fpayroll%2Fmarch', { cookie: before });
    assert.equal(page.status, 200);
    const fields = hiddenFields(await page.text());
    const post = (code: string) =>
      fetch(`${gw.url}/_dashgate/stepup`, { method: 'POST', redirect: 'manual', headers: { cookie: before, origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...fields, code }).toString() });
    assert.equal((await post('000000')).status, 401);
    const ok = await post(await generate({ secret, epoch: Math.floor(clock.now() / 1000) }));
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/payroll/march');
    const after = ok.headers.getSetCookie().find((c) => c.startsWith('dashgate_session='))!.split(';')[0]!;
    assert.equal((await get('/payroll/march', { cookie: after })).status, 200);
    assert.equal((await get('/payroll/march', { cookie: before, accept: 'application/json' })).status, 401, 'the password-only session was replaced');
    const sessions = await gw.store.sessions.listForUser(sam.id);
    assert.ok(sessions.some((s) => s.authMethod === 'password+totp'));
  });

  it('a password alone (Basic) or an API token never passes a step-up path', async () => {
    const basic = { authorization: `Basic ${Buffer.from(`sam:${PASSWORD}`).toString('base64')}`, accept: 'application/json' };
    assert.equal((await get('/api/items', basic)).status, 200);
    const refused = await get('/payroll/march', basic);
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { error: string }).error, 'second_factor_required');
    const { token } = await new ApiTokenManager(gw.store, { cacheTtlMs: 0, touchIntervalMs: 0 }, clock.now).create(sam, { name: 't', expiresAt: null, createdBy: 'test' });
    assert.equal((await get('/api/items', { authorization: `Bearer ${token}` })).status, 200);
    assert.equal((await get('/payroll/march', { authorization: `Bearer ${token}`, accept: 'application/json' })).status, 403);
  });
});
