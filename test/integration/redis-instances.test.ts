/**
 * Three gateway instances (A, B, C) on one PostgreSQL and the shared Redis, with a 10-minute
 * session cache: a sign-out or an admin's change on one is honoured by the others at once (the
 * Redis change bus), and simultaneous bad credentials spread over all three are checked one at a
 * time (the Redis lock). A fourth instance on the same store without Redis is the control: it
 * keeps believing what it cached, which is what every instance did before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE_PASSWORD, createUser, hiddenFields, signIn, startRecordingUpstream } from '../helpers/harness.js';
import { signOut, startInstances, uniqueKeyPrefix, waitFor, type Instance } from '../helpers/instances.js';

const ROOT_PASSWORD = 'root console passphrase';

describe('several instances with Redis', { timeout: 120_000 }, () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let running: Awaited<ReturnType<typeof startInstances>>;
  let a: Instance, b: Instance, c: Instance, control: Instance;
  const redis = { url: 'redis://127.0.0.1:6379', key_prefix: uniqueKeyPrefix() };

  before(async () => {
    upstream = await startRecordingUpstream();
    running = await startInstances(
      upstream.url,
      {
        // Long enough that, without the bus, an instance would keep believing a session for the whole test.
        session: { cache_ttl: '10m' },
        access: { rules: [{ path: '/reports/**', groups: ['analysts'] }] },
        throttle: { account_free_failures: 3, ip_free_failures: 3 },
        server: { trusted_proxies: ['127.0.0.1'] },
      },
      [{ name: 'A', config: { redis } }, { name: 'B', config: { redis } }, { name: 'C', config: { redis } }, { name: 'control' }],
    );
    [a, b, c, control] = running.instances as [Instance, Instance, Instance, Instance];
    await createUser(a.store, 'alice', ALICE_PASSWORD, { groups: ['analysts'] });
    await createUser(a.store, 'root', ROOT_PASSWORD, { isAdmin: true, groups: ['admins'] });
    await waitFor('every instance sees Redis up', () => [a, b, c].every((i) => i.gateway.redis?.up() === true));
  });
  after(async () => {
    await running?.close();
    await upstream?.close();
  });

  const get = (instance: Instance, path: string, cookie: string) => fetch(`${instance.url}${path}`, { headers: { cookie, accept: 'application/json' } });

  it('reports redis ok in readiness while Redis is up', async () => {
    const res = await fetch(`${a.url}/_dashgate/ready`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; parts: Record<string, string> };
    assert.equal(body.parts.redis, 'ok');
    assert.equal(body.status, 'ok');
    assert.equal((await (await fetch(`${control.url}/_dashgate/ready`)).json() as { parts: Record<string, string> }).parts.redis, undefined, 'no redis part without redis.url');
  });

  it('a session signed in on A and used on B and C, signed out on C, is refused by A and B at once', async () => {
    const cookie = await signIn(a.url, 'alice', ALICE_PASSWORD);
    for (const instance of [a, b, c, control]) assert.equal((await get(instance, '/page', cookie)).status, 200, instance.name);
    assert.equal(await signOut(c.url, cookie), 303);
    for (const instance of [a, b]) {
      await waitFor(`${instance.name} refuses the ended session`, async () => (await get(instance, '/page', cookie)).status === 401);
    }
    assert.equal((await get(c, '/page', cookie)).status, 401);
    // The control cached the session too and nobody told it: it still lets it through (cache_ttl 10 min).
    assert.equal((await get(control, '/page', cookie)).status, 200, 'without the bus the ended session would still pass');
  });

  it("an admin's group change on C applies on A and B at once", async () => {
    const alice = await signIn(b.url, 'alice', ALICE_PASSWORD);
    for (const instance of [a, b, control]) assert.equal((await get(instance, '/reports/q1', alice)).status, 200, instance.name);
    const root = await signIn(c.url, 'root', ROOT_PASSWORD);
    const user = (await c.store.users.findByUsername('alice'))!;
    const form = hiddenFields(await (await fetch(`${c.url}/_dashgate/admin/users/${user.id}`, { headers: { cookie: root } })).text());
    const res = await fetch(`${c.url}/_dashgate/admin/users/${user.id}/groups`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: root, origin: c.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: form.csrf!, groups: 'finance' }),
    });
    assert.equal(res.status, 303);
    for (const instance of [a, b]) {
      await waitFor(`${instance.name} applies the new groups`, async () => (await get(instance, '/reports/q1', alice)).status === 403);
    }
    assert.equal((await get(control, '/reports/q1', alice)).status, 200, 'without the bus the old groups would still count');
    assert.equal((await get(a, '/page', alice)).status, 200, 'the session itself stays valid');
  });

  it('simultaneous bad tokens spread over the three instances are checked one at a time: exactly the free ones get 401', async () => {
    const instances = [a, b, c];
    const answers = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        fetch(`${instances[i % 3]!.url}/guess-${i}`, { headers: { accept: 'application/json', authorization: `Bearer dgt_${'a'.repeat(24)}.${String(i).padStart(43, 'b')}`, 'x-forwarded-for': '10.77.0.1' } }),
      ),
    );
    const statuses = answers.map((r) => r.status).sort();
    assert.equal(statuses.filter((s) => s === 401).length, 3, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 12, statuses.join(','));
    // The counters are the store's: every instance agrees the address must wait.
    const later = await fetch(`${c.url}/again`, { headers: { accept: 'application/json', authorization: `Bearer dgt_${'c'.repeat(24)}.${'d'.repeat(43)}`, 'x-forwarded-for': '10.77.0.1' } });
    assert.equal(later.status, 429);
  });

  it('simultaneous wrong passwords for one account over the three instances: exactly the free ones are checked', async () => {
    await createUser(a.store, 'bob', 'bobs correct password');
    const instances = [a, b, c];
    const attempts = await Promise.all(
      Array.from({ length: 9 }, async (_, i) => {
        const base = instances[i % 3]!.url;
        const fields = hiddenFields(await (await fetch(`${base}/_dashgate/login`)).text());
        const res = await fetch(`${base}/_dashgate/login`, {
          method: 'POST',
          redirect: 'manual',
          headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': `10.78.0.${i + 1}` },
          body: new URLSearchParams({ ...fields, username: 'bob', password: `wrong guess ${i}` }),
        });
        return res.status;
      }),
    );
    const failures = await a.store.throttle.get('account:bob');
    assert.equal(failures?.failures, 3, `statuses ${attempts.join(',')}`);
    assert.equal(attempts.filter((s) => s === 429).length, 6, attempts.join(','));
  });
});
