/**
 * Attacks on Dash-aware authorization over HTTP, against real Dash 4.4.1 apps under gunicorn:
 * the page a callback renders (Dash Pages, dcc.Location), a page's own callbacks (`components`),
 * the body the gateway reads, the callback endpoint's spellings, Dash's MCP endpoint, and the
 * page layouts Dash writes into every page. Every case here is a defence that holds: carol (not
 * in finance) never gets the reports page's content, however the request is forged, while the
 * same callback still works for bob, so a refusal is never mistaken for a broken app.
 *
 * The bypasses found in the same session are not here (this file only holds passing tests); they
 * are described in the attack report.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startGunicorn, stopProcessGroup } from '../helpers/browser.js';
import { createUser, rawRequest, signIn, startGateway, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'reports passphrase';
const ROUTER = '.._pages_content.children..._pages_store.data..';
const ROUTER_OUTPUTS = [
  { id: '_pages_content', property: 'children' },
  { id: '_pages_store', property: 'data' },
];
/** Text only the finance pages (and their callbacks) hold. */
const SECRET = /Confidential|Revenue by region|North: 1\.2M|Total 2\.1M|1\.05M/;

function pageRules(prefix: string) {
  return {
    access: {
      default: 'authenticated' as const,
      rules: [
        { path: `${prefix}about`, policy: 'public' as const },
        { name: 'finance reports', path: `${prefix}reports/**`, groups: ['finance'], components: ['load-figures', 'report-*', '{"type":"report-row","index":"*"}', '{"type":"report-region","index":"*"}'] },
      ],
    },
    dash: { prefix },
  };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request with the target, headers and body bytes exactly as given (fetch would normalise them). */
function send(base: string, target: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string; chunks?: Array<Buffer | string> } = {}): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers };
    // Node frames no body of its own on GET, DELETE or OPTIONS: give its length, as a client would.
    if (options.body !== undefined && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    // A connection per request: a refused upload (413) leaves its connection unusable.
    const req = request({ host: url.hostname, port: url.port, path: target, method: options.method ?? 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (options.chunks) {
      for (const chunk of options.chunks) req.write(chunk);
      req.end();
    } else req.end(options.body);
  });
}

/**
 * The differential check: what the app itself answers to the same bytes (no gateway in between),
 * and what carol gets through the gateway. Where the app would hand out the secret, the gateway
 * must have refused (400/403/413/415); whatever happens, carol never sees the secret. Returns
 * whether the app would have leaked, so a group of cases can show it tested real attacks.
 */
async function judgedLikeTheApp(app: () => Promise<Answer>, through: () => Promise<Answer>, what: string): Promise<boolean> {
  const direct = await app();
  const answer = await through();
  const leaks = SECRET.test(direct.text);
  if (leaks) assert.ok([400, 403, 413, 415].includes(answer.status), `${what}: the app renders the secret for these bytes, the gateway answered ${answer.status} ${answer.text.slice(0, 200)}`);
  assert.doesNotMatch(answer.text, SECRET, what);
  return leaks;
}

function refusedWithoutSecret(answer: Answer, what: string): void {
  assert.ok([400, 403, 405, 413, 415].includes(answer.status) || (answer.status >= 500 && !SECRET.test(answer.text)), `${what}: ${answer.status} ${answer.text.slice(0, 200)}`);
  assert.doesNotMatch(answer.text, SECRET, what);
}

