/**
 * nginx (`auth_request`) and Caddy (`forward_auth`) from Debian's packages in front of a real
 * Dash app under gunicorn, with Dashgate as their authentication service, configured as
 * docs/forward-auth.md shows (test/helpers/front-proxy.ts): the sign-in round trip, identity
 * headers reaching the app, refused users kept out; then the bypass suite through both proxies
 * against an app that records every request, asserting that no request reaches a protected path.
 *
 * Both proxies connect from 127.0.0.1, the gateway's trusted proxy; the "untrusted peer" of the
 * tests connects from 127.0.0.3.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { withoutParams } from '../../src/pipeline/canonical-path.js';
import { findFreePort } from '../../src/runner/free-port.js';
import { expectText, holdToLoopback, launchChromium, startGunicorn, stopProcessGroup } from '../helpers/browser.js';
import { caddySite, nginxServerBlock, startCaddy, startNginx, type FrontProxy } from '../helpers/front-proxy.js';
import { createUser, hiddenFields, rawRequest, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'a long enough passphrase';

let dash: ChildProcess | undefined;
let dashLogDir: string;
let recorder: Awaited<ReturnType<typeof startRecordingUpstream>>;
/** In front of the Dash app: analysts only. */
let gwDash: TestGateway;
/** In front of the recorder: host public-host.example public, /public/** public, /admin/** admins, /readonly/** GET only, default signed in. */
let gwRules: TestGateway;
let nginx: FrontProxy;
let caddy: FrontProxy;
const fronts: Record<'nginx' | 'caddy', { dash: string; rules: string }> = { nginx: { dash: '', rules: '' }, caddy: { dash: '', rules: '' } };

before(async () => {
  dashLogDir = mkdtempSync(join(tmpdir(), 'dashgate-dash-log-'));
  const started = await startGunicorn('test/fixtures/dash_app', { env: { GUNICORN_CMD_ARGS: `--access-logfile ${join(dashLogDir, 'access.log')}` } });
  dash = started.child;
  dashUrl = started.url;
  recorder = await startRecordingUpstream();
  const forward = { server: { trusted_proxies: ['127.0.0.1'] }, forward_auth: { enabled: true } };
  gwDash = await startGateway(started.url, { ...forward, access: { default: { groups: ['analysts'] } } });
  gwRules = await startGateway(recorder.url, {
    ...forward,
    access: {
      rules: [
        // Believing a client's X-Forwarded-Host would make everything public.
        { host: 'public-host.example', path: '/**', policy: 'public' },
        { path: '/public/**', policy: 'public' },
        { path: '/admin/**', groups: ['admins'] },
        { path: '/readonly/**', methods: ['GET'], policy: 'authenticated' },
        { path: '/readonly/**', policy: 'deny' },
      ],
    },
  });
  for (const gw of [gwDash, gwRules]) {
    await createUser(gw.store, 'alice', PASSWORD, { groups: ['analysts', 'admins'], email: 'alice@example.com' });
    await createUser(gw.store, 'bob', PASSWORD);
  }
  const host = (url: string) => new URL(url).host;
  const ports = { nginxDash: await findFreePort(), nginxRules: await findFreePort(), caddyDash: await findFreePort(), caddyRules: await findFreePort() };
  nginx = await startNginx(
    [nginxServerBlock({ port: ports.nginxDash, gateway: host(gwDash.url), app: host(started.url) }), nginxServerBlock({ port: ports.nginxRules, gateway: host(gwRules.url), app: host(recorder.url) })],
    `http://127.0.0.1:${ports.nginxDash}`,
  );
  caddy = await startCaddy(
    [caddySite({ port: ports.caddyDash, gateway: host(gwDash.url), app: host(started.url) }), caddySite({ port: ports.caddyRules, gateway: host(gwRules.url), app: host(recorder.url) })],
    `http://127.0.0.1:${ports.caddyDash}`,
  );
  fronts.nginx = { dash: `http://127.0.0.1:${ports.nginxDash}`, rules: `http://127.0.0.1:${ports.nginxRules}` };
  fronts.caddy = { dash: `http://127.0.0.1:${ports.caddyDash}`, rules: `http://127.0.0.1:${ports.caddyRules}` };
});

