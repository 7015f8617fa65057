import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { AccessRules } from '../../src/access/rules.js';
import { parseConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { canonicalizeTarget, withoutParams } from '../../src/pipeline/canonical-path.js';
import { createUser, rawRequest, signIn, startGateway, startRecordingUpstream, type RecordedRequest, type TestGateway } from '../helpers/harness.js';

/**
 * The access rules against everything path-confusion, header and method tricks are made of. Every
 * attack is a real HTTP request through the gateway to an app that records what it receives;
 * the assertion is always about the app's side: a protected path never arrives, or arrives only
 * when the rule allowed it.
 *
 * Rules: /public/** public; /admin/** for group "admins" only; host internal.example.com denied;
 * /readonly/** GET only; default: signed in. "mallory" is signed in but not an admin.
 */
const ACCESS: ConfigInput['access'] = {
  rules: [
    { path: '/public/**', policy: 'public' },
    { path: '/admin/**', groups: ['admins'] },
    { host: 'internal.example.com', path: '/**', policy: 'deny' },
    { path: '/readonly/**', methods: ['GET'], policy: 'authenticated' },
    { path: '/readonly/**', policy: 'deny' },
  ],
};
const PASSWORD = 'a long enough passphrase';

/** How an app reads a received path: decode once, resolve dot segments; and a servlet container's reading, which also drops ";params". */
function appViews(url: string): string[] {
  const path = url.split('?')[0]!;
  const decoded: string[] = [];
  for (const part of path.split('/').slice(1).map((s) => { try { return decodeURIComponent(s); } catch { return s; } })) {
    if (part === '..') decoded.pop();
    else if (part !== '.' && part !== '') decoded.push(part);
  }
  const plain = `/${decoded.join('/')}`;
  return [plain, withoutParams(plain)];
}
const isAdminPath = (url: string) => appViews(url).some((view) => view === '/admin' || view.startsWith('/admin/'));

describe('access rules cannot be bypassed', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let mallory: string;
  let admin: string;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, { access: ACCESS });
    await createUser(gw.store, 'mallory', PASSWORD);
    await createUser(gw.store, 'root', PASSWORD, { groups: ['admins'] });
    mallory = await signIn(gw.url, 'mallory', PASSWORD);
    admin = await signIn(gw.url, 'root', PASSWORD);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function attempt(target: string, options: { method?: string; headers?: Record<string, string>; cookie?: string | null } = {}) {
    const before = upstream.requests.length;
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    const cookie = options.cookie === undefined ? mallory : options.cookie;
    if (cookie) headers.cookie = cookie;
    const res = await rawRequest(gw.url, target, { method: options.method ?? 'GET', headers });
    return { res, reached: upstream.requests.slice(before) };
  }

  function assertNeverReachesAdmin(target: string, res: { status: number }, reached: RecordedRequest[]) {
    // Refused, or passed on as a path that, read by the app, is not /admin (e.g. "/admin#x" is a
    // literal segment: the app receives "/admin%23x").
    for (const r of reached) assert.ok(!isAdminPath(r.url), `${target} reached the app as ${r.url}`);
    if (reached.length === 0) assert.ok(res.status >= 400, `${target} answered ${res.status} without reaching the app`);
  }

  it('the baseline holds: mallory is refused /admin, an admin is let through', async () => {
    const refused = await attempt('/admin/panel');
    assert.equal(refused.res.status, 403);
    assert.equal(refused.reached.length, 0);
    const allowed = await attempt('/admin/panel', { cookie: admin });
    assert.equal(allowed.res.status, 200);
    assert.equal(allowed.reached[0]!.url, '/admin/panel');
  });

  const encodings = ['/admin%2fpanel', '/public%2f..%2fadmin', '/public/..%2fadmin', '/public/..%2Fadmin', '/public%5c..%5cadmin', '/public/..%5cadmin', '/public/%252e%252e/admin', '/public/..%252fadmin'];
  const dots = ['/public/../admin', '/public/%2e%2e/admin', '/public/%2E%2E/admin', '/public/.%2e/admin', '/public/%2e./admin', '/public/./../admin', '/public/..;/admin', '/public/..;x=1/admin', '/public/.;/../admin', '/public;/../admin', '/x/../../admin'];
  const slashes = ['//admin', '///admin/panel', '/public//../admin', '/admin/', '/./admin'];
  const params = ['/admin;x=1', '/admin;x=1/panel', '/;x/admin', '/;/admin', '/admin;'];
  const fragments = ['/admin#x', '/admin%23x/../panel', '/public%23/../admin', '/admin?x=/public', '/admin?/public/../x', '/public/x?/../../admin'];
  const bytes = ['/admin%00', '/public%00/../admin', '/admin%0a', '/admin%0d%0aX-Forwarded-User:%20root', '/public/%c0%ae%c0%ae/admin', '/admin%ff', '/public/%e0%80%ae%e0%80%ae/admin'];
  for (const [family, targets] of Object.entries({ 'encoded slashes and backslashes': encodings, 'dot segments': dots, 'repeated slashes': slashes, ';params': params, 'fragments and queries': fragments, 'NUL, control bytes and invalid UTF-8': bytes })) {
    it(`${family} never reach /admin`, async () => {
      for (const target of targets) {
        const { res, reached } = await attempt(target);
        assertNeverReachesAdmin(target, res, reached);
      }
    });
  }

  it('anonymous callers cannot climb out of the public prefix', async () => {
    for (const target of ['/public/../secret', '/public/%2e%2e/secret', '/public/..;/secret', '/public;/../secret', '/public%2f..%2fsecret']) {
      const { res, reached } = await attempt(target, { cookie: null });
      assert.ok(res.status === 400 || res.status === 401, `${target} -> ${res.status}`);
      assert.equal(reached.length, 0, `${target} reached the app`);
    }
    const open = await attempt('/public/page', { cookie: null });
    assert.equal(open.res.status, 200);
  });

  it('client-sent path overrides are ignored for the decision and never reach the app', async () => {
    const overrides = ['X-Forwarded-Uri', 'X-Original-URL', 'X-Rewrite-URL', 'X-Forwarded-Prefix', 'X-Original-URI', 'X-Forwarded-Path'];
    for (const name of overrides) {
      const denied = await attempt('/admin/panel', { headers: { [name]: '/public/x' } });
      assert.equal(denied.res.status, 403, `${name} changed the decision`);
      const sneaked = await attempt('/public/x', { headers: { [name]: '/admin/panel' }, cookie: null });
      assert.equal(sneaked.res.status, 200);
      assert.equal(sneaked.reached[0]!.headers[name.toLowerCase()], undefined, `${name} reached the app`);
    }
  });

  it('Host-header tricks do not escape a host rule', async () => {
    for (const host of ['internal.example.com', 'INTERNAL.Example.COM', 'internal.example.com.', 'internal.example.com:8000']) {
      const { res, reached } = await attempt('/x', { headers: { host } });
      assert.equal(res.status, 403, host);
      assert.equal(reached.length, 0, host);
    }
    // An absolute-form target naming one host while Host names another is refused outright.
    const split = await attempt('http://internal.example.com/x', { headers: { host: 'dash.example.com' } });
    assert.equal(split.res.status, 400);
    assert.equal(split.reached.length, 0);
    // An unparsable Host used to match no host rule while the app saw it as sent (the malformed-port
    // bypass, test/security/upgrade-and-host-bypass.test.ts): it is refused now.
    const userinfo = await attempt('/x', { headers: { host: 'dash.example.com@internal.example.com' } });
    assert.equal(userinfo.res.status, 400);
    assert.equal(userinfo.reached.length, 0);
  });

  it('absolute-form targets are judged by their path', async () => {
    const url = new URL(gw.url);
    for (const target of [`http://${url.host}/admin/panel`, `http://${url.host}/public/../admin`, `HTTP://${url.host}/admin`]) {
      const { res, reached } = await attempt(target, { headers: { host: url.host } });
      assertNeverReachesAdmin(target, res, reached);
    }
  });

  it('X-Forwarded-For from an untrusted peer is neither believed nor passed on', async () => {
    const { reached } = await attempt('/public/x', { headers: { 'x-forwarded-for': '10.0.0.1, 127.0.0.2', 'x-real-ip': '10.0.0.1', forwarded: 'for=10.0.0.1' }, cookie: null });
    assert.equal(reached[0]!.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(reached[0]!.headers['x-real-ip'], undefined);
    assert.equal(reached[0]!.headers.forwarded, undefined);
  });

  it('method tricks: HEAD and OPTIONS are judged, overrides are stripped', async () => {
    for (const method of ['HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH', 'POST']) {
      const { res, reached } = await attempt('/admin/panel', { method });
      assert.equal(res.status, 403, method);
      assert.equal(reached.length, 0, method);
    }
    for (const name of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override', 'x_http_method_override']) {
      const posted = await attempt('/readonly/doc', { method: 'POST', headers: { [name]: 'GET' } });
      assert.equal(posted.res.status, 403, `${name} turned a POST into a GET`);
      const got = await attempt('/readonly/doc', { headers: { [name]: 'DELETE' } });
      assert.equal(got.res.status, 200);
      assert.equal(got.reached[0]!.headers[name.toLowerCase()], undefined, `${name} reached the app`);
    }
    const head = await attempt('/readonly/doc', { method: 'HEAD' });
    assert.equal(head.res.status, 200, 'GET rules cover HEAD');
  });

  it('identity headers in every spelling are replaced on every route, public ones included', async () => {
    for (const cookie of [null, mallory]) {
      const before = upstream.requests.length;
      await new Promise<void>((resolve, reject) => {
        const url = new URL(gw.url);
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.write(
            'GET /public/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n' +
              (cookie ? `Cookie: ${cookie}\r\n` : '') +
              'X-Forwarded-User: root\r\nx_forwarded_user: root\r\nX-FORWARDED-GROUPS: admins\r\nRemote-User: root\r\nremote_user: root\r\n' +
              'X-Dashgate-Jwt: forged\r\nX-Dashgate-User: root\r\nX-Auth-Request-User: root\r\nX-Remote-User: root\r\n\r\n',
          );
        });
        socket.resume();
        socket.on('end', resolve);
        socket.on('error', reject);
      });
      const seen = upstream.requests[before]!;
      const values = seen.rawHeaders.join('\n');
      assert.ok(!/root|admins|forged/.test(values), `client identity reached the app:\n${values}`);
      assert.equal(seen.headers['x-forwarded-user'], cookie ? 'mallory' : undefined);
    }
  });
});

