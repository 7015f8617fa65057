import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { describeRedisTarget, parseRedisUrl, redisOptions } from '../../src/ops/redis-url.js';

const problemsOf = (input: unknown): readonly string[] => {
  try {
    parseConfig(input);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
};

describe('redis.url', () => {
  it('reads one server, with TLS, a user and a database', () => {
    assert.deepEqual(parseRedisUrl('redis://cache.internal'), { kind: 'server', tls: false, hosts: [{ host: 'cache.internal', port: 6379 }], db: 0 });
    assert.deepEqual(parseRedisUrl('rediss://gateway@cache.internal:6380/3'), { kind: 'server', tls: true, hosts: [{ host: 'cache.internal', port: 6380 }], db: 3, username: 'gateway' });
    assert.deepEqual(parseRedisUrl('redis://[::1]:7000'), { kind: 'server', tls: false, hosts: [{ host: '::1', port: 7000 }], db: 0 });
  });

  it('reads Sentinels and the primary name', () => {
    assert.deepEqual(parseRedisUrl('redis+sentinel://s1:26379,s2,10.0.0.3:26380/mymaster/2'), {
      kind: 'sentinel',
      tls: false,
      hosts: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }, { host: '10.0.0.3', port: 26380 }],
      name: 'mymaster',
      db: 2,
    });
    const tls = parseRedisUrl('rediss+sentinel://s1/mymaster');
    assert.ok(!('problem' in tls));
    const options = redisOptions(tls, { password: 'p', sentinelPassword: 'sp' });
    assert.equal(options.name, 'mymaster');
    assert.equal(options.enableTLSForSentinelMode, true);
    assert.equal(options.sentinelPassword, 'sp');
    assert.equal(options.password, 'p');
  });

  it('refuses a password in the URL, several hosts without Sentinel, a missing primary name and junk', () => {
    for (const url of ['redis://:secret@host', 'redis://user:secret@host', 'redis://a,b', 'redis+sentinel://s1:26379', 'http://host', 'redis://host/x', 'redis://host:99999', 'redis://ho st', 'redis://host/1/2']) {
      assert.ok('problem' in parseRedisUrl(url), url);
    }
  });

  it('never puts a password in what is logged', () => {
    const target = parseRedisUrl('rediss://gateway@cache:6380/1');
    assert.ok(!('problem' in target));
    assert.equal(describeRedisTarget(target), 'rediss://cache:6380/1');
  });

  it('ioredis never queues commands while disconnected (a sign-in falls back instead of waiting)', () => {
    const target = parseRedisUrl('redis://cache');
    assert.ok(!('problem' in target));
    const options = redisOptions(target);
    assert.equal(options.enableOfflineQueue, false);
    assert.equal(options.maxRetriesPerRequest, 1);
    assert.ok(typeof options.retryStrategy === 'function' && typeof options.retryStrategy(1000) === 'number', 'reconnects forever');
  });

  it('reports every redis problem in the one config error, with its path', () => {
    const problems = problemsOf({ redis: { url: 'redis://:pw@host', key_prefix: 'has space', sentinel_password_env: 'lower' } });
    assert.ok(problems.some((p) => p.startsWith('redis.url: a password does not belong in the URL')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('redis.key_prefix:')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('redis.sentinel_password_env:')), problems.join('\n'));
    assert.deepEqual(problemsOf({ redis: { password_env: 'REDIS_PASSWORD' } }), ['redis.password_env: only applies with redis.url']);
    assert.deepEqual(problemsOf({ redis: { url: 'redis://h', sentinel_password_env: 'SENTINEL_PASSWORD' } }), ['redis.sentinel_password_env: only applies to a redis+sentinel:// URL']);
    const config = parseConfig({ redis: { url: 'redis+sentinel://s1,s2/mymaster', sentinel_password_env: 'SENTINEL_PASSWORD' } });
    assert.equal(config.redis.key_prefix, 'dashgate:');
    assert.equal(config.redis.outage_cache_ttl, 5000);
  });
});

describe('redis settings from the environment', () => {
  it('a key prefix ending in ":" stays a string (YAML would read "myapp:" as a mapping)', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const config = loadConfig({ env: { DASHGATE_REDIS__URL: 'redis://cache:6379', DASHGATE_REDIS__KEY_PREFIX: 'myapp:' } });
    assert.equal(config.redis.key_prefix, 'myapp:');
    assert.equal(config.redis.url, 'redis://cache:6379');
  });
});
