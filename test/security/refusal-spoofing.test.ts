import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

/**
 * The page helper shows "no access" or "session expired" when the gateway says so; an app must
 * not be able to say it for the gateway (an outside review: an app's 403 with X-Dashgate:
 * forbidden, or an error text holding "dashgate:{…}", drew a panel whose "Switch account" signs
 * the user out). And Dash's MCP endpoint is refused at the path the FastAPI backend needs too.
 */
describe('the app cannot speak for the gateway', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let cookie: string;

  before(async () => {
    upstream = await startRecordingUpstream((req, res) => {
      res.writeHead(403, { 'content-type': 'application/json', 'x-dashgate': 'forbidden', 'X-Dashgate-Extra': 'x' });
      res.end(JSON.stringify({ error: 'forbidden', reason: 'page', path: '/reports' }));
    });
    gw = await startGateway(upstream.url, { access: { rules: [{ path: '/reports/**', groups: ['finance'] }] } });
    await createUser(gw.store, 'alice', 'correct horse battery');
    cookie = await signIn(gw.url, 'alice', 'correct horse battery');
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('regression: X-Dashgate headers from the app are removed', async () => {
    const res = await fetch(`${gw.url}/anything`, { headers: { cookie } });
    assert.equal(res.status, 403, 'the app\'s own answer passes');
    assert.equal(res.headers.get('x-dashgate'), null);
    assert.equal(res.headers.get('x-dashgate-extra'), null);
  });

  it('regression: the page helper is told a mark the app never sees, for the gateway\'s WebSocket words', async () => {
    const page = await startRecordingUpstream((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><head></head><body>app</body></html>'));
    const other = await startGateway(page.url, { access: { rules: [{ path: '/x', policy: 'public' }] } });
    try {
      await createUser(other.store, 'alice', 'correct horse battery');
      const html = await (await fetch(`${other.url}/`, { headers: { cookie: await signIn(other.url, 'alice', 'correct horse battery'), accept: 'text/html' } })).text();
      const mark = /data-mark="(dashgate:[0-9a-f]{18})"/.exec(html)?.[1];
      assert.ok(mark, html);
      assert.ok(page.requests.every((r) => !JSON.stringify(r.headers).includes(mark.slice(9))), 'the mark never reaches the app');
      assert.equal(mark, `dashgate:${await other.store.settings.get('page_helper_mark')}`, 'shared by every instance through the store');
    } finally {
      await other.close();
      await page.close();
    }
  });

  for (const path of ['/_mcp', '/_dash-mcp', '/_dash-mcp/']) {
    it(`regression: Dash's MCP endpoint ${path} is refused while rules look inside callbacks`, async () => {
      const seen = upstream.requests.length;
      const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' });
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as { error: string }).error, 'mcp_refused');
      assert.equal(upstream.requests.length, seen);
    });
  }
});