after(async () => {
  await nginx?.close();
  await caddy?.close();
  await gwDash?.close();
  await gwRules?.close();
  await recorder?.close();
  if (dash) await stopProcessGroup(dash);
  if (dashLogDir) rmSync(dashLogDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** One request with the target exactly as given (fetch would normalise it), optionally from another local address. */
const send = (base: string, target: string, options: Parameters<typeof rawRequest>[2] = {}): Promise<Answer> => rawRequest(base, target, options);

/** A request written byte for byte (repeated headers, raw "#", absolute-form targets); answers the status line's code. */
function sendRaw(base: string, head: string): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(head));
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(Number(data.split(' ')[1]));
      }
    });
    socket.on('end', () => resolve(Number(data.split(' ')[1]) || 0));
    socket.on('error', reject);
  });
}

/** The sign-in round trip as a browser makes it, through the front proxy; returns the session cookie and where it landed. */
async function signInThrough(base: string, username: string, startPath = '/'): Promise<{ cookie: string; landed: string; first: Answer }> {
  const first = await send(base, startPath, { headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } });
  assert.ok(first.status === 302 || first.status === 303, `expected a redirect to sign-in, got ${first.status}: ${first.body.slice(0, 200)}`);
  const login = new URL(first.headers.location!, base);
  assert.equal(login.origin, base, 'the sign-in page is on the app\'s host');
  assert.equal(login.pathname, '/_dashgate/login');
  const page = await send(base, login.pathname + login.search, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 200);
  const posted = await send(base, '/_dashgate/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base, accept: 'text/html' },
    body: new URLSearchParams({ ...hiddenFields(page.body), username, password: PASSWORD }).toString(),
  });
  assert.equal(posted.status, 303, posted.body.slice(0, 300));
  const cookie = String(posted.headers['set-cookie']).split(';')[0]!;
  return { cookie, landed: posted.headers.location!, first };
}

function whoamiCallback(cookie: string, base: string, query = ''): Promise<Answer> {
  return send(base, `/_dash-update-component${query}`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ output: 'whoami.children', outputs: { id: 'whoami', property: 'children' }, inputs: [{ id: 'url', property: 'pathname', value: '/' }], changedPropIds: ['url.pathname'] }),
  });
}

let dashUrl: string;
let probeCount = 0;

/**
 * The lines of the Dash app's access log (gunicorn) that name `marker`, once every request sent
 * before has been logged: a request straight to the app, after them, is waited for first (one
 * sync worker answers and logs in order).
 */
async function dashRequestsNaming(marker: string): Promise<string[]> {
  const sync = `sync-${++probeCount}`;
  await fetch(`${dashUrl}/_reload-hash?${sync}`);
  const read = () => {
    try {
      return readFileSync(join(dashLogDir, 'access.log'), 'utf8');
    } catch {
      return '';
    }
  };
  while (!read().includes(sync)) await new Promise((r) => setTimeout(r, 50));
  return read().split('\n').filter((line) => line.includes(marker));
}

