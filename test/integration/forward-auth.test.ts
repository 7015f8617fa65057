import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { REPO_ROOT } from '../helpers/browser.js';
import { caddySite, nginxServerBlock } from '../helpers/front-proxy.js';
import { createUser, rawRequest, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

/**
 * The forward-auth endpoint in-process, the way nginx, Caddy and Traefik ask it: the gateway
 * trusts 127.0.0.1 as its front proxy. Rules: /public/** public, /finance/** for group finance,
 * host internal.example.com denied, /readonly/** GET only; default: signed in.
 * alice is in finance, bob is not.
 */
const PASSWORD = 'a long enough passphrase';
const APP = 'app.example.com';

let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
let gw: TestGateway;
let untrusted: TestGateway;
let alice: string;
let bob: string;

before(async () => {
  upstream = await startRecordingUpstream();
  gw = await startGateway(upstream.url, {
    server: { trusted_proxies: ['127.0.0.1'] },
    forward_auth: { enabled: true, allowed_origins: ['https://app.example.com'] },
    access: {
      rules: [
        { path: '/public/**', policy: 'public' },
        { path: '/finance/**', groups: ['finance'] },
        { host: 'internal.example.com', path: '/**', policy: 'deny' },
        { path: '/readonly/**', methods: ['GET'], policy: 'authenticated' },
        { path: '/readonly/**', policy: 'deny' },
      ],
    },
  });
  await createUser(gw.store, 'alice', PASSWORD, { groups: ['finance'], email: 'alice@example.com', displayName: 'Alice A' });
  await createUser(gw.store, 'bob', PASSWORD);
  alice = await signIn(gw.url, 'alice', PASSWORD);
  bob = await signIn(gw.url, 'bob', PASSWORD);
  // The same gateway setup, but its front proxy is elsewhere: 127.0.0.1 is just a client.
  untrusted = await startGateway(upstream.url, { server: { trusted_proxies: ['10.9.9.9'] }, forward_auth: { enabled: true } });
});

after(async () => {
  await gw?.close();
  await untrusted?.close();
  await upstream?.close();
});

/** A forward-auth check as Caddy sends it: the original request in X-Forwarded-*, the client's headers as they were. */
function check(uri: string, options: { method?: string; host?: string; proto?: string; cookie?: string; headers?: Record<string, string>; path?: string; base?: string } = {}) {
  return rawRequest(options.base ?? gw.url, options.path ?? '/_dashgate/auth', {
    headers: {
      'x-forwarded-method': options.method ?? 'GET',
      'x-forwarded-proto': options.proto ?? 'https',
      'x-forwarded-host': options.host ?? APP,
      'x-forwarded-uri': uri,
      accept: 'text/html',
      ...(options.cookie ? { cookie: options.cookie } : {}),
      ...options.headers,
    },
  });
}

/** One request with headers exactly as listed (repeats included), on a raw socket. */
function rawLines(base: string, lines: string[]): Promise<{ status: number; head: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n\r\n')) {
        socket.destroy();
        resolve({ status: Number(data.split(' ')[1]), head: data.split('\r\n\r\n')[0]! });
      }
    });
    socket.on('error', reject);
  });
}

