import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestsEqual, generateToken, hashSecret, splitToken } from '../../src/auth/tokens.js';

describe('session tokens', () => {
  it('are <id>.<secret> with a 256-bit base64url secret', () => {
    const { token, id, secret } = generateToken();
    assert.equal(token, `${id}.${secret}`);
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(secret, 'base64url').length, 32);
  });
  it('regression: ids never start with "-", which a command line reads as an option (dashgate invite revoke -0mET…)', () => {
    // 1 in 64 ids started with "-" before; 5000 draws miss it with probability ~1e-34.
    for (let i = 0; i < 5000; i++) assert.ok(!generateToken().id.startsWith('-'));
  });
  it('are different every time', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => generateToken().token));
    assert.equal(seen.size, 1000);
  });
  it('split only in their exact shape', () => {
    const { token, id, secret } = generateToken();
    assert.deepEqual(splitToken(token), { id, secret });
    for (const bad of ['', '.', `${id}.`, `.${secret}`, `${id}.${secret}.x`, `${id}${secret}`, `${id}.${secret}=`, `${id} .${secret}`]) {
      assert.equal(splitToken(bad), null, bad);
    }
  });
  it('store only SHA-256 of the secret, compared in constant time', () => {
    const { secret } = generateToken();
    const digest = hashSecret(secret);
    assert.match(digest, /^[0-9a-f]{64}$/);
    assert.notEqual(digest, secret);
    assert.equal(digestsEqual(digest, hashSecret(secret)), true);
    assert.equal(digestsEqual(digest, hashSecret(`${secret}x`)), false);
    assert.equal(digestsEqual(digest, ''), false);
    assert.equal(digestsEqual('', ''), false, 'two empty digests never match');
  });
});