describe('property: the rule the gateway applies is the rule for the path the app receives', () => {
  const rules = new AccessRules(parseConfig({ upstream: 'http://127.0.0.1:1', access: ACCESS }));
  const pieces = ['admin', 'public', 'x', '.', '..', '%2e', '%2E%2e', '.%2e', '%2f', '%5c', '%252f', ';', ';x=1', '..;', '%3b', '#', '%23', '%00', '%20', '%c3%a9', '%ff', '*'];
  const segment = fc.array(fc.constantFrom(...pieces), { minLength: 0, maxLength: 3 }).map((parts) => parts.join(''));
  const target = fc.tuple(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.boolean()).map(([segments, extra]) => `${extra ? '/' : ''}/${segments.join('/')}`);

  it('for every accepted target, the plain and the servlet reading of the forwarded path get the same rule', () => {
    fc.assert(
      fc.property(target, fc.constantFrom('GET', 'POST', 'HEAD'), (raw, method) => {
        let judged;
        try {
          judged = canonicalizeTarget(raw);
        } catch {
          return;
        }
        const decided = rules.match({ matchPath: judged.matchPath, hostname: 'dash.example.com', method });
        for (const view of appViews(judged.wirePath)) {
          const appSide = rules.match({ matchPath: withoutParams(view), hostname: 'dash.example.com', method });
          assert.equal(appSide.index, decided.index, `${raw}: gateway applied rule ${decided.index} to ${judged.matchPath}, app reads ${view} (rule ${appSide.index})`);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
