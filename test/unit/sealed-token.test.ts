/**
 * One sealed-token format for every short-lived browser token (auth/sealed-token.ts) and the four
 * users of it: the second-step challenge, the passkey ceremony, the SSO flow (and carried ID
 * token) and CSRF form tokens. Time from an injected clock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { EncryptJWT, SignJWT, UnsecuredJWT } from 'jose';
import { CsrfGuard } from '../../src/auth/csrf.js';
import { CeremonySeal } from '../../src/auth/passkeys.js';
import { TokenSealer, type SealPurpose } from '../../src/auth/sealed-token.js';
import { FlowSeal } from '../../src/auth/sso/flow-seal.js';
import { MfaChallenge } from '../../src/auth/totp.js';
import { testClock } from '../helpers/clock.js';

const PURPOSES: SealPurpose[] = ['mfa-challenge', 'passkey-register', 'passkey-login', 'sso-flow', 'sso-id-token', 'csrf-form'];
const USER = '3f2b8c1e-0000-4000-8000-000000000001';
const T0 = Date.UTC(2030, 0, 1, 12);

function setup() {
  const clock = testClock(T0);
  const secret = randomBytes(32);
  return { clock, secret, sealer: new TokenSealer(secret, clock.now) };
}

/** The same token with one character of part `part` (0–4 of a compact JWE) changed. */
function tamper(token: string, part: number): string {
  const parts = token.split('.');
  const target = parts[part]!;
  const at = Math.floor(target.length / 2);
  parts[part] = target.slice(0, at) + (target[at] === 'A' ? 'B' : 'A') + target.slice(at + 1);
  return parts.join('.');
}

describe('TokenSealer', () => {
  it('opens what it sealed, for its purpose only: a token for one purpose is refused for every other', async () => {
    const { sealer } = setup();
    for (const made of PURPOSES) {
      const token = await sealer.seal(made, { x: made }, 60_000);
      assert.match(token, /^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/, 'a compact dir JWE (no encrypted key)');
      for (const asked of PURPOSES) {
        const opened = await sealer.open(asked, token);
        if (asked === made) assert.equal(opened?.x, made);
        else assert.equal(opened, null, `a ${made} token opened as ${asked}`);
      }
    }
  });

  it('names the purpose in typ and aud, with iat and exp from the injected clock; the claims are not readable', async () => {
    const { sealer } = setup();
    const token = await sealer.seal('sso-flow', { verifier: 'the-pkce-secret' }, 600_000);
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
    assert.deepEqual(header, { alg: 'dir', enc: 'A256GCM', typ: 'dashgate-sso-flow+jwt' });
    assert.ok(!token.includes(Buffer.from('the-pkce-secret').toString('base64url').slice(0, 10)));
    const claims = await sealer.open('sso-flow', token);
    assert.deepEqual({ aud: claims?.aud, iat: claims?.iat, exp: claims?.exp }, { aud: 'sso-flow', iat: T0 / 1000, exp: T0 / 1000 + 600 });
  });

  it('refuses an expired token by the injected clock, never a sleep', async () => {
    const { sealer, clock } = setup();
    const token = await sealer.seal('mfa-challenge', {}, 5 * 60_000);
    clock.advance(5 * 60_000 - 1000);
    assert.notEqual(await sealer.open('mfa-challenge', token), null);
    clock.advance(1000);
    assert.equal(await sealer.open('mfa-challenge', token), null);
  });

  it('refuses tampered tokens (any part), another secret’s tokens, signed or unsecured JWTs and junk', async () => {
    const { sealer, clock } = setup();
    const token = await sealer.seal('csrf-form', {}, 60_000);
    for (const part of [0, 2, 3, 4]) assert.equal(await sealer.open('csrf-form', tamper(token, part)), null, `part ${part}`);
    assert.equal(await new TokenSealer(randomBytes(32), clock.now).open('csrf-form', token), null);
    const key = randomBytes(32);
    const foreign = await new EncryptJWT({}).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: 'dashgate-csrf-form+jwt' }).setAudience('csrf-form').setIssuedAt().setExpirationTime('1h').encrypt(key);
    assert.equal(await sealer.open('csrf-form', foreign), null);
    const signed = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setAudience('csrf-form').setExpirationTime('1h').sign(key);
    assert.equal(await sealer.open('csrf-form', signed), null);
    assert.equal(await sealer.open('csrf-form', new UnsecuredJWT({ aud: 'csrf-form' }).encode()), null);
    for (const junk of [undefined, null, 42, '', 'a.b.c', `${token}x`, 'x'.repeat(5000)]) assert.equal(await sealer.open('csrf-form', junk), null, String(junk).slice(0, 20));
  });

  it('refuses a secret shorter than 32 bytes with TypeError', () => {
    assert.throws(() => new TokenSealer(randomBytes(16), Date.now), TypeError);
  });
});

