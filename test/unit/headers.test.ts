import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildUpstreamHeaders, filterResponseHeaders, isReservedHeader } from '../../src/pipeline/headers.js';
import type { Identity } from '../../src/pipeline/identify.js';
import type { RequestScope } from '../../src/pipeline/scope.js';

const scope: RequestScope = { id: 'req-12345678', path: '/', matchPath: '/', wirePath: '/', query: '', clientIp: '203.0.113.9', peerIp: '203.0.113.9', peerTrusted: false, proto: 'http', host: 'dash.example.com', hostname: 'dash.example.com' };
const alice: Identity = {
  kind: 'user',
  user: { id: 'u1', username: 'alice', displayName: 'Alice A.', email: 'alice@example.com', isAdmin: false, status: 'active', groups: ['analysts', 'finance'], createdAt: 0 },
  session: { id: 's1', userId: 'u1', createdAt: 0, expiresAt: 1, lastSeenAt: 0, authMethod: 'password' },
};
const options = { cookieName: 'dashgate_session' };

describe('identity header stripping', () => {
  const spoofed = [
    'X-Forwarded-User', 'x-forwarded-user', 'X_Forwarded_User', 'x_forwarded_user', 'X-FORWARDED-USER', 'x-Forwarded_user',
    'Remote-User', 'remote_user', 'REMOTE_USER', 'Remote-Email', 'remote_groups', 'X-Forwarded-Groups', 'x_forwarded_email',
    'X-Forwarded-Preferred-Username', 'x_forwarded_preferred_username', 'Remote-Name', 'X-Dashgate-Jwt', 'x_dashgate_jwt', 'X-Dashgate-Anything',
    'X-Forwarded-Uri', 'X-Original-URL', 'x_original_url', 'X-Rewrite-URL', 'X-Forwarded-Prefix', 'X-Real-IP', 'Forwarded', 'X-Forwarded-Host', 'X-Auth-Request-User',
  ];
  it('recognises every spelling as reserved', () => {
    for (const name of spoofed) assert.equal(isReservedHeader(name), true, name);
    for (const name of ['accept', 'content-type', 'x-forwarded-something-else', 'authorization', 'user-agent', 'remote-addr-x']) assert.equal(isReservedHeader(name), false, name);
  });
  it('drops client-sent spellings for anonymous callers (nothing reaches the app)', () => {
    const incoming = Object.fromEntries(spoofed.map((name) => [name.toLowerCase(), 'mallory']));
    const out = buildUpstreamHeaders(incoming, scope, { kind: 'anonymous' }, options);
    for (const name of Object.keys(out)) assert.ok(!Object.values(out).includes('mallory') || !isReservedHeader(name), `${name} leaked`);
    assert.equal(Object.values(out).includes('mallory'), false);
  });
  it('replaces them with the real identity for a signed-in user', () => {
    const incoming = Object.fromEntries(spoofed.map((name) => [name.toLowerCase(), 'mallory']));
    const out = buildUpstreamHeaders(incoming, scope, alice, options);
    assert.equal(out['x-forwarded-user'], 'alice');
    assert.equal(out['remote-user'], 'alice');
    assert.equal(out['x-forwarded-email'], 'alice@example.com');
    assert.equal(out['remote-email'], 'alice@example.com');
    assert.equal(out['x-forwarded-preferred-username'], 'Alice A.');
    assert.equal(out['remote-name'], 'Alice A.');
    assert.equal(out['x-forwarded-groups'], 'analysts,finance');
    assert.equal(out['remote-groups'], 'analysts,finance');
    assert.equal(out['x_forwarded_user'], undefined);
    assert.equal(out['remote_user'], undefined);
    assert.equal(Object.values(out).includes('mallory'), false);
  });
  it('sets the forwarding chain from what the gateway saw, not from the client', () => {
    const out = buildUpstreamHeaders({ 'x-forwarded-for': '10.0.0.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil' }, scope, alice, options);
    assert.equal(out['x-forwarded-for'], '203.0.113.9');
    assert.equal(out['x-forwarded-proto'], 'http');
    assert.equal(out['x-forwarded-host'], 'dash.example.com');
  });
  it('appends to the chain when the peer is a trusted proxy', () => {
    const out = buildUpstreamHeaders({ 'x-forwarded-for': '198.51.100.7' }, { ...scope, peerIp: '10.0.0.2', peerTrusted: true, clientIp: '198.51.100.7' }, alice, options);
    assert.equal(out['x-forwarded-for'], '198.51.100.7, 10.0.0.2');
  });
  it('removes hop-by-hop headers and those named in Connection', () => {
    const out = buildUpstreamHeaders(
      { connection: 'keep-alive, x-secret-hop', 'keep-alive': 'timeout=5', te: 'trailers', 'transfer-encoding': 'chunked', upgrade: 'h2c', 'proxy-authorization': 'Basic x', 'x-secret-hop': '1', accept: 'text/html' },
      scope,
      alice,
      options,
    );
    for (const name of ['connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'x-secret-hop']) assert.equal(out[name], undefined, name);
    assert.equal(out.accept, 'text/html');
  });
  it("removes the gateway's session cookie and keeps the app's own cookies", () => {
    const out = buildUpstreamHeaders({ cookie: 'theme=dark; dashgate_session=abc.def; lang=fr' }, scope, alice, options);
    assert.equal(out.cookie, 'theme=dark; lang=fr');
    const only = buildUpstreamHeaders({ cookie: 'dashgate_session=abc.def' }, scope, alice, options);
    assert.equal(only.cookie, undefined);
  });
  it('percent-encodes non-ASCII identity values (header values must be ASCII)', () => {
    if (alice.kind !== 'user') throw new Error('fixture');
    const zoe: Identity = { ...alice, user: { ...alice.user, username: 'zoë', displayName: 'Zoë Ünal', groups: ['équipe'] } };
    const out = buildUpstreamHeaders({}, scope, zoe, options);
    assert.equal(out['x-forwarded-user'], 'zo%C3%AB');
    assert.equal(decodeURIComponent(out['x-forwarded-preferred-username'] as string), 'Zoë Ünal');
    assert.equal(out['x-forwarded-groups'], '%C3%A9quipe');
  });
});

describe('response header filtering', () => {
  it('drops hop-by-hop headers from the app and keeps the rest', () => {
    const out = filterResponseHeaders({ connection: 'close, x-hop', 'x-hop': '1', 'transfer-encoding': 'chunked', 'keep-alive': 'x', 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/html' });
    assert.deepEqual(out, { 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/html' });
  });
});

describe('page helper injection', () => {
  it('goes right after <head>, so a "</head>" inside an inline script is left alone', async () => {
    const { injectIntoHtml } = await import('../../src/proxy/page-helper.js');
    const page = Buffer.from('<html><head lang="x"><script>var s = "</head>";</script></head><body></body></html>');
    const out = injectIntoHtml(page, Buffer.from('<script src="h.js"></script>')).toString();
    assert.equal(out, '<html><head lang="x"><script src="h.js"></script><script>var s = "</head>";</script></head><body></body></html>');
    assert.equal(injectIntoHtml(Buffer.from('<header>x</header><body>y</body>'), Buffer.from('T')).toString(), '<header>x</header><body>yT</body>', '<header> is not <head>');
    assert.equal(injectIntoHtml(Buffer.from('plain'), Buffer.from('T')).toString(), 'plainT');
  });
  it('keeps bytes of non-ASCII pages intact', async () => {
    const { injectIntoHtml } = await import('../../src/proxy/page-helper.js');
    const page = Buffer.from('<head></head><body>Zoë — 日本</body>', 'utf8');
    assert.equal(injectIntoHtml(page, Buffer.from('T')).toString('utf8'), '<head>T</head><body>Zoë — 日本</body>');
  });
});
