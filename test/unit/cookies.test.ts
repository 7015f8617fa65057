import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCookie, removeCookie, serializeClearedCookie, serializeScopedCookie, serializeSessionCookie, sessionCookieName } from '../../src/auth/cookies.js';

describe('session cookie attributes', () => {
  it('over plain HTTP: HttpOnly, SameSite=Lax, Path=/, no Secure, no __Host- prefix', () => {
    const cookie = serializeSessionCookie({ name: 'dashgate_session', secure: false }, 'id.secret', 3600);
    assert.equal(cookie, 'dashgate_session=id.secret; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600');
    assert.doesNotMatch(cookie, /Secure/);
    assert.doesNotMatch(cookie, /Domain=/i, 'host-only');
  });
  it('over HTTPS: __Host- prefix and Secure (browsers then require Path=/ and no Domain)', () => {
    const policy = { name: 'dashgate_session', secure: true };
    const cookie = serializeSessionCookie(policy, 'id.secret');
    assert.equal(sessionCookieName(policy), '__Host-dashgate_session');
    assert.match(cookie, /^__Host-dashgate_session=id\.secret; /);
    for (const attr of ['Path=/', 'HttpOnly', 'SameSite=Lax', 'Secure']) assert.ok(cookie.split('; ').includes(attr), attr);
    assert.doesNotMatch(cookie, /Domain=/i);
  });
  it('clearing sets an empty value with Max-Age=0 and the same attributes', () => {
    assert.equal(serializeClearedCookie({ name: 'dg', secure: true }), '__Host-dg=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0');
  });
});

describe('cookie header parsing', () => {
  it('reads one cookie among many, exact name only', () => {
    assert.equal(readCookie('a=1; dashgate_session=tok.en; b=2', 'dashgate_session'), 'tok.en');
    assert.equal(readCookie('xdashgate_session=evil; dashgate_session=good', 'dashgate_session'), 'good');
    assert.equal(readCookie('dashgate_session_x=evil', 'dashgate_session'), undefined);
    assert.equal(readCookie(undefined, 'dashgate_session'), undefined);
    assert.equal(readCookie('', 'dashgate_session'), undefined);
  });
  it('removes one cookie and keeps the others', () => {
    assert.equal(removeCookie('a=1; dashgate_session=x; b=2', 'dashgate_session'), 'a=1; b=2');
    assert.equal(removeCookie('dashgate_session=x', 'dashgate_session'), '');
  });
});

describe('same-origin check for gateway forms', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as import('node:http').IncomingMessage;
  const origin = 'https://dash.example.com';
  it('accepts same-origin posts, and clients that send neither header', async () => {
    const { isSameOriginRequest } = await import('../../src/auth/csrf.js');
    assert.equal(isSameOriginRequest(req({ origin, 'sec-fetch-site': 'same-origin' }), origin), true);
    assert.equal(isSameOriginRequest(req({}), origin), true);
  });
  it('accepts Origin: null only when Sec-Fetch-Site vouches for the same origin (no-referrer browsers)', async () => {
    const { isSameOriginRequest } = await import('../../src/auth/csrf.js');
    assert.equal(isSameOriginRequest(req({ origin: 'null', 'sec-fetch-site': 'same-origin' }), origin), true);
    assert.equal(isSameOriginRequest(req({ origin: 'null' }), origin), false);
    assert.equal(isSameOriginRequest(req({ origin: 'null', 'sec-fetch-site': 'cross-site' }), origin), false);
  });
  it('refuses other origins and cross-site fetch metadata', async () => {
    const { isSameOriginRequest } = await import('../../src/auth/csrf.js');
    assert.equal(isSameOriginRequest(req({ origin: 'https://evil.example' }), origin), false);
    assert.equal(isSameOriginRequest(req({ origin: 'http://dash.example.com' }), origin), false, 'scheme matters');
    assert.equal(isSameOriginRequest(req({ 'sec-fetch-site': 'same-site' }), origin), false, 'a sibling subdomain is another origin');
    assert.equal(isSameOriginRequest(req({ 'sec-fetch-site': 'cross-site' }), origin), false);
  });
});

describe('serializeScopedCookie', () => {
  it('scopes a ceremony cookie to its routes, HttpOnly, Lax unless asked, Secure with the session cookie', () => {
    assert.equal(serializeScopedCookie({ secure: false }, { name: 'dashgate_sso', value: 'abc', path: '/_dashgate/sso/', maxAgeSeconds: 600 }), 'dashgate_sso=abc; Path=/_dashgate/sso/; HttpOnly; SameSite=Lax; Max-Age=600');
    assert.equal(serializeScopedCookie({ secure: true }, { name: 'w', value: 'x', path: '/p', maxAgeSeconds: 299.9, sameSite: 'Strict' }), 'w=x; Path=/p; HttpOnly; SameSite=Strict; Secure; Max-Age=299');
  });
  it('removes it with an empty value and Max-Age=0', () => {
    assert.equal(serializeScopedCookie({ secure: false }, { name: 'dashgate_mfa', value: '', path: '/_dashgate/login', maxAgeSeconds: -5 }), 'dashgate_mfa=; Path=/_dashgate/login; HttpOnly; SameSite=Lax; Max-Age=0');
  });
});
