import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, hiddenFields, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'second step passphrase';

/**
 * The passkey as the second step after a password, over HTTP (the browser ceremony itself is in
 * e2e/passkeys-browser): the step belongs to the user who passed the password, and nobody else's
 * passkey, no forged assertion and no expired challenge completes it.
 */
describe('passkey as the second step', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let base: string;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, { throttle: { account_free_failures: 2 } });
    base = gw.url;
    const owner = await createUser(gw.store, 'owner', PASSWORD);
    const other = await createUser(gw.store, 'other', PASSWORD);
    for (const [user, id] of [[owner, 'owner-key'], [other, 'others-key']] as const) {
      await gw.store.factors.addPasskey({ id, userId: user.id, publicKey: Buffer.from('not a real COSE key').toString('base64url'), counter: 0, transports: ['internal'], name: id, createdAt: Date.now() });
    }
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const json = (path: string, body: object, cookie: string) =>
    fetch(`${base}/_dashgate/${path}`, { method: 'POST', headers: { origin: base, 'content-type': 'application/json', accept: 'application/json', cookie }, body: JSON.stringify(body) });

  /** Passes the password step as `owner`; returns the challenge cookie and the second-step page's csrf. */
  async function passwordStep(): Promise<{ cookie: string; csrf: string; location: string }> {
    const fields = hiddenFields(await (await fetch(`${base}/_dashgate/login?next=%2Fdata`)).text());
    const res = await fetch(`${base}/_dashgate/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, username: 'owner', password: PASSWORD }).toString(),
    });
    assert.equal(res.status, 303);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('dashgate_mfa='))!.split(';')[0]!;
    const page = await (await fetch(`${base}/_dashgate/login/mfa?next=%2Fdata`, { headers: { cookie } })).text();
    assert.match(page, /data-endpoint="\/login\/mfa\/passkey"/);
    assert.match(page, /Use your passkey/);
    assert.doesNotMatch(page, /id="code"/, 'no code field without an authenticator app');
    return { cookie, csrf: hiddenFields(page).csrf ?? /data-csrf="([^"]+)"/.exec(page)![1]!, location: res.headers.get('location')! };
  }

  async function ceremony(step: { cookie: string; csrf: string }): Promise<{ cookie: string; options: { challenge: string; allowCredentials: Array<{ id: string }> } }> {
    const res = await json('login/mfa/passkey/options', { csrf: step.csrf }, step.cookie);
    assert.equal(res.status, 200);
    const seal = res.headers.getSetCookie().find((c) => c.startsWith('dashgate_webauthn='))!.split(';')[0]!;
    return { cookie: `${step.cookie}; ${seal}`, options: (await res.json()) as never };
  }

  const assertion = (id: string) => ({ id, rawId: id, type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'AAAA', signature: 'AAAA' }, clientExtensionResults: {} });

  it('a correct password leads to the second step, not to a session', async () => {
    const step = await passwordStep();
    assert.equal(step.location, '/_dashgate/login/mfa?next=%2Fdata');
    assert.equal((await gw.store.sessions.listForUser((await gw.store.users.findByUsername('owner'))!.id)).length, 0);
  });

  it("offers only the signed-in user's passkeys, and refuses another user's passkey", async () => {
    const step = await passwordStep();
    const { cookie, options } = await ceremony(step);
    assert.deepEqual(options.allowCredentials.map((c) => c.id), ['owner-key']);
    const res = await json('login/mfa/passkey', { csrf: step.csrf, next: '/data', response: assertion('others-key') }, cookie);
    assert.equal(res.status, 401);
    assert.match(((await res.json()) as { message: string }).message, /not one of this account's/);
    const failures = await gw.store.audit.list({ action: 'login.mfa_failure' });
    assert.ok(failures.some((e) => e.actor === 'owner' && (e.detail as { reason?: string }).reason === 'not_this_users_passkey'));
  });

  it('refuses a forged assertion for the right passkey, and then throttles the account', async () => {
    const step = await passwordStep();
    const { cookie } = await ceremony(step);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await json('login/mfa/passkey', { csrf: step.csrf, response: assertion('owner-key') }, cookie)).status);
    assert.deepEqual(statuses.slice(0, 1), [401]);
    assert.equal(statuses.at(-1), 429, statuses.join(','));
    assert.equal(upstream.requests.length, 0);
  });

  it('without the password step (no challenge cookie) there is nothing to complete', async () => {
    const page = await (await fetch(`${base}/_dashgate/login`)).text();
    const csrf = hiddenFields(page).csrf!;
    assert.equal((await json('login/mfa/passkey/options', { csrf }, '')).status, 401);
    assert.equal((await json('login/mfa/passkey', { csrf, response: assertion('owner-key') }, '')).status, 401);
  });
});