describe('forward-auth: verdicts', () => {
  const table: Array<{ name: string; uri: string; as?: 'alice' | 'bob'; method?: string; host?: string; accept?: string; status: number; code?: string }> = [
    { name: 'public path, anonymous', uri: '/public/page', status: 200 },
    { name: 'protected page, anonymous browser', uri: '/reports?q=1', status: 303, code: 'login-required' },
    { name: 'protected page, anonymous script', uri: '/reports', accept: 'application/json', status: 401, code: 'login-required' },
    { name: 'a Dash route is scripted', uri: '/_dash-layout', status: 401, code: 'login-required' },
    { name: 'signed in, default rule', uri: '/reports', as: 'bob', status: 200 },
    { name: 'group rule, member', uri: '/finance/q3', as: 'alice', status: 200 },
    { name: 'group rule, not a member', uri: '/finance/q3', as: 'bob', status: 403, code: 'forbidden' },
    { name: 'denied host', uri: '/x', host: 'internal.example.com', status: 403, code: 'forbidden' },
    { name: 'host judged is X-Forwarded-Host, not Host', uri: '/x', host: 'internal.example.com', as: 'alice', status: 403, code: 'forbidden' },
    { name: 'denied host with a port and upper case', uri: '/x', host: 'INTERNAL.example.com:8443', as: 'alice', status: 403, code: 'forbidden' },
    { name: 'original method judged: GET allowed', uri: '/readonly/a', as: 'bob', status: 200 },
    { name: 'original method judged: POST denied', uri: '/readonly/a', method: 'POST', as: 'bob', status: 403, code: 'forbidden' },
    { name: 'encoded path is decoded once', uri: '/fin%61nce/q3', as: 'bob', status: 403, code: 'forbidden' },
    { name: 'params never end a match', uri: '/finance;x=1/q3', as: 'bob', status: 403, code: 'forbidden' },
    { name: 'params in front never end a match', uri: '/;x/finance/q3', as: 'bob', status: 403, code: 'forbidden' },
    { name: 'repeated slashes are merged', uri: '//finance//q3', as: 'bob', status: 403, code: 'forbidden' },
    { name: 'encoded # stays in its segment: not the public prefix', uri: '/public%23/../x', status: 400, code: 'bad_path' },
    { name: 'encoded # in a segment is not /public', uri: '/public%23x', status: 303, code: 'login-required' },
    { name: 'raw # refused', uri: '/finance#/../public/x', as: 'bob', status: 400, code: 'bad_path' },
    { name: 'raw # after a public prefix refused', uri: '/public/x#frag', status: 400, code: 'bad_path' },
    { name: 'dot segments refused', uri: '/public/../finance/q3', as: 'bob', status: 400, code: 'bad_path' },
    { name: 'encoded dot segments refused', uri: '/public/%2e%2e/finance/q3', as: 'bob', status: 400, code: 'bad_path' },
    { name: 'single dot segment refused', uri: '/./finance', status: 400, code: 'bad_path' },
    { name: '..;/ refused', uri: '/public/..;/finance', status: 400, code: 'bad_path' },
    { name: 'encoded slash refused', uri: '/public%2f..%2ffinance', status: 400, code: 'bad_path' },
    { name: 'encoded backslash refused', uri: '/public%5cx', status: 400, code: 'bad_path' },
    { name: 'malformed escape refused', uri: '/a%zz', status: 400, code: 'bad_path' },
    { name: 'NUL refused', uri: '/public%00/x', status: 400, code: 'bad_path' },
    { name: 'absolute form reduced to its path', uri: 'https://app.example.com/finance/q3', as: 'bob', status: 403, code: 'forbidden' },
    { name: 'absolute form naming another host refused', uri: 'https://internal.example.com/x', as: 'alice', status: 400, code: 'bad_request' },
    { name: 'asterisk form refused', uri: '*', status: 400, code: 'bad_path' },
    { name: 'relative URI refused', uri: 'public/x', status: 400, code: 'bad_path' },
    { name: 'lower-case method refused', uri: '/public/x', method: 'get', status: 400, code: 'forward_auth_headers' },
    { name: 'host with userinfo refused', uri: '/public/x', host: 'evil@app.example.com', status: 400, code: 'forward_auth_headers' },
    { name: 'two hosts in one header refused', uri: '/public/x', host: 'app.example.com, internal.example.com', status: 400, code: 'forward_auth_headers' },
    { name: "the gateway's own pages are not judged here", uri: '/_dashgate/login', status: 400, code: 'forward_auth_own_path' },
    { name: 'a Dash callback is judged by its body: refused', uri: '/_dash-update-component', method: 'POST', as: 'alice', status: 403, code: 'forward_auth_needs_body' },
    { name: 'an anonymous Dash callback still needs sign-in first', uri: '/_dash-update-component', method: 'POST', status: 401, code: 'login-required' },
    { name: "Dash's WebSocket callbacks are judged by their messages: refused", uri: '/_dash-ws-callback', as: 'alice', status: 403, code: 'forward_auth_needs_body' },
    { name: "Dash's MCP endpoint is refused while rules exist", uri: '/_mcp', method: 'POST', as: 'alice', status: 403, code: 'mcp_refused' },
  ];
  for (const row of table) {
    it(row.name, async () => {
      const cookie = row.as === 'alice' ? alice : row.as === 'bob' ? bob : undefined;
      const res = await check(row.uri, { ...(row.method ? { method: row.method } : {}), ...(row.host ? { host: row.host } : {}), ...(cookie ? { cookie } : {}), headers: row.accept ? { accept: row.accept } : {} });
      assert.equal(res.status, row.status, `${row.uri}: ${res.body}`);
      if (row.code) assert.equal(res.headers['x-dashgate'], row.code);
    });
  }
  it('no check ever reached the app', () => {
    assert.deepEqual(upstream.requests.filter((r) => !r.url.startsWith('/_dash-dependencies')), []);
  });
});

