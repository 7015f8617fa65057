/**
 * The other two spellings of redis.url against real servers of the test's own: rediss:// (TLS,
 * a private authority given by redis.tls_ca_file, a password from redis.password_env) and
 * redis+sentinel:// (the primary found through a Sentinel). For each, two links see each other's
 * changes; a wrong password never comes up.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { KeyedMutex } from '../../src/auth/keyed-mutex.js';
import type { SessionChange } from '../../src/auth/sessions.js';
import { createLocalBus } from '../../src/ops/change-bus.js';
import { connectConfiguredRedis, type RedisLink } from '../../src/ops/redis.js';
import { findFreePort } from '../../src/runner/free-port.js';
import { uniqueKeyPrefix, waitFor } from '../helpers/instances.js';
import { startRedisServer, startSentinel } from '../helpers/redis-server.js';

const logger = pino({ level: 'silent' });

function link(settings: { url: string; password_env?: string; tls_ca_file?: string }, env: NodeJS.ProcessEnv = {}, keyPrefix = uniqueKeyPrefix()): RedisLink {
  const made = connectConfiguredRedis({ ...settings, key_prefix: keyPrefix, outage_cache_ttl: 5000 }, { logger, env, local: createLocalBus(), localLock: new KeyedMutex() })!;
  made.start();
  return made;
}

/** Two links on one prefix: a change published by the first reaches the second. */
async function assertBusWorks(url: string, settings: { password_env?: string; tls_ca_file?: string }, env: NodeJS.ProcessEnv): Promise<void> {
  const prefix = uniqueKeyPrefix();
  const one = link({ url, ...settings }, env, prefix);
  const two = link({ url, ...settings }, env, prefix);
  try {
    await waitFor('both links up', () => one.status.up() && two.status.up());
    const heard: SessionChange[] = [];
    two.bus.subscribe((change) => heard.push(change));
    one.bus.publish({ sessionId: 'ended-here' });
    await waitFor('the change arrives', () => heard.length > 0);
    assert.deepEqual(heard, [{ sessionId: 'ended-here' }]);
    let ran = false;
    await one.lock.run(['account:tls'], async () => {
      ran = true;
    });
    assert.ok(ran);
  } finally {
    await one.close();
    await two.close();
  }
}

describe('rediss:// with a private authority and a password', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'dashgate-redis-tls-'));
  let server: Awaited<ReturnType<typeof startRedisServer>>;
  let url: string;

  before(async () => {
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=dashgate test CA');
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
    const port = await findFreePort();
    server = await startRedisServer(port, ['--port', '0', '--tls-port', String(port), '--tls-cert-file', join(dir, 'server.pem'), '--tls-key-file', join(dir, 'server.key'), '--tls-ca-cert-file', join(dir, 'ca.pem'), '--tls-auth-clients', 'no', '--requirepass', 'tls test password']);
    url = `rediss://127.0.0.1:${port}`;
  });
  after(async () => {
    await server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries changes between two links over TLS', async () => {
    await assertBusWorks(url, { password_env: 'TEST_REDIS_PASSWORD', tls_ca_file: join(dir, 'ca.pem') }, { TEST_REDIS_PASSWORD: 'tls test password' });
  });

  it('never comes up with a wrong password, or without trusting the authority', async () => {
    for (const [settings, env] of [
      [{ password_env: 'TEST_REDIS_PASSWORD', tls_ca_file: join(dir, 'ca.pem') }, { TEST_REDIS_PASSWORD: 'wrong' }],
      [{ password_env: 'TEST_REDIS_PASSWORD' }, { TEST_REDIS_PASSWORD: 'tls test password' }],
    ] as const) {
      const bad = link({ url, ...settings }, env);
      try {
        await waitFor('the link gives up on its first try', () => bad.status.state() === 'down');
        assert.equal(bad.status.up(), false);
      } finally {
        await bad.close();
      }
    }
  });
});

describe('redis+sentinel://', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'dashgate-redis-sentinel-'));
  let primary: Awaited<ReturnType<typeof startRedisServer>>;
  let sentinel: Awaited<ReturnType<typeof startSentinel>>;
  let sentinelPort: number;

  before(async () => {
    const primaryPort = await findFreePort();
    primary = await startRedisServer(primaryPort);
    sentinelPort = await findFreePort();
    const config = join(dir, 'sentinel.conf');
    writeFileSync(config, `sentinel monitor dashgate-test 127.0.0.1 ${primaryPort} 1\n`);
    sentinel = await startSentinel(sentinelPort, config);
  });
  after(async () => {
    await sentinel?.kill();
    await primary?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the primary through the Sentinel and carries changes', async () => {
    await assertBusWorks(`redis+sentinel://127.0.0.1:${sentinelPort}/dashgate-test`, {}, {});
  });

  it('a primary name the Sentinel does not know never comes up', async () => {
    const bad = link({ url: `redis+sentinel://127.0.0.1:${sentinelPort}/no-such-primary` });
    try {
      await waitFor('the link gives up on its first try', () => bad.status.state() === 'down');
    } finally {
      await bad.close();
    }
  });
});