describe('the tokens built on it', () => {
  it('second-step challenge: the user and first factor come back; a ceremony or CSRF token is not a challenge', async () => {
    const { sealer } = setup();
    const challenge = new MfaChallenge(sealer);
    const ceremony = new CeremonySeal(sealer);
    const csrf = new CsrfGuard(sealer);
    assert.deepEqual(await challenge.open(await challenge.issue(USER, 'sso:corp')), { userId: USER, firstFactor: 'sso:corp' });
    assert.equal(await challenge.open(await ceremony.seal('login', 'c'.repeat(43), USER)), null);
    assert.equal(await challenge.open(await csrf.tokenForForm()), null);
  });

  it('passkey ceremony: bound to its purpose; a registration is not a login', async () => {
    const { sealer } = setup();
    const ceremony = new CeremonySeal(sealer);
    const register = await ceremony.seal('register', 'challenge-one', USER);
    assert.deepEqual(await ceremony.open(register, 'register'), { challenge: 'challenge-one', userId: USER });
    assert.equal(await ceremony.open(register, 'login'), null);
    assert.deepEqual(await ceremony.open(await ceremony.seal('login', 'challenge-two', null), 'login'), { challenge: 'challenge-two', userId: null });
  });

  it('SSO flow and carried ID token: each opens only as itself, and expires after FlowSeal.TTL_MS', async () => {
    const { sealer, clock } = setup();
    const seal = new FlowSeal(sealer);
    const flow = { provider: 'corp', state: 's', nonce: 'n', verifier: 'v', next: '/x' };
    const sealed = await seal.seal(flow);
    assert.deepEqual(await seal.open(sealed), flow);
    assert.equal(await seal.openIdToken(sealed), null);
    const idToken = await seal.sealIdToken('corp', 'eyJ.id.token', USER);
    assert.deepEqual(await seal.openIdToken(idToken!), { provider: 'corp', idToken: 'eyJ.id.token', userId: USER });
    assert.equal(await seal.open(idToken!), null);
    assert.equal(await seal.sealIdToken('corp', 'x'.repeat(4000), USER), null, 'too big for a cookie');
    clock.advance(FlowSeal.TTL_MS);
    assert.equal(await seal.open(sealed), null);
  });

  it('CSRF: form tokens last two hours; session tokens are bound to the session and to the key', async () => {
    const { sealer, clock, secret } = setup();
    const csrf = new CsrfGuard(sealer);
    const form = await csrf.tokenForForm();
    assert.notEqual(form, await csrf.tokenForForm(), 'every form gets its own');
    clock.advance(2 * 3_600_000 - 1000);
    assert.equal(await csrf.verifyFormToken(form), true);
    clock.advance(1000);
    assert.equal(await csrf.verifyFormToken(form), false);
    const session = csrf.tokenForSession('session-a');
    assert.equal(csrf.verifySessionToken(session, 'session-a'), true);
    assert.equal(csrf.verifySessionToken(session, 'session-b'), false);
    assert.equal(new CsrfGuard(new TokenSealer(secret, clock.now)).verifySessionToken(session, 'session-a'), true, 'every instance with the secret agrees');
    assert.equal(new CsrfGuard(new TokenSealer(randomBytes(32), clock.now)).verifySessionToken(session, 'session-a'), false);
    assert.equal(await csrf.verifyFormToken(session), false, 'a session token is not a form token');
  });
});
