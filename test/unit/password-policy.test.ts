import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { passwordProblem } from '../../src/auth/password-policy.js';
import { hashPassword, needsRehash, verifyPassword } from '../../src/auth/passwords.js';

const policy = { minLength: 8, maxLength: 1024 };

describe('passwordProblem (NIST SP 800-63B rev 4)', () => {
  it('refuses passwords shorter than the minimum, counting characters not bytes', async () => {
    assert.match(await passwordProblem('short1!', policy) ?? '', /at least 8/);
    assert.match((await passwordProblem('ünïcödé', policy)) ?? '', /at least 8/, '7 characters even though 11 bytes');
    assert.equal(await passwordProblem('ünïcödéé', policy), null);
  });
  it('accepts 64 characters and more, with no composition rules', async () => {
    assert.equal(await passwordProblem('a quite long passphrase '.repeat(3).slice(0, 64), policy), null);
    assert.equal(await passwordProblem('x'.repeat(10) + 'y'.repeat(990), policy), null);
    assert.equal(await passwordProblem('alllowercaseletters', policy), null, 'no "must contain a digit" rule');
  });
  it('refuses passwords over the maximum', async () => {
    assert.match(await passwordProblem('ab'.repeat(600), policy) ?? '', /at most 1024/);
  });
  it('refuses common passwords, whatever their case', async () => {
    assert.match(await passwordProblem('password', policy) ?? '', /commonly used/);
    assert.match(await passwordProblem('PassWord', policy) ?? '', /commonly used/);
    assert.match(await passwordProblem('12345678', policy) ?? '', /commonly used/);
    assert.match(await passwordProblem('qwertyuiop', policy) ?? '', /commonly used/);
  });
  it('refuses a single repeated character and the username itself', async () => {
    assert.notEqual(await passwordProblem('aaaaaaaaaa', policy), null);
    assert.match(await passwordProblem('alice-the-admin', policy, ['alice-the-admin']) ?? '', /username/);
  });
  it('honours a configured larger minimum', async () => {
    assert.notEqual(await passwordProblem('fourteen chars', { minLength: 15, maxLength: 1024 }), null);
    assert.equal(await passwordProblem('fifteen chars!!', { minLength: 15, maxLength: 1024 }), null);
  });
});

describe('password hashing', () => {
  it('produces argon2id with at least m=19456, t=2, p=1 and verifies', async () => {
    const hash = await hashPassword('correct horse battery');
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await verifyPassword(hash, 'correct horse battery'), true);
    assert.equal(await verifyPassword(hash, 'correct horse batterY'), false);
    assert.equal(needsRehash(hash), false);
  });
  it('never truncates: a long password differs from its prefix', async () => {
    const long = 'p'.repeat(200) + 'tail';
    const hash = await hashPassword(long);
    assert.equal(await verifyPassword(hash, 'p'.repeat(200)), false);
    assert.equal(await verifyPassword(hash, long), true);
  });
  it('verifies legacy bcrypt (htpasswd -B) hashes and asks for a rehash', async () => {
    // htpasswd -nbB alice 'correct horse battery'
    const { hash: bcryptHash } = await import('@node-rs/bcrypt');
    const legacy = (await bcryptHash('correct horse battery', 5)).replace(/^\$2b\$/, '$2y$');
    assert.equal(await verifyPassword(legacy, 'correct horse battery'), true);
    assert.equal(await verifyPassword(legacy, 'wrong'), false);
    assert.equal(needsRehash(legacy), true);
  });
  it('refuses bcrypt verification of passwords over 72 bytes (bcrypt would ignore the rest)', async () => {
    const { hash: bcryptHash } = await import('@node-rs/bcrypt');
    const base = 'b'.repeat(72);
    const legacy = await bcryptHash(base, 4);
    assert.equal(await verifyPassword(legacy, base + 'anything'), false);
  });
  it('treats an unknown hash format as not matching', async () => {
    assert.equal(await verifyPassword('$apr1$abc$def', 'x'), false);
    assert.equal(await verifyPassword('plaintext', 'plaintext'), false);
  });
});
