import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configurePasswordHashing, hashPassword, passwordHashingLoad, verifyPassword } from '../../src/auth/passwords.js';
import { GatewayError } from '../../src/errors.js';

describe('the password hashing budget', () => {
  it('runs at most max_concurrent_hashes at once, queues up to hash_queue, and refuses the rest with SIGN_IN_BUSY', async () => {
    const stored = await hashPassword('a password to check');
    configurePasswordHashing({ maxConcurrent: 1, maxQueued: 3 });
    try {
      let peak = 0;
      const watch = setInterval(() => (peak = Math.max(peak, passwordHashingLoad().running)), 1);
      const attempts = Array.from({ length: 8 }, () => verifyPassword(stored, 'a password to check').then((ok) => ({ ok }), (err: unknown) => ({ err })));
      // Right after starting: one runs, three wait, four were refused at once.
      assert.deepEqual({ running: passwordHashingLoad().running, queued: passwordHashingLoad().queued }, { running: 1, queued: 3 });
      const results = await Promise.all(attempts);
      clearInterval(watch);
      assert.equal(results.filter((r) => 'ok' in r && r.ok).length, 4, 'the running and the queued ones finish and verify');
      const refused = results.filter((r) => 'err' in r);
      assert.equal(refused.length, 4);
      for (const r of refused) assert.ok((r as { err: unknown }).err instanceof GatewayError && ((r as { err: GatewayError }).err.code === 'SIGN_IN_BUSY'));
      assert.equal(peak <= 1, true, `at most one ran at once (saw ${peak})`);
      assert.deepEqual({ running: passwordHashingLoad().running, queued: passwordHashingLoad().queued }, { running: 0, queued: 0 }, 'every slot is given back');
    } finally {
      configurePasswordHashing({ maxConcurrent: 2, maxQueued: 64 });
    }
  });
});
