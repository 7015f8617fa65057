/**
 * Regression tests for six bypasses of Dash-aware authorization found by an outside attack on
 * the first version (each of these failed then; each asserts what the gateway does now):
 *
 * B1  arguments moved from `inputs` to `state` (Dash concatenates inputs + state and checks only
 *     the total count; the gateway read inputs[i] and state[j] apart), HTTP and WebSocket
 * B2  dot segments in a pathname: the gateway resolved them, Dash does not, and a path_template
 *     page's `*` matches "/" ("/reports/../about" was judged as /about and rendered Quarter "../about")
 * B3  an href with a special scheme and no "//" ("https:/reports"): a browser reads host
 *     "reports", Python's urlsplit (the app) reads the path "/reports"
 * B4  a compressing app (Dash(compress=True)): page layouts reached a script asking for "/" with
 *     Accept-Encoding: gzip, because encoded HTML was passed on unread
 * B5  a page larger than page_helper.max_html_bytes passed on unread (Dash echoes the URL into
 *     the page, so a long query pushed it over)
 * B6  after a redeploy that moved a callback's arguments, the cached declaration judged the wrong position
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { findFreePort } from '../../src/runner/free-port.js';
import { REPO_ROOT, startGunicorn, startUvicorn, stopProcessGroup, testPython } from '../helpers/browser.js';
import { createUser, signIn, startGateway, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'reports passphrase';
const ROUTER = '.._pages_content.children..._pages_store.data..';
const ROUTER_OUTPUTS = [
  { id: '_pages_content', property: 'children' },
  { id: '_pages_store', property: 'data' },
];
const SECRET = /Confidential|Revenue by region/;

function pageRules(prefix: string, extra: object = {}) {
  return {
    access: {
      default: 'authenticated' as const,
      rules: [
        { path: `${prefix}about`, policy: 'public' as const },
        { name: 'finance reports', path: `${prefix}reports/**`, groups: ['finance'], components: ['load-figures', 'report-*'] },
      ],
    },
    dash: { prefix },
    ...extra,
  };
}

async function post(base: string, cookie: string, body: unknown, target = '/_dash-update-component') {
  const res = await fetch(`${base}${target}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

const routerBody = (pathname: string, search = '') => ({
  output: ROUTER,
  outputs: ROUTER_OUTPUTS,
  inputs: [
    { id: '_pages_location', property: 'pathname', value: pathname },
    { id: '_pages_location', property: 'search', value: search },
  ],
  changedPropIds: ['_pages_location.pathname'],
});
/** B1: the same arguments, in `state` instead of `inputs`. Dash runs args = inputs + state. */
const shifted = (body: { inputs: unknown[] }) => ({ ...body, inputs: [], state: body.inputs });