/** Every path an app could read a received target as: decoded once, dot segments resolved, fragment cut, ";params" dropped. */
function appViews(url: string): string[] {
  const target = url.replace(/^[a-z]+:\/\/[^/]*/i, '');
  const views = new Set<string>();
  for (const raw of [target.split('?')[0]!, target.split(/[?#]/)[0]!]) {
    const parts: string[] = [];
    for (const segment of raw.split('/').slice(1)) {
      let decoded = segment;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        /* kept as sent */
      }
      for (const piece of decoded.split(/[/\\]/)) {
        if (piece === '..' || piece.startsWith('..;')) parts.pop();
        else if (piece !== '.' && piece !== '') parts.push(piece);
      }
    }
    const plain = `/${parts.join('/')}`;
    views.add(plain);
    views.add(withoutParams(plain));
    // An app that routes by the path as received, without resolving dot segments.
    views.add(raw);
  }
  return [...views];
}

const reachedProtected = (paths: RegExp) => recorder.requests.filter((r) => appViews(r.url).some((view) => paths.test(view)));

for (const name of ['nginx', 'caddy'] as const) {
  describe(`${name} in front of a Dash app, Dashgate as its authentication service`, { timeout: 120_000 }, () => {
    it('sign-in round trip: anonymous → sign-in page on the app\'s host → back to the page, which the app serves', async () => {
      const { cookie, landed, first } = await signInThrough(fronts[name].dash, 'alice', '/page-2?tab=1');
      assert.match(String(first.headers.location), /next=%2Fpage-2%3Ftab%3D1/);
      assert.equal(landed, '/page-2?tab=1');
      const page = await send(fronts[name].dash, landed, { headers: { cookie, accept: 'text/html' } });
      assert.equal(page.status, 200);
      assert.match(page.body, /<title>Weather dashboard<\/title>/);
    });

    it('identity headers reach the app: a Dash callback reads X-Forwarded-User', async () => {
      const { cookie } = await signInThrough(fronts[name].dash, 'alice');
      const res = await whoamiCallback(cookie, fronts[name].dash);
      assert.equal(res.status, 200, res.body);
      assert.match(res.body, /Signed in as alice/);
    });

    it('anonymous scripts get a 401, never the app', async () => {
      const marker = `probe-anon-${name}`;
      const res = await whoamiCallback('x=1', fronts[name].dash, `?${marker}`);
      assert.equal(res.status, 401);
      assert.equal((await send(fronts[name].dash, `/_dash-layout?${marker}`)).status, 401);
      assert.deepEqual(await dashRequestsNaming(marker), []);
    });

    it('a refused user stays out: 403 for pages and callbacks, and the app sees none of it', async () => {
      const { cookie } = await signInThrough(fronts[name].dash, 'bob');
      const marker = `probe-bob-${name}`;
      const page = await send(fronts[name].dash, `/?${marker}`, { headers: { cookie, accept: 'text/html' } });
      assert.equal(page.status, 403);
      assert.equal((await whoamiCallback(cookie, fronts[name].dash, `?${marker}`)).status, 403);
      assert.equal((await send(fronts[name].dash, `/_dash-layout?${marker}`, { headers: { cookie } })).status, 403);
      // bob sends alice's name himself: ignored.
      assert.equal((await send(fronts[name].dash, `/?${marker}`, { headers: { cookie, 'x-forwarded-user': 'alice', 'remote-user': 'alice' } })).status, 403);
      assert.deepEqual(await dashRequestsNaming(marker), [], 'no request of the refused user reached the app');
      // Control: the same requests by alice do arrive (the log shows what reaches the app).
      const { cookie: alice } = await signInThrough(fronts[name].dash, 'alice');
      assert.equal((await send(fronts[name].dash, `/_dash-layout?control-${name}`, { headers: { cookie: alice } })).status, 200);
      assert.equal((await dashRequestsNaming(`control-${name}`)).length, 1);
    });
  });

  describe(`${name}: the bypass suite, through the front proxy`, { timeout: 120_000 }, () => {
    let bob: string;
    let alice: string;
    before(async () => {
      bob = (await signInThrough(fronts[name].rules, 'bob', '/x')).cookie;
      alice = (await signInThrough(fronts[name].rules, 'alice', '/x')).cookie;
      recorder.requests.length = 0;
    });

    const attacks = [
      '/admin/secret', '/%61dmin/secret', '/ADMIN/../admin/secret', '/public/../admin/secret', '/public/%2e%2e/admin/secret', '/public/.%2e/admin/secret',
      '/public/%2E%2E/admin/secret', '/public%2f..%2fadmin/secret', '/public%2F..%2Fadmin%2Fsecret', '/public/..%2fadmin/secret', '/public/..;/admin/secret', '/public;/../admin/secret',
      '/public%23/../admin/secret', '/admin;x=1/secret', '/;x/admin/secret', '//admin/secret', '/./admin/secret', '/public/./../admin/secret', '/admin%2fsecret', '/admin%00/secret',
      '/public\\..\\admin/secret', '/public/..%5cadmin/secret', '/admin/secret?/public/x', '/public/x/../../admin/secret',
      '/admin/secret/../../public/x', '/admin/%2e%2e/public/x', '/admin/.%2E/public/x', '/admin/./../public/x',
    ];

    it('encoded paths, dot segments, %2F, %23, ";": none reaches /admin (anonymous and as bob)', async () => {
      for (const target of attacks) {
        for (const cookie of [undefined, bob]) {
          const status = await sendRaw(fronts[name].rules, `GET ${target} HTTP/1.1\r\nHost: ${new URL(fronts[name].rules).host}\r\n${cookie ? `Cookie: ${cookie}\r\n` : ''}Connection: close\r\n\r\n`);
          assert.notEqual(status, 200, `${target} ${cookie ? 'as bob' : 'anonymous'}`);
        }
      }
      assert.deepEqual(reachedProtected(/^\/admin(\/|$)/).map((r) => r.url), []);
    });

    it('a raw "#" never widens a public match', async () => {
      for (const target of ['/public#/../admin/secret', '/public/x#/../../admin/secret', '/admin/secret#/public', '/public/%23/../../admin/secret', '/admin/secret#/../../public/x', '/admin#/../public/x']) {
        for (const cookie of [undefined, bob]) {
          await sendRaw(fronts[name].rules, `GET ${target} HTTP/1.1\r\nHost: ${new URL(fronts[name].rules).host}\r\n${cookie ? `Cookie: ${cookie}\r\n` : ''}Connection: close\r\n\r\n`);
        }
      }
      assert.deepEqual(reachedProtected(/^\/admin(\/|$)/).map((r) => r.url), []);
    });

    it('absolute-form targets', async () => {
      const host = new URL(fronts[name].rules).host;
      for (const target of [`http://${host}/admin/secret`, `http://${host}/public/../admin/secret`, 'http://other.example/admin/secret', `http://${host}/admin%2fsecret`]) {
        for (const cookie of [undefined, bob]) {
          await sendRaw(fronts[name].rules, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${cookie ? `Cookie: ${cookie}\r\n` : ''}Connection: close\r\n\r\n`);
        }
      }
      assert.deepEqual(reachedProtected(/^\/admin(\/|$)/).map((r) => r.url), []);
    });

    it('spoofed X-Forwarded-Uri / X-Original-URL / X-Forwarded-Host / X-Forwarded-Method from the client are overwritten', async () => {
      const spoofs: Array<Record<string, string>> = [
        { 'x-forwarded-uri': '/public/x' },
        { 'x-original-url': '/public/x' },
        { 'x-original-uri': '/public/x' },
        { 'x-rewrite-url': '/public/x' },
        { 'x-forwarded-host': 'public-host.example' },
        { forwarded: 'host=public-host.example', 'x-forwarded-server': 'public-host.example', 'x-host': 'public-host.example' },
        { 'x-forwarded-uri': '/public/x', 'x-original-url': '/public/x', 'x-forwarded-method': 'GET', 'x-forwarded-host': 'public-host.example', 'x-forwarded-proto': 'https' },
      ];
      for (const spoof of spoofs) {
        for (const cookie of [undefined, bob]) {
          const res = await send(fronts[name].rules, '/admin/secret', { headers: { ...spoof, ...(cookie ? { cookie } : {}) } });
          assert.notEqual(res.status, 200, JSON.stringify(spoof));
        }
      }
      // The method judged is the method sent: a POST claiming to be a GET stays a POST.
      const post = await send(fronts[name].rules, '/readonly/doc', { method: 'POST', headers: { cookie: bob, 'x-forwarded-method': 'GET', 'x-original-method': 'GET', 'x-http-method-override': 'GET', 'content-length': '0' } });
      assert.ok(post.status === 403 || post.status === 400, String(post.status));
      assert.deepEqual(reachedProtected(/^\/admin(\/|$)/).map((r) => r.url), []);
      assert.deepEqual(recorder.requests.filter((r) => r.url.startsWith('/readonly')).map((r) => `${r.method} ${r.url}`), []);
    });

    it('a path or method override sent by the client never reaches the app, not even on a public page', async () => {
      for (const [header, value] of [['x-original-url', '/admin/secret'], ['x-rewrite-url', '/admin/secret'], ['x-original-uri', '/admin/secret'], ['x-http-method-override', 'DELETE'], ['x-method-override', 'DELETE'], ['x-original-method', 'DELETE']] as const) {
        // Refused by the check (nginx passes it the client's headers), or removed by the proxy first (the Caddy config).
        await send(fronts[name].rules, '/public/override', { headers: { [header]: value } });
      }
      const overrides = /^(x-original-url|x-rewrite-url|x-original-uri|x-http-method-override|x-method-override|x-original-method)$/i;
      const arrived = recorder.requests.filter((r) => r.url === '/public/override');
      assert.deepEqual(arrived.flatMap((r) => r.rawHeaders.filter((h, i) => i % 2 === 0 && overrides.test(h) && r.rawHeaders[i + 1] !== '')), []);
    });

    it('duplicate headers from the client: the proxy sends one copy of its own, and the protected path stays protected', async () => {
      const host = new URL(fronts[name].rules).host;
      for (const cookie of [undefined, bob]) {
        const status = await sendRaw(
          fronts[name].rules,
          `GET /admin/secret HTTP/1.1\r\nHost: ${host}\r\n${cookie ? `Cookie: ${cookie}\r\n` : ''}X-Forwarded-Uri: /public/x\r\nX-Forwarded-Uri: /public/y\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Host: a.example\r\nX-Forwarded-Host: b.example\r\nConnection: close\r\n\r\n`,
        );
        assert.notEqual(status, 200);
      }
      assert.deepEqual(reachedProtected(/^\/admin(\/|$)/).map((r) => r.url), []);
    });

    it('identity headers a client sends never reach the app: not on a public page, not for a signed-in user, in no spelling', async () => {
      const spoof = { 'x-forwarded-user': 'alice', 'remote-user': 'alice', 'x-forwarded-groups': 'admins', 'x-dashgate-jwt': 'forged', 'remote-groups': 'admins' };
      const underscored = { x_forwarded_user: 'alice', remote_user: 'alice', x_forwarded_groups: 'admins' };
      // Refused by the check (it sees the client's headers), or removed by the proxy first (the Caddy config).
      for (const headers of [spoof, underscored]) {
        await send(fronts[name].rules, '/public/spoof', { headers });
        await send(fronts[name].rules, '/home-spoof', { headers: { ...headers, cookie: bob } });
      }
      for (const r of recorder.requests.filter((r) => r.url === '/public/spoof' || r.url === '/home-spoof')) {
        for (let i = 0; i < r.rawHeaders.length; i += 2) {
          const header = r.rawHeaders[i]!.toLowerCase().replaceAll('_', '-');
          const value = r.rawHeaders[i + 1]!;
          if (header in spoof) assert.ok(value === '' || (r.url === '/home-spoof' && value === (header.endsWith('user') ? 'bob' : header === 'x-dashgate-jwt' && value.startsWith('ey') ? value : '')), `${r.url} ${r.rawHeaders[i]}: ${value}`);
        }
      }
      // A clean request of bob's arrives as bob.
      assert.equal((await send(fronts[name].rules, '/home', { headers: { cookie: bob } })).status, 200);
      const home = recorder.requests.find((r) => r.url === '/home');
      assert.equal(home?.headers['x-forwarded-user'], 'bob');
      assert.ok(!home?.headers['x-forwarded-groups'], 'bob has no groups');
      assert.match(String(home?.headers['x-dashgate-jwt']), /^ey/);
    });

    it('the check asked through the front proxy\'s route to the gateway names nothing: the client\'s X-Forwarded-* are removed there', async () => {
      for (const path of ['/_dashgate/auth', '/_dashgate/auth/nginx']) {
        const res = await send(fronts[name].rules, path, { headers: { cookie: bob, 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'app.example', 'x-forwarded-uri': '/home' } });
        assert.notEqual(res.status, 200, path);
        assert.equal(res.headers['x-dashgate-jwt'], undefined, 'no signed identity handed to the client');
      }
    });

    it('one request through the proxy is one decision: a wrong API token is audited once', async () => {
      const failures = async () => (await gwRules.store.audit.list({ action: 'token.failure', limit: 1000 })).length;
      const before = await failures();
      const res = await send(fronts[name].rules, '/home', { headers: { authorization: 'Bearer dgt_wrong_wrong_wrong_wrong_wrong_wrong' } });
      assert.equal(res.status, 401);
      assert.equal((await failures()) - before, 1);
    });

    it('control: an admin does reach /admin, with the identity headers (so the assertions above can fail)', async () => {
      const res = await send(fronts[name].rules, '/admin/secret', { headers: { cookie: alice } });
      assert.equal(res.status, 200);
      const reached = reachedProtected(/^\/admin(\/|$)/);
      assert.equal(reached.length, 1);
      assert.equal(reached[0]!.headers['x-forwarded-user'], 'alice');
      assert.match(String(reached[0]!.headers['x-forwarded-groups']), /(^|,)admins(,|$)/);
      assert.match(String(reached[0]!.headers['x-dashgate-jwt']), /^ey/);
      recorder.requests.length = 0;
    });
  });
}

describe('in Chromium, through both front proxies', { timeout: 180_000 }, () => {
  for (const name of ['nginx', 'caddy'] as const) {
    it(`${name}: sign in, see the Dash app with its callbacks reading who signed in, change the city`, async () => {
      const browser = await launchChromium();
      try {
        const context = await browser.newContext();
        const offHost: string[] = [];
        await holdToLoopback(context, offHost);
        const page = await context.newPage();
        const base = fronts[name].dash;
        await page.goto(`${base}/page-2`);
        assert.equal(new URL(page.url()).pathname, '/_dashgate/login');
        await page.locator('#username').fill('alice');
        await page.locator('#password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.waitForURL(`${base}/page-2`);
        await expectText(page.locator('#whoami'), 'Signed in as alice');
        await page.getByRole('link', { name: 'Page 1' }).click();
        await expectText(page.locator('#graph .gtitle'), 'Temperature in Montreal');
        assert.deepEqual(offHost, []);
      } finally {
        await browser.close();
      }
    });
  }
});

describe('the check sent straight to Dashgate', () => {
  const headers = { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'app.example', 'x-forwarded-uri': '/public/x' };
  it('from an untrusted peer: refused (403), its headers never read', async () => {
    for (const path of ['/_dashgate/auth', '/_dashgate/auth/nginx']) {
      const res = await send(gwRules.url, path, { headers, from: '127.0.0.3' });
      assert.equal(res.status, 403, path);
      assert.equal(res.headers['x-dashgate'], 'forward_auth_untrusted');
    }
  });
  it('from the trusted proxy with duplicate forwarded headers: refused (400)', async () => {
    const status = await sendRaw(gwRules.url, `GET /_dashgate/auth HTTP/1.1\r\nHost: ${new URL(gwRules.url).host}\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: app.example\r\nX-Forwarded-Uri: /admin/x\r\nX-Forwarded-Uri: /public/x\r\nConnection: close\r\n\r\n`);
    assert.equal(status, 400);
  });
});
