import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

describe('sign-in through the login form', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url);
    await createUser(gw.store, 'alice', 'correct horse battery', { groups: ['analysts', 'finance'], email: 'alice@example.com', displayName: 'Alice A.' });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('redirects an anonymous page navigation to the login page with next', async () => {
    const res = await fetch(`${gw.url}/reports/q3?tab=2`, { redirect: 'manual', headers: { accept: 'text/html' } });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/_dashgate/login?next=%2Freports%2Fq3%3Ftab%3D2');
    assert.equal(upstream.requests.length, 0);
  });

  it('answers an anonymous Dash callback with 401 JSON', async () => {
    const res = await fetch(`${gw.url}/_dash-update-component`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('x-dashgate'), 'login-required');
    const body = (await res.json()) as { error: string; login_url: string };
    assert.equal(body.error, 'login_required');
    assert.equal(body.login_url, '/_dashgate/login?next=%2F_dash-update-component');
  });

  it('signs in, lands on next, and forwards the identity', async () => {
    const cookie = await signIn(gw.url, 'Alice', 'correct horse battery', '/reports');
    const res = await fetch(`${gw.url}/reports?x=1`, { headers: { cookie } });
    assert.equal(res.status, 200);
    const seen = upstream.requests.at(-1)!;
    assert.equal(seen.url, '/reports?x=1');
    assert.equal(seen.headers['x-forwarded-user'], 'alice');
    assert.equal(seen.headers['remote-user'], 'alice');
    assert.equal(seen.headers['x-forwarded-email'], 'alice@example.com');
    assert.equal(seen.headers['x-forwarded-preferred-username'], 'Alice A.');
    assert.equal(seen.headers['x-forwarded-groups'], 'analysts,finance');
    assert.equal(seen.headers.cookie, undefined, 'the gateway session cookie is not passed to the app');
  });

  it('answers a wrong password with the form again, status 401, one generic message', async () => {
    const page = await fetch(`${gw.url}/_dashgate/login`);
    const fields = hiddenFields(await page.text());
    const res = await fetch(`${gw.url}/_dashgate/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, username: 'alice', password: 'wrong password!' }),
    });
    assert.equal(res.status, 401);
    const html = await res.text();
    assert.match(html, /The username or password is not correct\./);
    assert.match(html, /name="username"/);
    assert.equal(res.headers.get('set-cookie'), null);
  });
});

describe('legacy bcrypt hashes (htpasswd import)', () => {
  it('signs in with the bcrypt hash as it is and replaces it with argon2id', async () => {
    const { hash } = await import('@node-rs/bcrypt');
    const upstream = await startRecordingUpstream();
    const gw = await startGateway(upstream.url);
    try {
      const legacy = (await hash('legacy passphrase 1', 5)).replace(/^\$2b\$/, '$2y$');
      await gw.store.users.create({ username: 'old', passwordHash: legacy });
      await signIn(gw.url, 'old', 'legacy passphrase 1');
      const after = await gw.store.users.findByUsername('old');
      assert.match(after!.passwordHash!, /^\$argon2id\$/);
      await signIn(gw.url, 'old', 'legacy passphrase 1');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
