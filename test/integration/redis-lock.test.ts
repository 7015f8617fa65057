/**
 * The credential lock across instances, against the shared Redis (a key prefix of its own):
 * two links exclude each other on overlapping keys, a holder whose keys expired and were taken
 * by another never deletes the other's (compare-and-delete), and a password named by
 * redis.password_env that is not set stops start-up with the usual config error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Redis } from 'ioredis';
import { KeyedMutex } from '../../src/auth/keyed-mutex.js';
import { ConfigError } from '../../src/errors.js';
import { createLocalBus } from '../../src/ops/change-bus.js';
import { connectConfiguredRedis, connectRedis, type RedisLink } from '../../src/ops/redis.js';
import { parseRedisUrl, type RedisTarget } from '../../src/ops/redis-url.js';
import { uniqueKeyPrefix, waitFor } from '../helpers/instances.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the Redis credential lock', () => {
  const keyPrefix = uniqueKeyPrefix();
  const target = parseRedisUrl('redis://127.0.0.1:6379') as RedisTarget;
  const logger = pino({ level: 'silent' });
  let one: RedisLink, two: RedisLink;
  let probe: Redis;

  before(async () => {
    one = connectRedis({ target, keyPrefix, logger, local: createLocalBus(), localLock: new KeyedMutex() });
    two = connectRedis({ target, keyPrefix, logger, local: createLocalBus(), localLock: new KeyedMutex() });
    one.start();
    two.start();
    probe = new Redis({ host: '127.0.0.1', port: 6379 });
    await waitFor('both links up', () => one.status.up() && two.status.up());
  });
  after(async () => {
    await one.close();
    await two.close();
    const keys = await probe.keys(`${keyPrefix}*`);
    if (keys.length) await probe.del(...keys);
    probe.disconnect();
  });

  it('two instances holding overlapping keys run one after the other', async () => {
    const holding = new Map<string, string[]>();
    const clashes: string[] = [];
    let together = 0;
    const hold = (link: RedisLink, keys: string[], name: string) =>
      link.lock.run(keys, async () => {
        for (const [other, theirs] of holding) if (theirs.some((k) => keys.includes(k))) clashes.push(`${name} with ${other}`);
        holding.set(name, keys);
        together = Math.max(together, holding.size);
        await sleep(30);
        holding.delete(name);
      });
    await Promise.all([hold(one, ['account:x', 'ip:1'], 'a'), hold(two, ['ip:1', 'account:y'], 'b'), hold(one, ['ip:1'], 'c'), hold(two, ['account:x'], 'd'), hold(two, ['account:w'], 'e')]);
    assert.deepEqual(clashes, [], 'no two holders of one key at once');
    assert.ok(together >= 2, 'holders of different keys do not wait for each other');
    assert.deepEqual(await probe.keys(`${keyPrefix}lock:*`), [], 'every key released');
  });

  it('a holder whose key was taken over (it expired) does not delete the new holder\'s key', async () => {
    const key = `${keyPrefix}lock:account:z`;
    await one.lock.run(['account:z'], async () => {
      assert.ok((await probe.pttl(key)) > 0, 'held with an expiry');
      // What an expiry followed by another instance's acquire leaves behind.
      await probe.set(key, 'someone-else', 'PX', 10_000);
    });
    assert.equal(await probe.get(key), 'someone-else');
    await probe.del(key);
  });

  it('a password variable that is named but not set stops start-up', () => {
    assert.throws(
      () => connectConfiguredRedis({ url: 'redis://127.0.0.1:6379', password_env: 'DASHGATE_TEST_NO_SUCH_VAR', key_prefix: keyPrefix, outage_cache_ttl: 5000 }, { logger, env: {}, local: createLocalBus(), localLock: new KeyedMutex() }),
      (err: unknown) => err instanceof ConfigError && err.problems[0] === 'redis.password_env: the environment variable DASHGATE_TEST_NO_SUCH_VAR is not set',
    );
  });
});