describe('Dash Pages at /: forged page requests, odd bodies and endpoint spellings', { timeout: 180_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let appUrl: string;
  let carol: string;
  let bob: string;

  before(async () => {
    // MCP on (DASH_MCP_ENABLED), as an app that tried Dash's MCP server would run.
    const started = await startGunicorn('test/fixtures/dash_pages', { env: { DASH_MCP_ENABLED: 'true' } });
    dash = started.child;
    appUrl = started.url;
    gw = await startGateway(started.url, pageRules('/'));
    await createUser(gw.store, 'carol', PASSWORD, { groups: ['analysts'] });
    await createUser(gw.store, 'bob', PASSWORD, { groups: ['analysts', 'finance'] });
    carol = await signIn(gw.url, 'carol', PASSWORD);
    bob = await signIn(gw.url, 'bob', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    if (dash) await stopProcessGroup(dash);
  });

  const post = (cookie: string, body: unknown, target = '/_dash-update-component', headers: Record<string, string> = {}) =>
    send(gw.url, target, { headers: { cookie, 'content-type': 'application/json', accept: 'application/json', ...headers }, body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) });
  const bytes = (body: unknown) => (typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
  /** The same bytes to the app directly and to the gateway as carol (see judgedLikeTheApp). */
  const differential = (body: unknown, what: string, target = '/_dash-update-component') =>
    judgedLikeTheApp(
      () => send(appUrl, target, { headers: { 'content-type': 'application/json' }, body: bytes(body) }),
      () => post(carol, body, target),
      what,
    );
  const route = (pathname: unknown, search: unknown = '') => ({
    output: ROUTER,
    outputs: ROUTER_OUTPUTS,
    inputs: [
      { id: '_pages_location', property: 'pathname', value: pathname },
      { id: '_pages_location', property: 'search', value: search },
    ],
    changedPropIds: ['_pages_location.pathname'],
  });
  const figures = { output: 'report-figures.children', outputs: { id: 'report-figures', property: 'children' }, inputs: [{ id: 'load-figures', property: 'n_clicks', value: 1 }] };

  it('the reports page and its data reach bob, not carol (the baseline every case below is checked against)', async () => {
    assert.match((await post(bob, route('/reports'))).text, /Confidential finance report/);
    assert.match((await post(bob, figures)).text, /North: 1\.2M/);
    assert.equal((await post(carol, route('/reports'))).status, 403);
    assert.equal((await post(carol, figures)).status, 403);
  });

  describe('positional and shape tricks in the body', () => {
    const cases: Array<[string, () => unknown]> = [
      ['inputs as an object keyed by position', () => ({ ...route('/reports'), inputs: { 0: { id: '_pages_location', property: 'pathname', value: '/reports' }, 1: { id: '_pages_location', property: 'search', value: '' } } })],
      ['the location wrapped in a list', () => ({ ...route('/reports'), inputs: [[{ id: '_pages_location', property: 'pathname', value: '/reports' }], { id: '_pages_location', property: 'search', value: '' }] })],
      ['the location nested five lists deep', () => ({ ...route('/reports'), inputs: [[[[[{ value: '/reports' }]]]], { value: '' }] })],
      ['a value that is a list of paths', () => route(['/about', '/reports'])],
      ['a value that is an object', () => route({ toString: '/reports' })],
      ['a number where the path goes', () => route(42)],
      ['more inputs than declared, the real one first', () => ({ ...route('/reports'), inputs: [...route('/reports').inputs, { id: 'x', property: 'y', value: '/about' }] })],
      ['an allowed path first and the page in an extra input', () => ({ ...route('/about'), inputs: [...route('/about').inputs, { id: '_pages_location', property: 'pathname', value: '/reports' }] })],
      ['duplicate "inputs" keys (JSON.parse and Python both keep the last)', () => `{"output":${JSON.stringify(ROUTER)},"outputs":${JSON.stringify(ROUTER_OUTPUTS)},"inputs":[{"id":"_pages_location","property":"pathname","value":"/about"},{"id":"_pages_location","property":"search","value":""}],"inputs":[{"id":"_pages_location","property":"pathname","value":"/reports"},{"id":"_pages_location","property":"search","value":""}]}`],
      ['duplicate "value" keys inside the input', () => `{"output":${JSON.stringify(ROUTER)},"outputs":${JSON.stringify(ROUTER_OUTPUTS)},"inputs":[{"id":"_pages_location","property":"pathname","value":"/about","value":"/reports"},{"id":"_pages_location","property":"search","value":""}]}`],
      ['duplicate "output" keys naming another callback first', () => `{"output":"about-extra.children","output":${JSON.stringify(ROUTER)},"outputs":${JSON.stringify(ROUTER_OUTPUTS)},"inputs":[{"id":"_pages_location","property":"pathname","value":"/reports"},{"id":"_pages_location","property":"search","value":""}]}`],
      ['a "__proto__" key holding the value', () => `{"output":${JSON.stringify(ROUTER)},"outputs":${JSON.stringify(ROUTER_OUTPUTS)},"inputs":[{"id":"_pages_location","property":"pathname","__proto__":{"value":"/about"},"value":"/reports"},{"id":"_pages_location","property":"search","value":""}]}`],
      ['escaped characters in the keys and the path', () => `{"\\u006futput":${JSON.stringify(ROUTER)},"outputs":${JSON.stringify(ROUTER_OUTPUTS)},"inputs":[{"id":"_pages_location","property":"pathname","\\u0076alue":"\\u002freports"},{"id":"_pages_location","property":"search","value":""}]}`],
      ['a UTF-8 byte order mark before the JSON (Python reads it, the gateway refuses)', () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(route('/reports')))])],
      ['UTF-16 JSON (Python detects it, the gateway refuses)', () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(route('/reports')), 'utf16le')])],
      ['NaN in the body (Python accepts it, JSON.parse does not)', () => JSON.stringify(route('/reports')).replace('"changedPropIds"', '"n":NaN,"changedPropIds"')],
      ['invalid UTF-8 in the path', () => Buffer.from(JSON.stringify(route('/reports\u00ff')).replace('\u00ff', '\u0000'), 'utf8').map((b) => (b === 0 ? 0xc0 : b))],
      ['the router\'s output with an "@hash" suffix', () => ({ ...route('/reports'), output: `${ROUTER}@abc` })],
      ['the router\'s output with extra dots', () => ({ ...route('/reports'), output: `.${ROUTER}.` })],
      ['no output at all, only outputs', () => ({ ...route('/reports'), output: undefined })],
      ['a harmless output naming the router in outputs (Dash dispatches on output)', () => ({ ...route('/reports'), output: 'about-extra.children' })],
      ['the router under an output the catalog does not know', () => ({ ...route('/reports'), output: '.._pages_content.children..' })],
    ];
    for (const [name, body] of cases) {
      it(`carol gets nothing the app would render: ${name}`, async () => {
        await differential(body(), name);
      });
    }
  });

  describe('pathname spellings', () => {
    const paths = [
      '/reports', '/reports/', '//reports', '/reports/q3', '/reports//q3', '/reports/q3/../q4', '/./reports', '/about/../reports', '/about/%2e%2e/reports',
      '/rep%6frts', '/%72eports', '/reports;x', '/;x/reports', '/reports%3bx', '/reports?x=1', '/reports#top', 'reports', 'reports/q3', '/reports/%2e',
      // Unicode look-alikes (no NFKC anywhere): Dash renders its 404 page, never the reports page.
      '/ｒeports', '/reports\u2215q3', '/reports\uff0fq3', '/REPORTS', '/Reports', '/reports\u200b', '/re\u0301ports',
      // Overlong and %u encodings are refused or stay literal.
      '/%c0%afreports', '/%u0072eports', '/%252e%252e/reports',
    ];
    let leaking = 0;
    for (const path of paths) {
      it(`never renders the reports page for carol at ${JSON.stringify(path)}`, async () => {
        if (await differential(route(path), path)) leaking++;
      });
    }
    it('most of these spellings render a finance page on the app itself (the cases are real attacks)', () => {
      assert.ok(leaking >= 6, `only ${leaking} spellings leak on the app`);
    });
    it('a very long pathname is judged, not truncated', async () => {
      refusedWithoutSecret(await post(carol, route(`/reports/${'q'.repeat(200_000)}`)), 'long');
    });
    it('the search argument cannot name the page (Dash only reads its query into layout kwargs)', async () => {
      for (const search of ['?/reports', '/reports', '?path=/reports', '?quarter=q3']) {
        const answer = await post(carol, route('/about', search));
        assert.equal(answer.status, 200, search);
        assert.doesNotMatch(answer.text, SECRET, search);
      }
    });
  });

  describe('the reports page\'s own callbacks (components)', () => {
    const cases: Array<[string, unknown]> = [
      ['wildcard MATCH in the request', { output: '{"index":["MATCH"],"type":"report-row"}.children', outputs: { id: { type: 'report-row', index: ['MATCH'] }, property: 'children' }, inputs: [{ id: { type: 'report-region', index: ['MATCH'] }, property: 'n_clicks', value: 1 }] }],
      ['a concrete index and harmless input ids', { output: '{"index":["MATCH"],"type":"report-row"}.children', outputs: { id: { type: 'report-row', index: 1 }, property: 'children' }, inputs: [{ id: 'about-more', property: 'n_clicks', value: 1 }] }],
      ['dict keys in another order', { output: '{"type":"report-row","index":["MATCH"]}.children', outputs: { id: { index: 1, type: 'report-row' }, property: 'children' }, inputs: [{ id: { index: 1, type: 'report-region' }, property: 'n_clicks', value: 1 }] }],
      ['outputs naming the about page while output names the figures', { output: 'report-figures.children', outputs: { id: 'about-extra', property: 'children' }, inputs: [{ id: 'about-more', property: 'n_clicks', value: 1 }] }],
      ['outputs missing', { output: 'report-figures.children', inputs: [{ id: 'load-figures', property: 'n_clicks', value: 1 }] }],
      ['a multi-output with one output named', { output: '..report-total.children...report-note.children..', outputs: [{ id: 'report-total', property: 'children' }], inputs: [{ id: 'x', property: 'n_clicks', value: 1 }] }],
      ['the output with an escaped dot', { output: 'report-figures\\.children', outputs: { id: 'report-figures', property: 'children' }, inputs: [{ id: 'load-figures', property: 'n_clicks', value: 1 }] }],
      ['inputs moved into state', { output: 'report-figures.children', outputs: { id: 'report-figures', property: 'children' }, inputs: [], state: [{ id: 'load-figures', property: 'n_clicks', value: 1 }] }],
      ['a background-callback poll with values null', { output: 'report-figures.children', outputs: { id: 'report-figures', property: 'children' }, inputs: [{ id: 'load-figures', property: 'n_clicks', value: null }] }],
    ];
    for (const [name, body] of cases) {
      it(`carol gets nothing the app would give: ${name}`, async () => {
        await differential(body, name);
      });
    }
    it('refuses a background-callback poll (?cacheKey=…&job=…) like the first request', async () => {
      refusedWithoutSecret(await post(carol, cases[8]![1], '/_dash-update-component?cacheKey=abc&job=1'), 'poll');
      refusedWithoutSecret(await post(carol, route(null), '/_dash-update-component?cacheKey=abc&job=1'), 'router poll');
    });
  });

  describe('how the body is sent', () => {
    const body = () => JSON.stringify(route('/reports'));
    it('chunked, in small pieces', async () => {
      const text = body();
      const chunks = text.match(/.{1,7}/gs)!;
      refusedWithoutSecret(await send(gw.url, '/_dash-update-component', { headers: { cookie: carol, 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, chunks }), 'chunked');
    });
    it('after "Expect: 100-continue"', async () => {
      refusedWithoutSecret(await send(gw.url, '/_dash-update-component', { headers: { cookie: carol, 'content-type': 'application/json', expect: '100-continue', 'content-length': String(Buffer.byteLength(body())) }, body: body() }), 'expect');
    });
    it('compressed (415), in any spelling', async () => {
      const { gzipSync } = await import('node:zlib');
      for (const encoding of ['gzip', 'GZIP', ' deflate', 'identity, gzip', 'br', 'x-gzip']) {
        const answer = await send(gw.url, '/_dash-update-component', { headers: { cookie: carol, 'content-type': 'application/json', 'content-encoding': encoding }, body: gzipSync(body()) });
        assert.equal(answer.status, 415, encoding);
      }
    });
    it('larger than dash.max_callback_body (413), declared or not', async () => {
      const huge = JSON.stringify({ ...route('/reports'), pad: 'x'.repeat(9 * 1024 * 1024) });
      assert.equal((await post(carol, huge)).status, 413);
      const chunks = [huge.slice(0, 4_000_000), huge.slice(4_000_000)];
      assert.equal((await send(gw.url, '/_dash-update-component', { headers: { cookie: carol, 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, chunks })).status, 413);
    });
    it('with content types Dash would not read, or would', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/vnd.api+json', 'multipart/form-data; boundary=x']) {
        refusedWithoutSecret(await send(gw.url, '/_dash-update-component', { headers: { cookie: carol, 'content-type': type }, body: body() }), type);
      }
    });
  });

  describe('the callback endpoint in other spellings and methods', () => {
    const targets = ['/_dash-update-component/', '//_dash-update-component', '/_dash-update-component;x', '/%5fdash-update-component', '/%5Fdash%2Dupdate-component', '/x/../_dash-update-component', '/./_dash-update-component', '/_dash-update-component%3Bx', '/_dash-update-component?endId=x', '/about/../_dash-update-component'];
    for (const target of targets) {
      it(`judges ${target}`, async () => refusedWithoutSecret(await post(carol, route('/reports'), target), target));
    }
    it('Dash serves the callback at the spellings its router accepts (so judging them matters)', async () => {
      for (const target of ['/_dash-update-component', '/_dash-update-component?endId=x']) {
        assert.match((await send(appUrl, target, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(route('/reports')) })).text, SECRET, target);
      }
    });
    it('only POST runs callbacks; other methods with the body reach nothing', async () => {
      for (const method of ['PUT', 'PATCH', 'GET', 'DELETE', 'OPTIONS']) {
        const answer = await send(gw.url, '/_dash-update-component', { method, headers: { cookie: carol, 'content-type': 'application/json' }, body: JSON.stringify(route('/reports')) });
        assert.doesNotMatch(answer.text, SECRET, method);
      }
      const override = await post(carol, route('/reports'), '/_dash-update-component', { 'x-http-method-override': 'GET' });
      refusedWithoutSecret(override, 'method override');
    });
    it('Upgrade headers on a callback POST are not a way around the body check', async () => {
      const answer = await send(gw.url, '/_dash-update-component', { headers: { cookie: carol, 'content-type': 'application/json', connection: 'Upgrade', upgrade: 'websocket' }, body: JSON.stringify(route('/reports')) });
      refusedWithoutSecret(answer, 'upgrade');
    });
  });

  describe('Dash\'s MCP endpoint', () => {
    const call = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'update', arguments: { pathname_: '/reports', search_: '' } } });
    it('is reachable on the app itself (so the refusal below is real)', async () => {
      const direct = await send(new URL(gw.gateway.config.upstream!).origin, '/_mcp', { headers: { 'content-type': 'application/json' }, body: call });
      assert.match(direct.text, /Confidential finance report/);
    });
    for (const target of ['/_mcp', '/_mcp/', '/_mcp;x', '/%5fmcp', '/%5Fmcp', '//_mcp', '/./_mcp', '/x/../_mcp', '/_mcp%3Bx', '/_mcp?x=1', '/_mcp/tools']) {
      it(`is refused to bob at ${target}`, async () => {
        const answer = await send(gw.url, target, { headers: { cookie: bob, 'content-type': 'application/json' }, body: call });
        assert.equal(answer.status, 403, answer.text.slice(0, 200));
        assert.match(answer.text, /mcp_refused/);
      });
    }
    it('is refused for GET (the SSE stream), DELETE and a WebSocket upgrade too', async () => {
      for (const method of ['GET', 'DELETE', 'HEAD']) {
        const answer = await send(gw.url, '/_mcp', { method, headers: { cookie: bob, accept: 'text/event-stream' } });
        assert.equal(answer.status, 403, method);
      }
      const upgrade = await rawRequest(gw.url, '/_mcp', { headers: { cookie: bob, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', origin: gw.url } });
      assert.equal(upgrade.status, 403);
    });
  });

  describe('page layouts in every page\'s source', () => {
    const pages = ['/', '/about', '/reports-not-here', '/nope/deeper', '/about/', '/;x/about'];
    for (const path of pages) {
      it(`keeps the reports page's text out of ${path} (GET, HEAD, gzip asked)`, async () => {
        for (const headers of [{ accept: 'text/html' }, { accept: 'text/html', 'accept-encoding': 'gzip, br' }, { accept: '*/*' }] as Array<Record<string, string>>) {
          const answer = await send(gw.url, path, { method: 'GET', headers: { cookie: carol, ...headers } });
          assert.doesNotMatch(answer.text, SECRET, `${path} ${JSON.stringify(headers)}`);
          assert.equal(answer.headers['content-encoding'], undefined);
        }
        const head = await send(gw.url, path, { method: 'HEAD', headers: { cookie: carol, accept: 'text/html' } });
        assert.equal(head.text, '');
      });
    }
    it('_dash-layout and _dash-dependencies hold no page content', async () => {
      for (const path of ['/_dash-layout', '/_dash-dependencies', '/_dash-layout/', '/%5fdash-layout']) {
        const answer = await send(gw.url, path, { method: 'GET', headers: { cookie: carol, accept: 'application/json', 'accept-encoding': 'gzip' } });
        assert.doesNotMatch(answer.text, SECRET, path);
      }
    });
  });
});

