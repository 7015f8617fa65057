import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawRequest, startGateway, startRecordingUpstream, type TestGateway, startSignedIn } from '../helpers/harness.js';

describe('routing: own routes, canonical paths and the page helper', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let cookie: string;
  const PAGE = '<!doctype html><html><head><title>Dash</title></head><body><div id="react-entry-point"></div></body></html>';

  let close: () => Promise<void>;

  before(async () => {
    ({ upstream, gw, cookie, close } = await startSignedIn({ handler: (req, res) => {
      if (req.url === '/page') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(PAGE) });
        return res.end(PAGE);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url }));
    } }));
  });
  after(() => close());

  it('never proxies a path that canonicalises into the gateway prefix', async () => {
    const before = upstream.requests.length;
    for (const path of ['/x/../_dashgate/login', '//_dashgate/health', '/_dashgate/nope', '/x/%2e%2e/_dashgate/api/session']) {
      const res = await rawRequest(gw.url, path, { headers: { cookie, accept: 'application/json' } });
      assert.equal(res.status, 404, path);
      assert.equal(JSON.parse(res.body).error, 'not_found', path);
    }
    // The router decodes %5f itself and serves the gateway's own page: still not proxied.
    assert.equal((await rawRequest(gw.url, '/%5fdashgate/health')).status, 200);
    assert.equal(upstream.requests.length, before);
  });

  it('forwards the canonical path that was judged', async () => {
    const res = await rawRequest(gw.url, '/a/./b/../c//d?q=%2F..', { headers: { cookie } });
    assert.equal(res.status, 200);
    assert.equal(upstream.requests.at(-1)!.url, '/a/c/d?q=%2F..');
  });

  it('answers 400 for a malformed path and forwards nothing', async () => {
    const before = upstream.requests.length;
    for (const path of ['/a%2fb', '/a%zz', '/..%2f', '/a%00']) {
      const res = await rawRequest(gw.url, path, { headers: { cookie, accept: 'application/json' } });
      assert.equal(res.status, 400, path);
      assert.equal(JSON.parse(res.body).error, 'bad_path', path);
    }
    assert.equal(upstream.requests.length, before);
  });

  it('adds the page helper to HTML pages and fixes Content-Length', async () => {
    const res = await fetch(`${gw.url}/page`, { headers: { cookie, accept: 'text/html' } });
    const html = await res.text();
    assert.match(html, /<head><script src="\/_dashgate\/static\/helper\.js" data-prefix="\/_dashgate" data-badge="bottom-right"[^>]*><\/script><title>/);
    assert.equal(Number(res.headers.get('content-length')), Buffer.byteLength(html));
    assert.equal(upstream.requests.at(-1)!.headers['accept-encoding'], undefined, 'pages are fetched uncompressed so the helper can be added');
  });

  it('answers HEAD of a page without the app\'s Content-Length (its GET is longer by the helper)', async () => {
    const head = await rawRequest(gw.url, '/page', { method: 'HEAD', headers: { cookie, accept: 'text/html' } });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], undefined);
  });

  it('leaves JSON responses alone', async () => {
    const res = await fetch(`${gw.url}/_dash-layout`, { headers: { cookie } });
    assert.deepEqual(await res.json(), { url: '/_dash-layout' });
  });

  it('serves the helper script and stylesheet', async () => {
    const js = await fetch(`${gw.url}/_dashgate/static/helper.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.match(await js.text(), /login-required/);
    const css = await fetch(`${gw.url}/_dashgate/static/style.css`);
    assert.match(css.headers.get('content-type') ?? '', /text\/css/);
  });
});

describe('page helper on large pages', () => {
  it('streams a page larger than page_helper.max_html_bytes untouched and complete', async () => {
    const big = `<html><head></head><body>${'<p>row</p>'.repeat(2000)}</body></html>`;
    const { gw, cookie, close } = await startSignedIn({ handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      // Chunked, in pieces: the gateway learns the size only while reading.
      for (let i = 0; i < big.length; i += 1000) res.write(big.slice(i, i + 1000));
      res.end();
    }, config: { page_helper: { max_html_bytes: 4096 } } });
    try {
      assert.equal(await (await fetch(`${gw.url}/`, { headers: { cookie } })).text(), big);
    } finally {
      await close();
    }
  });
});

describe('page helper opt-out', () => {
  it('does not touch pages when page_helper.enabled is false', async () => {
    const page = '<html><head></head><body>x</body></html>';
    const { gw, cookie, close } = await startSignedIn({ handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(page);
    }, config: { page_helper: { enabled: false } } });
    try {
      assert.equal(await (await fetch(`${gw.url}/`, { headers: { cookie } })).text(), page);
    } finally {
      await close();
    }
  });
});

describe('branding', () => {
  it('shows the configured app name and logo on the gateway pages, escaped', async () => {
    const upstream = await startRecordingUpstream();
    const gw = await startGateway(upstream.url, { branding: { app_name: 'Sales <dashboard>', logo_url: '/assets/logo.png?a=1&b="2"' } });
    try {
      const html = await (await fetch(`${gw.url}/_dashgate/login`)).text();
      assert.match(html, /<title>Sign in · Sales &lt;dashboard&gt;<\/title>/);
      assert.match(html, /<img class="logo" src="\/assets\/logo\.png\?a=1&amp;b=&quot;2&quot;" alt="" width="40" height="40">/);
      assert.doesNotMatch(html, /<dashboard>/);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
