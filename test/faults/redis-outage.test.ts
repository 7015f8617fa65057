/**
 * Redis stopped mid-run (a redis-server of this test's own, killed and started again): the
 * instances go on from the store, never more open. No access without a valid session; readiness
 * says degraded (200); one warning per outage; a sign-out is still honoured everywhere, later
 * (the session cache falls back to redis.outage_cache_ttl although session.cache_ttl is 10 min);
 * sign-in still works; and when Redis is back they recover by themselves: the bus carries a
 * sign-out at once again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findFreePort } from '../../src/runner/free-port.js';
import { ALICE_PASSWORD, createUser, signIn, startRecordingUpstream } from '../helpers/harness.js';
import { signOut, startInstances, uniqueKeyPrefix, waitFor, type Instance } from '../helpers/instances.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { valueOf } from '../helpers/prometheus.js';

describe('Redis stopped mid-run', { timeout: 120_000 }, () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let running: Awaited<ReturnType<typeof startInstances>>;
  let server: Awaited<ReturnType<typeof startRedisServer>> | null = null;
  let a: Instance, b: Instance;
  let port: number;

  before(async () => {
    port = await findFreePort();
    server = await startRedisServer(port);
    upstream = await startRecordingUpstream();
    const redis = { url: `redis://127.0.0.1:${port}`, key_prefix: uniqueKeyPrefix(), outage_cache_ttl: '1s' };
    running = await startInstances(upstream.url, { session: { cache_ttl: '10m' }, redis, metrics: { listen: '127.0.0.1:0' } }, [{ name: 'A' }, { name: 'B' }]);
    [a, b] = running.instances as [Instance, Instance];
    await createUser(a.store, 'alice', ALICE_PASSWORD);
    await waitFor('both instances see Redis up', () => a.gateway.redis!.up() && b.gateway.redis!.up());
  });
  after(async () => {
    await running?.close();
    await upstream?.close();
    await server?.kill();
  });

  const get = (instance: Instance, path: string, cookie?: string) => fetch(`${instance.url}${path}`, { headers: { accept: 'application/json', ...(cookie ? { cookie } : {}) } });
  const readiness = async (instance: Instance) => {
    const res = await fetch(`${instance.url}/_dashgate/ready`);
    return { status: res.status, body: (await res.json()) as { status: string; parts: Record<string, string> } };
  };
  const outageWarnings = (instance: Instance) => instance.logs.filter((line) => String(line.msg).startsWith('Redis is unreachable')).length;

  it('falls back to the store while Redis is down and recovers by itself when it returns', async () => {
    // Cached by both with Redis up (a 10-minute cache).
    const early = await signIn(a.url, 'alice', ALICE_PASSWORD);
    // `quiet` is cached by B and then not used on B until Redis is back.
    const quiet = await signIn(a.url, 'alice', ALICE_PASSWORD);
    for (const instance of [a, b]) for (const cookie of [early, quiet]) assert.equal((await get(instance, '/page', cookie)).status, 200);

    await server!.kill();
    server = null;
    await waitFor('both instances notice Redis is gone', () => a.gateway.redis!.state() === 'down' && b.gateway.redis!.state() === 'down');

    // Metrics say so too.
    const down = await a.gateway.metrics!.registry.metrics();
    assert.equal(valueOf(down, 'dashgate_redis_up'), 0);
    assert.equal(valueOf(down, 'dashgate_redis_outages_total'), a.gateway.redis!.counters().outages);
    assert.ok(valueOf(down, 'dashgate_redis_outages_total') >= 1);

    // Readiness: degraded, still 200 (the gateway serves, from the store).
    const ready = await readiness(a);
    assert.equal(ready.status, 200);
    assert.equal(ready.body.status, 'degraded');
    assert.equal(ready.body.parts.redis, 'degraded');
    assert.equal(ready.body.parts.store, 'ok');

    // Never more open: no session, a forged one, or a made-up token get nothing.
    for (const instance of [a, b]) {
      assert.equal((await get(instance, '/page')).status, 401);
      assert.equal((await get(instance, '/page', `dashgate_session=${'x'.repeat(22)}.${'y'.repeat(43)}`)).status, 401);
    }
    // Signing in still works (the credential lock falls back to the instance's own).
    const during = await signIn(b.url, 'alice', ALICE_PASSWORD);
    assert.equal((await get(a, '/page', during)).status, 200);

    // A sign-out on A reaches B through the store once B's shortened cache runs out, although
    // session.cache_ttl is 10 minutes and no message can be sent.
    assert.equal((await get(b, '/page', early)).status, 200, 'B still has the session cached');
    assert.equal(await signOut(a.url, early), 303);
    await waitFor('B refuses the session ended on A during the outage', async () => (await get(b, '/page', early)).status === 401);
    assert.ok(b.gateway.redis!.counters().outages >= 1);
    // Ended where no message could come from (an instance that stopped before it could publish):
    // straight in the store.
    await a.store.sessions.delete(quiet.split('=')[1]!.split('.')[0]!);

    // Redis returns on the same address: both reconnect, re-subscribe and say so.
    server = await startRedisServer(port);
    await waitFor('both instances see Redis again', () => a.gateway.redis!.up() && b.gateway.redis!.up());
    const back = await readiness(b);
    assert.equal(valueOf(await a.gateway.metrics!.registry.metrics(), 'dashgate_redis_up'), 1);
    await waitFor('readiness says ok again', async () => (await readiness(b)).body.status === 'ok');
    assert.ok(back.status === 200);
    for (const instance of [a, b]) {
      assert.equal(outageWarnings(instance), 1, `${instance.name}: one warning for the outage, not one per failure`);
      assert.ok(instance.logs.some((line) => String(line.msg).startsWith('Redis is reachable again')), `${instance.name} says it recovered`);
    }

    // B may have missed changes while Redis was down: coming back, it dropped what it had cached,
    // so `quiet` (cached before the outage, ended during it without a message) is not believed
    // under the 10-minute cache again.
    assert.equal((await get(b, '/page', quiet)).status, 401);

    // The bus works again: cached on A with Redis up (10 minutes), signed out on B, refused by A.
    const after = await signIn(b.url, 'alice', ALICE_PASSWORD);
    assert.equal((await get(a, '/page', after)).status, 200);
    assert.equal(await signOut(b.url, after), 303);
    await waitFor('A refuses the session ended on B, via the bus', async () => (await get(a, '/page', after)).status === 401);
    // The session signed in during the outage is still good on both.
    for (const instance of [a, b]) assert.equal((await get(instance, '/page', during)).status, 200);
  });
});
