import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hiddenFields, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

describe('first run: one-time setup link', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let t = Date.UTC(2026, 0, 1);

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, {}, { now: () => t });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function submit(link: string, fields: Record<string, string>) {
    const page = await fetch(link);
    assert.equal(page.status, 200);
    return fetch(`${gw.url}/_dashgate/setup`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...hiddenFields(await page.text()), ...fields }),
    });
  }

  it('has no default account: nobody can sign in before setup', async () => {
    assert.equal(await gw.store.users.count(), 0);
    for (const [u, p] of [['admin', 'admin'], ['admin', 'password'], ['dashgate', 'dashgate']]) {
      const page = await fetch(`${gw.url}/_dashgate/login`);
      const res = await fetch(`${gw.url}/_dashgate/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...hiddenFields(await page.text()), username: u!, password: p! }) });
      assert.equal(res.status, 401);
    }
  });

  it('refuses an expired link', async () => {
    const link = (await gw.gateway.setupLinkIfNeeded(gw.url))!;
    t += 3_600_001;
    assert.equal((await fetch(link)).status, 410);
  });

  it('refuses a tampered link', async () => {
    const link = (await gw.gateway.setupLinkIfNeeded(gw.url))!;
    const tampered = link.slice(0, -3) + (link.endsWith('AAA') ? 'BBB' : 'AAA');
    assert.equal((await fetch(tampered)).status, 410);
  });

  it('a newer link replaces an older one', async () => {
    const older = (await gw.gateway.setupLinkIfNeeded(gw.url))!;
    const newer = (await gw.gateway.setupLinkIfNeeded(gw.url))!;
    assert.equal((await fetch(older)).status, 410);
    assert.equal((await fetch(newer)).status, 200);
  });

  it('checks the password policy, then creates the admin, signs in, and cannot be used twice', async () => {
    const link = (await gw.gateway.setupLinkIfNeeded(gw.url))!;
    const weak = await submit(link, { username: 'root', password: 'password', password2: 'password' });
    assert.equal(weak.status, 400);
    assert.match(await weak.text(), /commonly used/);

    const ok = await submit(link, { username: 'Root', email: 'root@example.com', password: 'a long admin passphrase', password2: 'a long admin passphrase' });
    assert.equal(ok.status, 303);
    const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
    const admin = await gw.store.users.findByUsername('root');
    assert.equal(admin?.isAdmin, true);
    assert.deepEqual(admin?.groups, ['admins']);
    assert.equal((await fetch(`${gw.url}/`, { headers: { cookie } })).status, 200);

    assert.equal((await fetch(link)).status, 410, 'single use');
    assert.equal(await gw.gateway.setupLinkIfNeeded(gw.url), null, 'no new link once a user exists');
    assert.ok((await gw.store.audit.list({ action: 'setup.admin_created' })).length === 1);
  });
});