describe('forward-auth: the answer', () => {
  it('allowed: 200 with the identity headers and the signed JWT, as proxy mode sends them', async () => {
    const res = await check('/finance/q3', { cookie: alice });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-forwarded-user'], 'alice');
    assert.equal(res.headers['remote-user'], 'alice');
    assert.equal(res.headers['x-forwarded-email'], 'alice@example.com');
    assert.equal(res.headers['x-forwarded-groups'], 'finance');
    assert.equal(res.headers['x-forwarded-preferred-username'], 'Alice A');
    assert.match(String(res.headers['x-dashgate-jwt']), /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(res.headers['cache-control'], 'no-store');
  });
  it('allowed anonymously (public path): no identity headers at all', async () => {
    const res = await check('/public/x');
    assert.equal(res.status, 200);
    // Present and empty: a front proxy copying them then overwrites whatever the client sent.
    assert.equal(res.headers['x-forwarded-user'], '');
    assert.equal(res.headers['remote-user'], '');
    assert.equal(res.headers['x-dashgate-jwt'], '');
  });
  it('HEAD is answered like GET, without a body', async () => {
    const res = await rawRequest(gw.url, '/_dashgate/auth', { method: 'HEAD', headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': APP, 'x-forwarded-uri': '/finance/x', cookie: alice } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-forwarded-user'], 'alice');
  });
  it('sign-in redirect carries the original absolute URL when its origin is configured', async () => {
    const res = await check('/reports/q3?tab=2');
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, `/_dashgate/login?next=${encodeURIComponent('https://app.example.com/reports/q3?tab=2')}`);
  });
  it('sign-in redirect carries only the path when the origin is not configured (the sign-in page is on the same host)', async () => {
    const res = await check('/reports/q3?tab=2', { host: 'other.example.com' });
    assert.equal(res.headers.location, `/_dashgate/login?next=${encodeURIComponent('/reports/q3?tab=2')}`);
    const plain = await check('/reports', { proto: 'http' });
    assert.equal(plain.headers.location, `/_dashgate/login?next=${encodeURIComponent('/reports')}`);
  });
  it('nginx style: never a redirect; 401 with X-Dashgate-Redirect for a browser, plain 401 for a script', async () => {
    const browser = await check('/reports', { path: '/_dashgate/auth/nginx' });
    assert.equal(browser.status, 401);
    assert.equal(browser.headers.location, undefined);
    assert.equal(browser.headers['x-dashgate-redirect'], `/_dashgate/login?next=${encodeURIComponent('https://app.example.com/reports')}`);
    const script = await check('/reports', { path: '/_dashgate/auth/nginx', headers: { accept: 'application/json' } });
    assert.equal(script.status, 401);
    assert.equal(script.headers['x-dashgate-redirect'], undefined);
    const forbidden = await check('/finance/x', { path: '/_dashgate/auth/nginx', cookie: bob });
    assert.equal(forbidden.status, 403);
    // auth_request turns anything but 2xx/401/403 into a 500: client errors become 403, their code kept.
    const bad = await check('/a/../finance', { path: '/_dashgate/auth/nginx' });
    assert.equal(bad.status, 403);
    assert.equal(bad.headers['x-dashgate'], 'bad_path');
  });
  it('a revoked session is refused at once', async () => {
    const carol = await createUser(gw.store, 'carol', PASSWORD);
    const cookie = await signIn(gw.url, 'carol', PASSWORD);
    assert.equal((await check('/reports', { cookie })).status, 200);
    await gw.gateway.sessions.invalidateUserSessions(carol.id);
    assert.equal((await check('/reports', { cookie })).status, 303);
  });
  it('a failed API token is audited once per check, and throttled like a proxied request', async () => {
    const before = (await gw.store.audit.list({ limit: 1000 })).filter((e) => e.action === 'token.failure').length;
    const res = await check('/reports', { headers: { authorization: 'Bearer dgt_notarealtoken_xxxxxxxxxxxxxxxxxxxxxxxx' } });
    assert.equal(res.status, 401);
    assert.equal(res.headers['x-dashgate'], 'invalid-credentials');
    const afterCount = (await gw.store.audit.list({ limit: 1000 })).filter((e) => e.action === 'token.failure').length;
    assert.equal(afterCount - before, 1);
  });
});