describe('Dash Pages under /app/: the prefix Dash cuts without a slash boundary', { timeout: 120_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let appUrl: string;
  let carol: string;

  before(async () => {
    const started = await startGunicorn('test/fixtures/dash_pages', { env: { DASH_PREFIX: '/app/', DASH_MCP_ENABLED: 'true' } });
    dash = started.child;
    appUrl = started.url;
    gw = await startGateway(started.url, pageRules('/app/'));
    await createUser(gw.store, 'carol', PASSWORD, { groups: ['analysts'] });
    carol = await signIn(gw.url, 'carol', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    if (dash) await stopProcessGroup(dash);
  });

  const post = (body: unknown, target = '/app/_dash-update-component') => send(gw.url, target, { headers: { cookie: carol, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const route = (pathname: unknown) => ({ output: ROUTER, outputs: ROUTER_OUTPUTS, inputs: [{ id: '_pages_location', property: 'pathname', value: pathname }, { id: '_pages_location', property: 'search', value: '' }] });

  let leaking = 0;
  for (const path of ['/appreports', '/app/reports', '/app//reports', '/app/reports/q3', '/appreports/q3', '/app/reports/', '/app', '/app/app/../reports', '/app/./reports', '/APP/reports', '/app%2freports', '/app/reports%2f', 'app/reports', '/app;x/reports']) {
    it(`never renders the reports page for carol at ${path}`, async () => {
      const direct = () => send(appUrl, '/app/_dash-update-component', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(route(path)) });
      if (await judgedLikeTheApp(direct, () => post(route(path)), path)) leaking++;
    });
  }
  it('the glued and doubled-slash spellings do render the page on the app (real attacks)', () => assert.ok(leaking >= 5, String(leaking)));
  it('refuses MCP under the prefix in its spellings', async () => {
    const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'update', arguments: { pathname_: '/app/reports', search_: '' } } });
    for (const target of ['/app/_mcp', '/app/_mcp/', '/app//_mcp', '/app/%5fmcp', '/app/_mcp;x']) {
      const answer = await send(gw.url, target, { headers: { cookie: carol, 'content-type': 'application/json' }, body: call });
      assert.equal(answer.status, 403, target);
    }
  });
});

