import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { KeyedLock } from '../auth/keyed-mutex.js';
import { GatewayError } from '../errors.js';

/**
 * The credential checks' lock across instances. The throttle checks the counters, verifies the
 * credential and records the failure under it; without it, simultaneous guesses sent to two
 * instances would each pass the check before either counted.
 *
 * Taken in two steps: the instance's own lock first (so one waiter per key per instance asks
 * Redis), then every key at once in Redis, all or none (one Lua script, so two holders of
 * overlapping keys never deadlock), each `SET` with a random token and an expiry, renewed while
 * the work runs (a check may wait for a password-hash slot). Released by compare-and-delete: a
 * holder whose keys expired and were taken by another never deletes the other's. Redis down:
 * the instance's own lock alone (the failure counters are still the store's, so every failure
 * still counts; only guesses that reach several instances at the same moment are no longer
 * checked strictly one at a time).
 */

const TTL_MS = 10_000;
const RENEW_MS = 3000;
/** A holder that died frees its keys after TTL_MS; waiting longer than that means something is wrong. */
const MAX_WAIT_MS = 15_000;

const ACQUIRE = `
for i = 1, #KEYS do
  if redis.call('exists', KEYS[i]) == 1 then return 0 end
end
for i = 1, #KEYS do
  redis.call('set', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
return 1`;

const RELEASE = `
local n = 0
for i = 1, #KEYS do
  if redis.call('get', KEYS[i]) == ARGV[1] then n = n + redis.call('del', KEYS[i]) end
end
return n`;

const RENEW = `
local n = 0
for i = 1, #KEYS do
  if redis.call('get', KEYS[i]) == ARGV[1] then n = n + redis.call('pexpire', KEYS[i], ARGV[2]) end
end
return n`;

type LockCommands = {
  dashgateLockAcquire(numKeys: number, ...args: string[]): Promise<number>;
  dashgateLockRelease(numKeys: number, ...args: string[]): Promise<number>;
  dashgateLockRenew(numKeys: number, ...args: string[]): Promise<number>;
};

export function createRedisLock(options: { redis: Redis; keyPrefix: string; local: KeyedLock; isUp: () => boolean; onError: (err: unknown) => void; ttlMs?: number }): KeyedLock {
  const ttlMs = options.ttlMs ?? TTL_MS;
  options.redis.defineCommand('dashgateLockAcquire', { lua: ACQUIRE });
  options.redis.defineCommand('dashgateLockRelease', { lua: RELEASE });
  options.redis.defineCommand('dashgateLockRenew', { lua: RENEW });
  const redis = options.redis as unknown as Redis & LockCommands;

  /** True once held; false when Redis failed (the caller goes on under the local lock alone). */
  async function acquire(keys: string[], token: string): Promise<boolean> {
    const deadline = Date.now() + MAX_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      let got: number;
      try {
        got = await redis.dashgateLockAcquire(keys.length, ...keys, token, String(ttlMs));
      } catch (err) {
        options.onError(err);
        return false;
      }
      if (got === 1) return true;
      if (Date.now() > deadline) throw new GatewayError('SIGN_IN_BUSY', { message: 'the credential lock stayed taken for 15 s' });
      // Another instance checks a credential for the same account or address: a few milliseconds.
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 ** attempt) + Math.random() * 5));
    }
  }

  return {
    run(keys, work) {
      return options.local.run(keys, async () => {
        if (!options.isUp()) return work();
        const redisKeys = [...new Set(keys)].sort().map((key) => `${options.keyPrefix}lock:${key}`);
        const token = randomBytes(16).toString('base64url');
        if (!(await acquire(redisKeys, token))) return work();
        const renew = setInterval(() => {
          redis.dashgateLockRenew(redisKeys.length, ...redisKeys, token, String(ttlMs)).catch(options.onError);
        }, Math.min(RENEW_MS, ttlMs / 3));
        renew.unref();
        try {
          return await work();
        } finally {
          clearInterval(renew);
          // A release that fails leaves the keys to expire (at most TTL_MS).
          await redis.dashgateLockRelease(redisKeys.length, ...redisKeys, token).catch(options.onError);
        }
      });
    },
  };
}
