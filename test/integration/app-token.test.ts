import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jwtVerify } from 'jose';
import { ConfigError } from '../../src/errors.js';
import { createUser, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

const SECRET = 'an app secret of at least thirty-two characters';

describe('X-Dashgate-App-Token: the identity for the app, HS256 under a shared secret', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let cookie: string;
  const key = new TextEncoder().encode(SECRET);

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(
      upstream.url,
      { server: { public_url: 'http://dash.test' }, identity_jwt: { audience: 'sales-app', app_secret_env: 'TEST_APP_SECRET' }, access: { rules: [{ path: '/public/**', policy: 'public' }] } },
      { env: { TEST_APP_SECRET: SECRET } },
    );
    await createUser(gw.store, 'alice', 'correct horse battery', { email: 'alice@example.com', groups: ['analysts'] });
    cookie = await signIn(gw.url, 'alice', 'correct horse battery');
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function appTokenOf(path: string, headers: Record<string, string> = {}): Promise<string> {
    const res = await fetch(`${gw.url}${path}`, { headers });
    assert.equal(res.status, 200);
    const token = upstream.requests.at(-1)!.headers['x-dashgate-app-token'];
    assert.equal(typeof token, 'string', 'every proxied request carries it');
    return token as string;
  }

  it('a signed-in request carries the user, verifiable with the secret alone', async () => {
    const { payload, protectedHeader } = await jwtVerify(await appTokenOf('/x', { cookie }), key, { issuer: 'http://dash.test', audience: 'sales-app', algorithms: ['HS256'] });
    assert.equal(protectedHeader.alg, 'HS256');
    assert.equal(payload.sub, (await gw.store.users.findByUsername('alice'))!.id);
    assert.equal(payload.username, 'alice');
    assert.deepEqual(payload.groups, ['analysts']);
    assert.deepEqual(payload.amr, ['password']);
  });

  it('an anonymous request on a public path carries a token without a subject: it came through the gateway, nobody signed in', async () => {
    const { payload } = await jwtVerify(await appTokenOf('/public/page'), key, { issuer: 'http://dash.test', audience: 'sales-app', algorithms: ['HS256'] });
    assert.equal(payload.sub, undefined);
    assert.equal(payload.username, undefined);
    assert.equal(upstream.requests.at(-1)!.headers['x-dashgate-jwt'], undefined, 'the EdDSA token stays for signed-in users');
  });

  it('a client-sent X-Dashgate-App-Token never reaches the app', async () => {
    const forged = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.forged';
    const token = await appTokenOf('/public/page', { 'x-dashgate-app-token': forged, 'x_dashgate_app_token': forged });
    assert.notEqual(token, forged);
    assert.equal(upstream.requests.at(-1)!.rawHeaders.filter((h) => h.toLowerCase().replaceAll('_', '-') === 'x-dashgate-app-token').length, 1);
  });

  it('refuses to start when the variable is missing or the secret too short, naming the setting', async () => {
    for (const env of [{}, { TEST_APP_SECRET: 'short' }]) {
      await assert.rejects(
        startGateway(upstream.url, { identity_jwt: { app_secret_env: 'TEST_APP_SECRET' } }, { env }),
        (err: unknown) => err instanceof ConfigError && err.problems.length === 1 && err.problems[0]!.startsWith('identity_jwt.app_secret_env: '),
      );
    }
  });
});
