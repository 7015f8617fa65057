/** SignInThrottle.attempt and spend on a real SQLite store, time from an injected clock. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { failed, passed, SignInThrottle } from '../../src/auth/throttle.js';
import { openStore, type Store } from '../../src/store/store.js';
import { testClock } from '../helpers/clock.js';

async function setup(t: TestContext): Promise<{ store: Store; clock: ReturnType<typeof testClock>; throttle: SignInThrottle; reads: () => number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-throttle-'));
  const clock = testClock(Date.UTC(2030, 0, 1));
  const store = await openStore({ dataDir, now: clock.now });
  t.after(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  let reads = 0;
  const get = store.throttle.get.bind(store.throttle);
  store.throttle.get = (key) => {
    reads++;
    return get(key);
  };
  return { store, clock, throttle: new SignInThrottle(store, { accountFreeFailures: 2, ipFreeFailures: 5, maxDelayMs: 8000, windowMs: 60_000 }, clock.now), reads: () => reads };
}

const wrong = async () => failed('wrong');
const right = async () => passed('ok');

describe('SignInThrottle.attempt', () => {
  it('counts failures per account, then makes the account wait 1 s, 2 s … without running the check; another account is not affected', async (t) => {
    const { throttle, clock } = await setup(t);
    const keys = { account: 'alice', ip: '203.0.113.1' };
    for (let i = 0; i < 2; i++) assert.deepEqual(await throttle.attempt('password', keys, wrong), { ok: false, throttled: false, failure: 'wrong' });
    let ran = false;
    assert.deepEqual(await throttle.attempt('password', keys, async () => ((ran = true), passed('ok'))), { ok: false, throttled: true, retryAfterMs: 1000 });
    assert.equal(ran, false, 'a throttled attempt never runs its check');
    assert.deepEqual(await throttle.attempt('password', { account: 'bob', ip: '203.0.113.1' }, right), { ok: true, value: 'ok' });
    clock.advance(1000);
    await throttle.attempt('password', keys, wrong);
    assert.deepEqual(await throttle.attempt('password', keys, right), { ok: false, throttled: true, retryAfterMs: 2000 });
  });

  it('a success clears the account’s counter for passwords and second factors, not for address-only kinds', async (t) => {
    const { throttle, store } = await setup(t);
    await throttle.attempt('password', { account: 'alice', ip: 'a' }, wrong);
    await throttle.attempt('password', { account: 'alice', ip: 'a' }, right);
    assert.equal(await store.throttle.get('account:alice'), null);
    await throttle.attempt('basic', { account: 'alice', ip: 'a' }, wrong);
    assert.equal((await store.throttle.get('account:alice'))?.failures, 1, 'Basic and the form share one budget');
    await throttle.attempt('passkey', { ip: 'b' }, wrong);
    await throttle.attempt('passkey', { ip: 'b' }, right);
    assert.equal((await store.throttle.get('account:passkey:b'))?.failures, 1);
  });

  it('optimistic: a valid credential from an address without failures reads no counter; once one fails, the address is checked first', async (t) => {
    const { throttle, reads } = await setup(t);
    for (let i = 0; i < 10; i++) assert.equal((await throttle.attempt('api_token', { ip: 'c' }, right, { optimistic: true })).ok, true);
    assert.equal(reads(), 0);
    await throttle.attempt('api_token', { ip: 'c' }, wrong, { optimistic: true });
    const before = reads();
    await throttle.attempt('api_token', { ip: 'c' }, right, { optimistic: true });
    assert.ok(reads() > before, 'a suspect address pays for the lookup');
  });

  it('spend counts every use, allowed or not; forgive clears an account', async (t) => {
    const { throttle, store } = await setup(t);
    const verdicts = [];
    for (let i = 0; i < 4; i++) verdicts.push((await throttle.spend('reset_request', { account: 'alice', ip: 'd' })).allowed);
    assert.deepEqual(verdicts, [true, true, false, false]);
    assert.equal((await store.throttle.get('account:reset:alice'))?.failures, 4);
    assert.equal((await store.throttle.get('ip:d')), null, 'reset requests do not count against sign-in from the address');
    await throttle.attempt('password', { account: 'alice', ip: 'e' }, wrong);
    await throttle.forgive('password', 'alice');
    assert.equal(await store.throttle.get('account:alice'), null);
  });
});
