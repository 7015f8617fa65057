import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generate } from 'otplib';
import { testClock } from '../helpers/clock.js';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'totp user passphrase';

/** TOTP over HTTP with an injected clock: enrolment, sign-in, replay, recovery codes, throttling, reset. */
describe('two-factor sign-in with an authenticator app (TOTP)', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let secret: string;
  let recoveryCodes: string[];
  const clock = testClock(Date.UTC(2026, 10, 28, 12, 0, 0));
  const code = (offsetSteps = 0) => generate({ secret, epoch: Math.floor(clock.now() / 1000) + offsetSteps * 30 });

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, { throttle: { account_free_failures: 3 } }, { now: clock.now });
    await createUser(gw.store, 'tara', PASSWORD);
    await createUser(gw.store, 'root', PASSWORD, { isAdmin: true, groups: ['admins'] });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const post = (path: string, fields: Record<string, string>, cookie?: string) =>
    fetch(`${gw.url}/_dashgate/${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: gw.url, 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
      body: new URLSearchParams(fields).toString(),
    });
  const accountCsrf = async (cookie: string) => hiddenFields(await (await fetch(`${gw.url}/_dashgate/account`, { headers: { cookie } })).text()).csrf!;

  /** Password step; returns the challenge cookie (or the session cookie when no second factor is asked). */
  async function passwordStep(username: string): Promise<{ status: number; location: string | null; cookie: string }> {
    const fields = hiddenFields(await (await fetch(`${gw.url}/_dashgate/login?next=%2Freports`)).text());
    const res = await post('login', { ...fields, username, password: PASSWORD });
    return { status: res.status, location: res.headers.get('location'), cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]! };
  }
  async function codeStep(challenge: string, value: string) {
    const fields = hiddenFields(await (await fetch(`${gw.url}/_dashgate/login/mfa?next=%2Freports`, { headers: { cookie: challenge } })).text());
    return post('login/mfa', { ...fields, code: value }, challenge);
  }

  it('enrols from the account page: QR code and key, confirmed by a code, ten recovery codes shown once', async () => {
    const cookie = await signIn(gw.url, 'tara', PASSWORD);
    const setup = await post('account/totp/setup', { csrf: await accountCsrf(cookie) }, cookie);
    assert.equal(setup.status, 200);
    const page = await setup.text();
    assert.match(page, /<figure class="qr"[^>]*><svg/);
    secret = /<code class="secret" id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(page)![1]!.replace(/ /g, '');
    const csrf = hiddenFields(page).csrf!;
    assert.equal((await post('account/totp/confirm', { csrf, code: '000000' }, cookie)).status, 400);
    const confirmed = await post('account/totp/confirm', { csrf, code: await code() }, cookie);
    assert.equal(confirmed.status, 200);
    recoveryCodes = [...(await confirmed.text()).matchAll(/<li><code>([a-z0-9]{5}-[a-z0-9]{5})<\/code><\/li>/g)].map((m) => m[1]!);
    assert.equal(recoveryCodes.length, 10);
    assert.match(await (await fetch(`${gw.url}/_dashgate/account`, { headers: { cookie } })).text(), /On: signing in asks for a code[^<]*10 recovery codes left/);
    assert.equal((await gw.store.audit.list({ action: 'mfa.enrolled' }))[0]?.actor, 'tara');
  });

  it('asks for the code after the password; the right code signs in and returns to the page asked for', async () => {
    clock.advance(60_000);
    const step = await passwordStep('tara');
    assert.equal(step.status, 303);
    assert.equal(step.location, '/_dashgate/login/mfa?next=%2Freports');
    assert.match(step.cookie, /^dashgate_mfa=/, 'a challenge, not a session');
    assert.equal((await fetch(`${gw.url}/reports`, { redirect: 'manual', headers: { cookie: step.cookie } })).status, 303, 'the challenge opens nothing');
    assert.equal((await codeStep(step.cookie, '123456')).status, 401);
    const res = await codeStep(step.cookie, await code());
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/reports');
    const session = res.headers.getSetCookie().find((c) => c.startsWith('dashgate_session='))!.split(';')[0]!;
    assert.equal((await fetch(`${gw.url}/reports`, { headers: { cookie: session } })).status, 200);
    assert.equal((await gw.store.sessions.listForUser((await gw.store.users.findByUsername('tara'))!.id)).some((s) => s.authMethod === 'password+totp'), true);
  });

  it('refuses a code that was already used (replay), accepts the next one', async () => {
    const used = await code();
    const step = await passwordStep('tara');
    assert.equal((await codeStep(step.cookie, used)).status, 401, 'replayed within its window');
    clock.advance(30_000);
    assert.equal((await codeStep(step.cookie, await code())).status, 303);
  });

  it('accepts a recovery code once', async () => {
    clock.advance(30_000);
    const step = await passwordStep('tara');
    assert.equal((await codeStep(step.cookie, recoveryCodes[0]!.toUpperCase())).status, 303);
    const again = await passwordStep('tara');
    assert.equal((await codeStep(again.cookie, recoveryCodes[0]!)).status, 401);
    assert.ok((await gw.store.audit.list({ action: 'login.recovery_code_used' })).length === 1);
  });

  it('a forged or expired challenge leads back to the password step', async () => {
    const step = await passwordStep('tara');
    const forged = step.cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    assert.equal((await codeStep(forged, await code(1))).status, 303);
    clock.advance(6 * 60_000);
    const expired = await codeStep(step.cookie, await code());
    assert.equal(expired.status, 303);
    assert.match(expired.headers.get('location')!, /^\/_dashgate\/login\?next=/);
  });

  it('the in-page sign-in dialog (JSON) is told to finish on the sign-in page', async () => {
    const fields = hiddenFields(await (await fetch(`${gw.url}/_dashgate/login`)).text());
    const res = await fetch(`${gw.url}/_dashgate/login`, {
      method: 'POST',
      headers: { origin: gw.url, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, username: 'tara', password: PASSWORD }).toString(),
    });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: string }).error, 'mfa_required');
    assert.ok(!(res.headers.get('set-cookie') ?? '').includes('dashgate_session='));
  });

  it('throttles wrong codes per account', async () => {
    clock.advance(30_000);
    const step = await passwordStep('tara');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await codeStep(step.cookie, '000000')).status);
    assert.ok(statuses.includes(429), statuses.join(','));
    assert.equal((await codeStep(step.cookie, await code())).status, 429, 'even the right code waits');
    clock.advance(20 * 60_000);
  });

  it('an admin can reset the factor (audited); the user then signs in with the password alone', async () => {
    const root = await signIn(gw.url, 'root', PASSWORD);
    const tara = (await gw.store.users.findByUsername('tara'))!;
    const page = await (await fetch(`${gw.url}/_dashgate/admin/users/${tara.id}`, { headers: { cookie: root } })).text();
    assert.match(page, /<dt>Two-factor<\/dt><dd>on/);
    const reset = await post(`admin/users/${tara.id}/mfa-reset`, { csrf: hiddenFields(page).csrf! }, root);
    assert.equal(reset.status, 303);
    const step = await passwordStep('tara');
    assert.equal(step.location, '/reports');
    assert.match(step.cookie, /^dashgate_session=/);
    assert.equal((await gw.store.audit.list({ action: 'mfa.reset' }))[0]?.target, 'tara');
  });
});
