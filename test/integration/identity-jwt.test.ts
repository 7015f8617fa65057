import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { rotateIdentityKeys } from '../../src/auth/identity-jwt.js';
import { createUser, signIn, startGateway, startRecordingUpstream, type TestGateway, startSignedIn } from '../helpers/harness.js';

describe('signed identity: X-Dashgate-Jwt and the JWKS', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let cookie: string;
  let t = Date.now();

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, { server: { public_url: 'http://dash.test' }, identity_jwt: { audience: 'sales-app' } }, { now: () => t });
    await createUser(gw.store, 'alice', 'correct horse battery', { email: 'alice@example.com', displayName: 'Alice A.', groups: ['analysts'] });
    cookie = await signIn(gw.url, 'alice', 'correct horse battery');
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function jwks(): Promise<JSONWebKeySet> {
    const res = await fetch(`${gw.url}/_dashgate/.well-known/jwks.json`);
    assert.equal(res.status, 200);
    return (await res.json()) as JSONWebKeySet;
  }

  async function tokenOfNextRequest(): Promise<string> {
    await fetch(`${gw.url}/x`, { headers: { cookie } });
    const token = upstream.requests.at(-1)!.headers['x-dashgate-jwt'];
    assert.equal(typeof token, 'string');
    return token as string;
  }

  it('publishes only public Ed25519 keys', async () => {
    const { keys } = await jwks();
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.kty, 'OKP');
    assert.equal(keys[0]!.crv, 'Ed25519');
    assert.equal(keys[0]!.alg, 'EdDSA');
    assert.equal((keys[0] as { d?: string }).d, undefined, 'no private part');
  });

  it('hands the app a short-lived token that verifies against the JWKS, with the identity claims', async () => {
    const token = await tokenOfNextRequest();
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(await jwks()), { issuer: 'http://dash.test', audience: 'sales-app', currentDate: new Date(t) });
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.equal(payload.sub, (await gw.store.users.findByUsername('alice'))!.id);
    assert.equal(payload.username, 'alice');
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.name, 'Alice A.');
    assert.deepEqual(payload.groups, ['analysts']);
    assert.ok(payload.exp! - payload.iat! <= 300, 'at most five minutes');
  });

  it('is refused with the wrong audience or after it expires', async () => {
    const token = await tokenOfNextRequest();
    const keySet = createLocalJWKSet(await jwks());
    await assert.rejects(jwtVerify(token, keySet, { issuer: 'http://dash.test', audience: 'other-app', currentDate: new Date(t) }), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    await assert.rejects(jwtVerify(token, keySet, { issuer: 'http://dash.test', audience: 'sales-app', currentDate: new Date(t + 301_000) }), { code: 'ERR_JWT_EXPIRED' });
  });

  it('reuses a token for half its life, and re-issues it when the groups change', async () => {
    const first = await tokenOfNextRequest();
    assert.equal(await tokenOfNextRequest(), first, 'no signing per request');
    const alice = (await gw.store.users.findByUsername('alice'))!;
    await gw.store.users.setGroups(alice.id, ['analysts', 'finance']);
    gw.gateway.sessions.forgetUser(alice.id);
    const second = await tokenOfNextRequest();
    assert.notEqual(second, first);
    const { payload } = await jwtVerify(second, createLocalJWKSet(await jwks()), { audience: 'sales-app', currentDate: new Date(t) });
    assert.deepEqual(payload.groups, ['analysts', 'finance']);
  });

  it('strips a client-sent X-Dashgate-Jwt and sends none for anonymous callers', async () => {
    await fetch(`${gw.url}/x`, { headers: { cookie, 'x-dashgate-jwt': 'forged', x_dashgate_jwt: 'forged' } });
    assert.notEqual(upstream.requests.at(-1)!.headers['x-dashgate-jwt'], 'forged');
    assert.equal(upstream.requests.at(-1)!.headers['x_dashgate_jwt'], undefined);
  });

  it('rotates keys with overlap: new tokens use the new key, the old key stays published', async () => {
    const before = await tokenOfNextRequest();
    const oldKid = decodeProtectedHeader(before).kid;
    const newKid = await rotateIdentityKeys(gw.store, () => t);
    await gw.gateway.identityTokens!.reload();
    const after = await tokenOfNextRequest();
    assert.equal(decodeProtectedHeader(after).kid, newKid);
    const keySet = await jwks();
    assert.deepEqual(keySet.keys.map((k) => k.kid).sort(), [oldKid, newKid].sort());
    await jwtVerify(before, createLocalJWKSet(keySet), { audience: 'sales-app', currentDate: new Date(t) });
    t += 25 * 3_600_000;
    await gw.gateway.identityTokens!.reload();
    assert.deepEqual((await jwks()).keys.map((k) => k.kid), [newKid], 'retired key dropped after a day');
  });
});

describe('identity JWT switched off', () => {
  it('sends no X-Dashgate-Jwt and has no JWKS', async () => {
    const { upstream, gw, cookie, close } = await startSignedIn({ config: { identity_jwt: { enabled: false } } });
    try {
      await fetch(`${gw.url}/x`, { headers: { cookie } });
      assert.equal(upstream.requests.at(-1)!.headers['x-dashgate-jwt'], undefined);
      assert.equal((await fetch(`${gw.url}/_dashgate/.well-known/jwks.json`)).status, 404);
    } finally {
      await close();
    }
  });
});