describe('forward-auth: who may ask', () => {
  it('a peer not in server.trusted_proxies is refused (403), whatever its headers say', async () => {
    const res = await check('/public/x', { base: untrusted.url });
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-dashgate'], 'forward_auth_untrusted');
  });
  it('a spoofed X-Forwarded-Uri naming a public path from an untrusted peer is refused, never read', async () => {
    const res = await check('/public/x', { base: untrusted.url, headers: { 'x-original-url': '/public/x' } });
    assert.equal(res.status, 403);
  });
  it('missing forwarded headers are refused (400)', async () => {
    for (const missing of ['x-forwarded-method', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-uri']) {
      const headers: Record<string, string> = { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': APP, 'x-forwarded-uri': '/public/x' };
      delete headers[missing];
      const res = await rawRequest(gw.url, '/_dashgate/auth', { headers });
      assert.equal(res.status, 400, missing);
      assert.equal(res.headers['x-dashgate'], 'forward_auth_headers');
    }
  });
  it('a path or method override (X-Original-URL, X-Rewrite-URL, X-HTTP-Method-Override, …) is refused, never read (the app might read it)', async () => {
    for (const [name, value] of [['x-original-url', '/public/x'], ['x-original-uri', '/public/x'], ['x-rewrite-url', '/public/x'], ['x-original-method', 'GET'], ['x-http-method-override', 'DELETE'], ['x-http-method', 'DELETE'], ['x-method-override', 'DELETE']] as const) {
      for (const uri of ['/finance/q3', '/public/x']) {
        const res = await check(uri, { cookie: alice, headers: { [name]: value } });
        assert.equal(res.status, 400, `${name} on ${uri}`);
        assert.equal(res.headers['x-dashgate'], 'forward_auth_reserved_header');
      }
    }
    // Without X-Forwarded-Uri the check is refused, even with X-Original-URL present.
    const only = await rawRequest(gw.url, '/_dashgate/auth', { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': APP, 'x-original-url': '/public/x' } });
    assert.equal(only.status, 400);
  });
  it('a client\'s identity header, in any spelling, is refused even on a public path (the front proxy might pass it to the app)', async () => {
    for (const name of ['X-Forwarded-User', 'x_forwarded_user', 'Remote_User', 'Remote-Groups', 'X-Forwarded-Groups', 'X-Dashgate-Jwt', 'x_dashgate_app_token', 'X-Auth-Request-User', 'X-User', 'X_Forwarded_Uri', 'X_Forwarded_Host', 'x_real_ip', 'X-Original-Path']) {
      const res = await check('/public/x', { headers: { [name]: 'alice' } });
      assert.equal(res.status, 400, name);
      assert.equal(res.headers['x-dashgate'], 'forward_auth_reserved_header', name);
    }
    // What front proxies themselves add is fine.
    const ok = await check('/public/x', { headers: { 'x-forwarded-for': '203.0.113.9', 'x-real-ip': '203.0.113.9', forwarded: 'for=203.0.113.9', 'x-forwarded-port': '443', 'x-request-id': 'abcdefgh1234' } });
    assert.equal(ok.status, 200);
  });
  it('an unknown X-Forwarded-Proto is refused', async () => {
    assert.equal((await check('/public/x', { proto: 'gopher' })).status, 400);
  });
  for (const name of ['X-Forwarded-Uri', 'X-Forwarded-Method', 'X-Forwarded-Host', 'X-Forwarded-Proto']) {
    it(`a repeated ${name} is refused (400), even when the copies agree`, async () => {
      const values: Record<string, string> = { 'X-Forwarded-Uri': '/public/x', 'X-Forwarded-Method': 'GET', 'X-Forwarded-Host': APP, 'X-Forwarded-Proto': 'https' };
      const lines = ['GET /_dashgate/auth HTTP/1.1', `Host: ${new URL(gw.url).host}`, ...Object.entries(values).map(([n, v]) => `${n}: ${v}`), `${name.toLowerCase()}: ${name === 'X-Forwarded-Uri' ? '/public/x' : values[name]}`, 'Connection: close'];
      const res = await rawLines(gw.url, lines);
      assert.equal(res.status, 400);
      assert.match(res.head, /x-dashgate: forward_auth_headers/i);
    });
  }
  it('regression: raw bytes beyond ASCII in X-Forwarded-Uri are refused (raw UTF-8 "/données" was judged as latin1 "/donnÃ©es" and matched no rule)', async () => {
    for (const uri of ['/données/report', '/public/\u00a0x', '/fin\u0430nce/q3']) {
      const res = await rawLines(gw.url, ['GET /_dashgate/auth HTTP/1.1', 'Host: gw', 'X-Forwarded-Method: GET', 'X-Forwarded-Proto: https', `X-Forwarded-Host: ${APP}`, `X-Forwarded-Uri: ${uri}`, `Cookie: ${bob}`]);
      assert.equal(res.status, 400, uri);
      assert.match(res.head, /x-dashgate: bad_path/i, uri);
    }
  });
  it('regression: an X-Forwarded-Proto naming an Object property (constructor, __proto__) is malformed, not https', async () => {
    for (const proto of ['constructor', '__proto__', 'toString']) {
      const res = await check('/public/x', { proto });
      assert.equal(res.status, 400, proto);
      assert.match(String(res.headers['x-dashgate']), /forward_auth_headers/);
    }
  });
  it('a POST to the endpoint is refused', async () => {
    const res = await rawRequest(gw.url, '/_dashgate/auth', { method: 'POST', headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': APP, 'x-forwarded-uri': '/public/x' } });
    assert.equal(res.status, 400);
  });
  it('other spellings of the endpoint are not the endpoint', async () => {
    for (const path of ['/_dashgate/auth/', '//_dashgate/auth', '/_dashgate/./auth', '/_dashgate/Auth']) {
      const res = await check('/public/x', { path });
      assert.notEqual(res.status, 200, path);
    }
  });
});

describe('forward-auth: configuration', () => {
  it('is off unless enabled: the path is an unknown own route', async () => {
    const off = await startGateway(upstream.url, { server: { trusted_proxies: ['127.0.0.1'] } });
    try {
      const res = await check('/public/x', { base: off.url });
      assert.equal(res.status, 404);
    } finally {
      await off.close();
    }
  });
  it('enabled without trusted proxies, or with callback rules, does not start', () => {
    assert.throws(() => parseConfig({ upstream: 'http://127.0.0.1:1', forward_auth: { enabled: true } }), (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('forward_auth.enabled:')));
    assert.throws(
      () => parseConfig({ upstream: 'http://127.0.0.1:1', server: { trusted_proxies: ['127.0.0.1'] }, forward_auth: { enabled: true }, dash: { callbacks: [{ outputs: ['salary.data'], groups: ['hr'] }] } }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('dash.callbacks:')),
    );
  });
  it('docs/forward-auth.md shows exactly the nginx and Caddy configs the end-to-end tests run', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs/forward-auth.md'), 'utf8');
    const addresses = { port: 8080, gateway: '127.0.0.1:8000', app: '127.0.0.1:8050' };
    assert.ok(doc.includes(nginxServerBlock(addresses).replace(/^ {4}/gm, '').trim()), 'nginx block differs from test/helpers/front-proxy.ts');
    assert.ok(doc.includes(caddySite(addresses).trim()), 'Caddy site differs from test/helpers/front-proxy.ts');
  });
  it('allowed_origins must be origins', () => {
    assert.throws(() => parseConfig({ upstream: 'http://127.0.0.1:1', forward_auth: { allowed_origins: ['https://app.example.com/path'] } }), ConfigError);
    assert.throws(() => parseConfig({ upstream: 'http://127.0.0.1:1', forward_auth: { allowed_origins: ['javascript:alert(1)'] } }), ConfigError);
    assert.deepEqual(parseConfig({ upstream: 'http://127.0.0.1:1', forward_auth: { allowed_origins: ['https://App.Example.com/'] } }).forward_auth.allowed_origins, ['https://app.example.com']);
  });
});

describe('forward-auth: the redirect after sign-in goes only to a configured origin', () => {
  async function signInWithNext(next: string): Promise<string | undefined> {
    const page = await fetch(`${gw.url}/_dashgate/login?next=${encodeURIComponent(next)}`);
    const html = await page.text();
    const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')]));
    const res = await fetch(`${gw.url}/_dashgate/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, next, username: 'bob', password: PASSWORD }),
    });
    assert.equal(res.status, 303);
    return res.headers.get('location') ?? undefined;
  }
  it('the original URL on a configured origin', async () => {
    assert.equal(await signInWithNext('https://app.example.com/reports/q3?tab=2'), 'https://app.example.com/reports/q3?tab=2');
  });
  it('already signed in: the sign-in page sends the browser on, to configured origins only', async () => {
    const ok = await fetch(`${gw.url}/_dashgate/login?next=${encodeURIComponent('https://app.example.com/x')}`, { redirect: 'manual', headers: { cookie: bob } });
    assert.equal(ok.headers.get('location'), 'https://app.example.com/x');
    const evil = await fetch(`${gw.url}/_dashgate/login?next=${encodeURIComponent('https://evil.example/x')}`, { redirect: 'manual', headers: { cookie: bob } });
    assert.equal(evil.headers.get('location'), '/');
  });
  for (const attack of ['https://evil.example/', 'https://app.example.com.evil.example/', 'https://app.example.com@evil.example/', 'http://app.example.com/', '//evil.example/', '/\\evil.example', 'https:evil.example', 'javascript:alert(1)', 'data:text/html,x']) {
    it(`refuses ${attack} (regression: open redirect)`, async () => {
      assert.equal(await signInWithNext(attack), '/');
    });
  }
});