describe('Dash Pages at / (gunicorn)', { timeout: 120_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let carol: string;

  before(async () => {
    const started = await startGunicorn('test/fixtures/dash_pages');
    dash = started.child;
    gw = await startGateway(started.url, pageRules('/'));
    await createUser(gw.store, 'carol', PASSWORD, { groups: ['analysts'] });
    carol = await signIn(gw.url, 'carol', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    if (dash) await stopProcessGroup(dash);
  });

  it('regression B1: refuses the reports page when its location is sent as state instead of inputs', async () => {
    assert.equal((await post(gw.url, carol, routerBody('/reports'))).status, 403, 'baseline');
    const answer = await post(gw.url, carol, shifted(routerBody('/reports')));
    assert.doesNotMatch(answer.text, SECRET, `${answer.status}: ${answer.text.slice(0, 200)}`);
    assert.equal(answer.status, 400, 'a body whose inputs and state do not fit the declaration is not read any other way');
  });

  it('regression B1: refuses it with no "inputs" key at all, only "state"', async () => {
    const { inputs, ...rest } = routerBody('/reports');
    const answer = await post(gw.url, carol, { ...rest, state: inputs });
    assert.doesNotMatch(answer.text, SECRET, `${answer.status}: ${answer.text.slice(0, 200)}`);
  });

  for (const pathname of ['/reports/../about', '/reports/..', '/reports/x/../../about', '/reports/%2e%2e', '/reports//..', '/reports/./../']) {
    it(`regression B2: refuses the path_template page for ${pathname} (Dash renders Quarter "<dots>")`, async () => {
      const answer = await post(gw.url, carol, routerBody(pathname));
      assert.doesNotMatch(answer.text, SECRET, `${answer.status}: ${answer.text.slice(0, 200)}`);
    });
  }

  it('regression B5: keeps page layouts out of "/" however long the query makes the page', async () => {
    // A separate gateway with a small max_html_bytes: the app's "/" (~9 KB) fits, the padded one does not.
    const small = await startGateway(new URL(gw.gateway.config.upstream!).origin, pageRules('/', { page_helper: { max_html_bytes: 12_000 } }));
    try {
      await createUser(small.store, 'carol', PASSWORD, { groups: ['analysts'] });
      const cookie = await signIn(small.url, 'carol', PASSWORD);
      const plain = await (await fetch(`${small.url}/`, { headers: { cookie, accept: 'text/html' } })).text();
      assert.doesNotMatch(plain, SECRET, 'baseline: the layouts are removed');
      // gunicorn takes request lines up to 4094 bytes: 3500 bytes of query are enough here.
      const padded = await (await fetch(`${small.url}/?${'p'.repeat(3500)}`, { headers: { cookie, accept: 'text/html' } })).text();
      assert.doesNotMatch(padded, SECRET, 'Dash echoes the URL into the page; a long query pushes it past max_html_bytes');
    } finally {
      await small.close();
    }
  });
});

describe('Dash Pages under /app/ (gunicorn)', { timeout: 120_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let carol: string;

  before(async () => {
    const started = await startGunicorn('test/fixtures/dash_pages', { env: { DASH_PREFIX: '/app/' } });
    dash = started.child;
    gw = await startGateway(started.url, pageRules('/app/'));
    await createUser(gw.store, 'carol', PASSWORD, { groups: ['analysts'] });
    carol = await signIn(gw.url, 'carol', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    if (dash) await stopProcessGroup(dash);
  });

  for (const pathname of ['/app/reports/../about', '/appreports/..', '/app/reports/..']) {
    it(`regression B2: refuses the path_template page for ${pathname}`, async () => {
      const answer = await post(gw.url, carol, routerBody(pathname), '/app/_dash-update-component');
      assert.doesNotMatch(answer.text, SECRET, `${answer.status}: ${answer.text.slice(0, 200)}`);
    });
  }
  it('regression B1: refuses the location sent as state under the prefix', async () => {
    const answer = await post(gw.url, carol, shifted(routerBody('/app/reports')), '/app/_dash-update-component');
    assert.doesNotMatch(answer.text, SECRET, `${answer.status}: ${answer.text.slice(0, 200)}`);
  });
});

describe('dcc.Location routing (gunicorn)', { timeout: 120_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let carol: string;

  before(async () => {
    const started = await startGunicorn('test/fixtures/dash_location');
    dash = started.child;
    gw = await startGateway(started.url, pageRules('/'));
    await createUser(gw.store, 'carol', PASSWORD, { groups: ['analysts'] });
    carol = await signIn(gw.url, 'carol', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    if (dash) await stopProcessGroup(dash);
  });

  const page = (pathname: string) => ({ output: 'page-content.children', outputs: { id: 'page-content', property: 'children' }, inputs: [{ id: 'url', property: 'pathname', value: pathname }] });
  const where = (href: string) => ({ output: 'where.children', outputs: { id: 'where', property: 'children' }, inputs: [{ id: 'url', property: 'href', value: href }] });

  it('regression B1: refuses the page-content callback with the pathname sent as state', async () => {
    assert.equal((await post(gw.url, carol, page('/reports'))).status, 403, 'baseline');
    const answer = await post(gw.url, carol, shifted(page('/reports')));
    assert.doesNotMatch(answer.text, SECRET, `${answer.status}: ${answer.text.slice(0, 200)}`);
  });

  it('regression B1: refuses the href callback with the href sent as state', async () => {
    const answer = await post(gw.url, carol, shifted(where('http://x/reports')));
    assert.doesNotMatch(answer.text, SECRET, `${answer.status}: ${answer.text.slice(0, 200)}`);
  });

  for (const href of ['https:/reports', 'ws:/reports', 'wss:/reports', 'ftp:/reports']) {
    it(`regression B3: refuses an href the app's urlsplit reads as /reports: ${href}`, async () => {
      const answer = await post(gw.url, carol, where(href));
      assert.doesNotMatch(answer.text, SECRET, `${answer.status}: ${answer.text.slice(0, 200)}`);
    });
  }
});

describe('Dash Pages on FastAPI with compression and WebSocket callbacks (uvicorn)', { timeout: 120_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let carol: string;

  before(async () => {
    const started = await startUvicorn('test/fixtures/dash_pages_gzip', { env: { DASH_WEBSOCKET: '1' } });
    dash = started.child;
    gw = await startGateway(started.url, pageRules('/'));
    await createUser(gw.store, 'carol', PASSWORD, { groups: ['analysts'] });
    carol = await signIn(gw.url, 'carol', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    if (dash) await stopProcessGroup(dash);
  });

  for (const headers of [{ accept: 'application/json' }, { 'x-requested-with': 'XMLHttpRequest' }, { accept: 'application/json', 'x-requested-with': 'fetch' }] as Array<Record<string, string>>) {
    it(`regression B4: keeps page layouts out of "/" asked as a script (${JSON.stringify(headers)}) with Accept-Encoding: gzip`, async () => {
      // fetch() decompresses: what carol reads is the page as the app wrote it.
      const res = await fetch(`${gw.url}/`, { headers: { cookie: carol, 'accept-encoding': 'gzip', ...headers } });
      const html = await res.text();
      assert.equal(res.status, 200);
      assert.doesNotMatch(html, SECRET, `content-encoding: ${res.headers.get('content-encoding')}`);
    });
  }

  async function socket(): Promise<{ ws: WebSocket; call(id: string, payload: object): Promise<string> }> {
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/_dash-ws-callback`, { headers: { origin: gw.url, cookie: carol } });
    await once(ws, 'open');
    const texts: string[] = [];
    ws.on('message', (data) => texts.push(String(data)));
    return {
      ws,
      async call(requestId, payload) {
        ws.send(JSON.stringify({ type: 'callback_request', rendererId: 'r', requestId, payload }));
        for (let i = 0; i < 100; i++) {
          const found = texts.find((t) => t.includes(`"requestId":"${requestId}"`) || t.includes(`"requestId": "${requestId}"`));
          if (found) return found;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`no answer to ${requestId}`);
      },
    };
  }

  it('regression B1 over the WebSocket: refuses the location sent as state', async () => {
    const s = await socket();
    assert.match(await s.call('w-0', routerBody('/reports')), /dashgate:/, 'baseline');
    const answer = await s.call('w-1', shifted(routerBody('/reports')));
    s.ws.close();
    assert.doesNotMatch(answer, SECRET, answer.slice(0, 300));
  });

  it('regression B2 over the WebSocket: refuses /reports/../about', async () => {
    const s = await socket();
    const answer = await s.call('w-2', routerBody('/reports/../about'));
    s.ws.close();
    assert.doesNotMatch(answer, SECRET, answer.slice(0, 300));
  });
});

describe('B6: the cached callback declarations after a redeploy on the same address', { timeout: 120_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let port: number;
  let carol: string;

  async function startRelease(release: '1' | '2'): Promise<ChildProcess> {
    const child = spawn(testPython(), ['-m', 'gunicorn', '-w', '1', '-b', `127.0.0.1:${port}`, '--chdir', 'test/fixtures/dash_location_redeploy', 'app:server'], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore'],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', APP_RELEASE: release },
    });
    for (let i = 0; i < 600; i++) {
      const up = await fetch(`http://127.0.0.1:${port}/_dash-dependencies`, { signal: AbortSignal.timeout(2000) }).then(
        async (res) => (await res.arrayBuffer(), res.ok),
        () => false,
      );
      if (up) return child;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('gunicorn did not start');
  }

  before(async () => {
    port = await findFreePort();
    dash = await startRelease('1');
    gw = await startGateway(`http://127.0.0.1:${port}`, { access: { default: 'authenticated', rules: [{ path: '/about', policy: 'public' }, { path: '/reports/**', groups: ['finance'] }] } });
    await createUser(gw.store, 'carol', PASSWORD, { groups: ['analysts'] });
    carol = await signIn(gw.url, 'carol', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    if (dash) await stopProcessGroup(dash);
  });

  it('regression B6: judges the new release\'s argument order, not the cached one', async () => {
    // Release 1: page-content.children <- url.pathname. Judged, and its declaration cached.
    const v1 = await post(gw.url, carol, { output: 'page-content.children', outputs: { id: 'page-content', property: 'children' }, inputs: [{ id: 'url', property: 'pathname', value: '/about' }] });
    assert.equal(v1.status, 200);
    await stopProcessGroup(dash!);
    dash = await startRelease('2');
    // Release 2: page-content.children <- url.search, url.pathname. The gateway still reads inputs[0] as the pathname.
    const answer = await post(gw.url, carol, {
      output: 'page-content.children',
      outputs: { id: 'page-content', property: 'children' },
      inputs: [
        { id: 'url', property: 'search', value: '/about' },
        { id: 'url', property: 'pathname', value: '/reports' },
      ],
    });
    assert.doesNotMatch(answer.text, SECRET, `${answer.status}: ${answer.text.slice(0, 200)}`);
  });
});