describe('dcc.Location routing: href spellings', { timeout: 120_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let appUrl: string;
  let carol: string;
  let bob: string;

  before(async () => {
    const started = await startGunicorn('test/fixtures/dash_location');
    dash = started.child;
    appUrl = started.url;
    gw = await startGateway(started.url, pageRules('/'));
    await createUser(gw.store, 'carol', PASSWORD, { groups: ['analysts'] });
    await createUser(gw.store, 'bob', PASSWORD, { groups: ['finance'] });
    carol = await signIn(gw.url, 'carol', PASSWORD);
    bob = await signIn(gw.url, 'bob', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    if (dash) await stopProcessGroup(dash);
  });

  const where = (href: unknown) => ({ output: 'where.children', outputs: { id: 'where', property: 'children' }, inputs: [{ id: 'url', property: 'href', value: href }] });
  const post = (cookie: string, body: unknown) => send(gw.url, '/_dash-update-component', { headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('bob is told he is on the reports page (the app reads href with urlsplit)', async () => {
    assert.match((await post(bob, where(`${gw.url}/reports`))).text, /Confidential/);
  });

  const hrefs = [
    'http://x/reports', 'HTTP://x/reports', 'http:reports', 'http:/reports', 'http:///reports', '//x/reports', '///reports', '/reports', 'reports',
    'http://x\\reports', 'http://x/\treports', 'http://x/rep\norts', ' http://x/reports', 'http://x/reports ', '\u0000http://x/reports',
    'http://user:pw@x/reports', 'http://x:80/reports', 'http://[::1]/reports', 'http://x/%72eports', 'http://x/about/../reports', 'http://x/about/%2e%2e/reports',
    'http://x/reports?x=1#y', 'http://x/reports#/about', 'file:reports', 'file:///reports', 'x:/reports', 'javascript:/reports', 'blob:http://x/reports',
    'data:text/html,/reports', 'about:blank#/reports', '?/reports', '#/reports', 'http://x/;/reports', 'http://x/reports;a',
  ];
  let leaking = 0;
  for (const href of hrefs) {
    it(`never tells carol she is on the reports page for href ${JSON.stringify(href)}`, async () => {
      const direct = () => send(appUrl, '/_dash-update-component', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(where(href)) });
      if (await judgedLikeTheApp(direct, () => post(carol, where(href)), href)) leaking++;
    });
  }
  it('many of these hrefs name the reports page to the app (real attacks)', () => assert.ok(leaking >= 10, String(leaking)));
  it('the page-content callback is judged by its pathname (sanity for the cases above)', async () => {
    const page = (pathname: string) => ({ output: 'page-content.children', outputs: { id: 'page-content', property: 'children' }, inputs: [{ id: 'url', property: 'pathname', value: pathname }] });
    assert.equal((await post(carol, page('/reports'))).status, 403);
    assert.match((await post(bob, page('/reports'))).text, /Confidential/);
  });
  it('an href that is not a string is refused (400)', async () => {
    for (const href of [1, true, ['http://x/reports'], { href: 'http://x/reports' }]) {
      const answer = await post(carol, where(href));
      assert.ok(answer.status === 400 || !SECRET.test(answer.text), JSON.stringify(href));
      assert.doesNotMatch(answer.text, SECRET);
    }
  });
});
