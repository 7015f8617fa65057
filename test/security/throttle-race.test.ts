import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generate } from 'otplib';
import type { Gateway } from '../../src/app.js';
import { newTotpSecret } from '../../src/auth/totp.js';
import type { Store } from '../../src/store/store.js';
import { testClock } from '../helpers/clock.js';
import { createUser, hiddenFields, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'the right passphrase';
const FREE = 3;
const GUESSES = 12;

/**
 * The throttle's promise for every kind of credential: N simultaneous wrong guesses from one
 * address, of which exactly the free number is checked (answered as wrong) and the rest wait
 * (429). Over real HTTP, on SQLite and on PostgreSQL, whose queries of simultaneous requests
 * really interleave (better-sqlite3 answers synchronously, so a race there shows only where
 * the check itself is asynchronous: argon2, WebCrypto). The passkey sign-in checked and
 * counted outside the lock every other credential took.
 */
for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`throttle under simultaneous guesses, every credential kind (${backend})`, () => {
    const clock = testClock(Date.UTC(2030, 5, 1, 9));
    let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
    let gw: TestGateway;
    let store: Store;
    let gateway: Gateway;
    let url: string;
    let address = 0;
    /** Each kind guesses from its own address, so one kind's failures never throttle another. */
    const freshIp = () => `198.51.100.${++address}`;

    before(async () => {
      upstream = await startRecordingUpstream();
      gw = await startGateway(
        upstream.url,
        {
          server: { trusted_proxies: ['127.0.0.1'] },
          access: { rules: [{ path: '/api/**', policy: 'authenticated', allow_basic: true }] },
          throttle: { account_free_failures: FREE, ip_free_failures: FREE },
        },
        { now: clock.now, postgres: backend === 'postgres' },
      );
      ({ store, gateway, url } = gw);
    });
    after(async () => {
      await gw?.close();
      await upstream?.close();
    });

    const post = (path: string, ip: string, body: Record<string, unknown>, options: { cookie?: string; json?: boolean } = {}) =>
      fetch(`${url}/_dashgate/${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          origin: url,
          'x-forwarded-for': ip,
          'content-type': options.json ? 'application/json' : 'application/x-www-form-urlencoded',
          accept: options.json ? 'application/json' : 'text/html',
          ...(options.cookie ? { cookie: options.cookie } : {}),
        },
        body: options.json ? JSON.stringify(body) : new URLSearchParams(body as Record<string, string>).toString(),
      });
    const formCsrf = async () => hiddenFields(await (await fetch(`${url}/_dashgate/login`)).text()).csrf!;
    const cookieOf = (res: Response, name: string) => res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`))!.split(';')[0]!;

    /** Fires every guess at once; asserts that exactly FREE were checked (`wrong`) and the others throttled. */
    async function race(what: string, wrong: number, guess: (i: number) => Promise<Response>) {
      const statuses = await Promise.all(Array.from({ length: GUESSES }, (_, i) => guess(i).then(async (res) => (await res.arrayBuffer(), res.status))));
      assert.equal(statuses.filter((s) => s === wrong).length, FREE, `${what}: ${statuses.join(',')}`);
      assert.equal(statuses.filter((s) => s === 429).length, GUESSES - FREE, `${what}: ${statuses.join(',')}`);
      assert.equal(upstream.requests.length, 0, `${what}: nothing reached the app`);
    }

    /** Passes the password step of `username`; returns the second-step challenge cookie. */
    async function passwordStep(username: string): Promise<string> {
      const res = await post('login', freshIp(), { csrf: await formCsrf(), username, password: PASSWORD, next: '/' });
      assert.equal(res.status, 303);
      assert.match(res.headers.get('location')!, /\/login\/mfa/);
      return cookieOf(res, 'dashgate_mfa');
    }

    /** A TOTP code that is certainly wrong now (not one of the three the window accepts). */
    async function wrongCode(secret: string): Promise<string> {
      const epoch = Math.floor(clock.now() / 1000);
      const valid = await Promise.all([-30, 0, 30].map((d) => generate({ secret, epoch: epoch + d })));
      let code = 100000;
      while (valid.includes(String(code))) code++;
      return String(code);
    }

    async function withTotp(username: string, password: string | null): Promise<{ id: string; secret: string }> {
      const user = password === null ? await store.users.create({ username }) : await createUser(store, username, password);
      const secret = await newTotpSecret();
      await store.factors.startTotp(user.id, secret, clock.now());
      await store.factors.confirmTotp(user.id, clock.now(), 0);
      return { id: user.id, secret };
    }

    it('password at the sign-in form', async () => {
      await createUser(store, 'pw', PASSWORD);
      const csrf = await formCsrf();
      const ip = freshIp();
      await race('password', 401, (i) => post('login', ip, { csrf, username: 'pw', password: `wrong guess ${i}` }));
    });

    it('HTTP Basic', async () => {
      await createUser(store, 'basic', PASSWORD);
      const ip = freshIp();
      await race('basic', 401, (i) => fetch(`${url}/api/items`, { headers: { accept: 'application/json', 'x-forwarded-for': ip, authorization: `Basic ${Buffer.from(`basic:wrong guess ${i}`).toString('base64')}` } }));
    });

    it('API token', async () => {
      const ip = freshIp();
      await race('api token', 401, (i) => fetch(`${url}/api/items`, { headers: { accept: 'application/json', 'x-forwarded-for': ip, authorization: `Bearer dgt_${String(i).padStart(22, 'G')}.${'s'.repeat(43)}` } }));
    });

    it('TOTP code at the second step', async () => {
      const { secret } = await withTotp('totp', PASSWORD);
      const cookie = await passwordStep('totp');
      const csrf = await formCsrf();
      const code = await wrongCode(secret);
      const ip = freshIp();
      await race('totp', 401, () => post('login/mfa', ip, { csrf, code, next: '/' }, { cookie }));
    });

    it('recovery code at the second step', async () => {
      await withTotp('recovery', PASSWORD);
      const cookie = await passwordStep('recovery');
      const csrf = await formCsrf();
      const ip = freshIp();
      await race('recovery code', 401, (i) => post('login/mfa', ip, { csrf, code: `wrong-${String(i).padStart(5, 'x')}`, next: '/' }, { cookie }));
      const failures = (await store.audit.list({ action: 'login.mfa_failure', actor: 'recovery' })).map((e) => e.detail?.kind);
      assert.deepEqual(failures, ['recovery_code', 'recovery_code', 'recovery_code'], 'checked as recovery codes');
    });

    it('TOTP code confirming a change on the account page of an account without a password', async () => {
      const { id } = await withTotp('ssoonly', null);
      const user = (await store.users.findById(id))!;
      const { token } = await gateway.sessions.createSession(user, { ip: null, userAgent: null, authMethod: 'sso:corp' });
      const cookie = `dashgate_session=${token}`;
      const csrf = hiddenFields(await (await fetch(`${url}/_dashgate/account`, { headers: { cookie } })).text()).csrf!;
      const ip = freshIp();
      await race('totp on the account page', 400, () => post('account/totp/manage', ip, { csrf, code: '000000', action: 'recovery' }, { cookie }));
    });

    it('regression: passkey sign-in (it checked and counted outside the lock)', async () => {
      const csrf = await formCsrf();
      const ip = freshIp();
      const options = await post('login/passkey/options', ip, { csrf }, { json: true });
      assert.equal(options.status, 200);
      const cookie = cookieOf(options, 'dashgate_webauthn');
      await race('passkey', 401, (i) =>
        post('login/passkey', ip, { csrf, next: '/', response: { id: `no-such-key-${i}`, rawId: `no-such-key-${i}`, type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'AAAA', signature: 'AAAA' }, clientExtensionResults: {} } }, { cookie, json: true }),
      );
    });

    it('passkey at the second step', async () => {
      const user = await createUser(store, 'keyholder', PASSWORD);
      await store.factors.addPasskey({ id: 'keyholder-key', userId: user.id, publicKey: Buffer.from('not a real COSE key').toString('base64url'), counter: 0, transports: ['internal'], name: 'key', createdAt: clock.now() });
      const challenge = await passwordStep('keyholder');
      const csrf = await formCsrf();
      const ip = freshIp();
      const options = await post('login/mfa/passkey/options', ip, { csrf }, { cookie: challenge, json: true });
      assert.equal(options.status, 200);
      const cookie = `${challenge}; ${cookieOf(options, 'dashgate_webauthn')}`;
      await race('passkey second step', 401, (i) =>
        post('login/mfa/passkey', ip, { csrf, next: '/', response: { id: `not-this-users-${i}`, rawId: `not-this-users-${i}`, type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'AAAA', signature: 'AAAA' }, clientExtensionResults: {} } }, { cookie, json: true }),
      );
    });
  });
}
