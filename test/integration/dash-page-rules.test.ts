/**
 * Page rules for in-app navigation, over HTTP against real Dash 4.4.1 apps (Dash Pages, and the
 * tutorial's dcc.Location pattern) at "/" and under a prefix: a callback that would render a
 * finance-only page, or that belongs to one (`components`), is refused for carol however the
 * body is forged, and allowed for bob.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startGunicorn, stopProcessGroup } from '../helpers/browser.js';
import { createUser, signIn, startGateway, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'reports passphrase';
const ROUTER = '.._pages_content.children..._pages_store.data..';
const ROUTER_OUTPUTS = [
  { id: '_pages_content', property: 'children' },
  { id: '_pages_store', property: 'data' },
];

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

for (const prefix of ['/', '/app/']) {
  describe(`Dash Pages at ${prefix}: pages reached by in-app navigation are judged by the path rules`, { timeout: 120_000 }, () => {
    let dash: ChildProcess | undefined;
    let gw: TestGateway;
    let carol: string;
    let bob: string;
    let appUrl: string;

    before(async () => {
      const started = await startGunicorn('test/fixtures/dash_pages', { env: { DASH_PREFIX: prefix } });
      dash = started.child;
      appUrl = started.url;
      gw = await startGateway(started.url, pageRules(prefix));
      await createUser(gw.store, 'carol', PASSWORD, { groups: ['analysts'] });
      await createUser(gw.store, 'bob', PASSWORD, { groups: ['analysts', 'finance'] });
      carol = await signIn(gw.url, 'carol', PASSWORD);
      bob = await signIn(gw.url, 'bob', PASSWORD);
    });
    after(async () => {
      await gw?.close();
      if (dash) await stopProcessGroup(dash);
    });

    async function callback(cookie: string, body: object): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
      const res = await fetch(`${gw.url}${prefix}_dash-update-component`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
      const text = await res.text();
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(text);
      } catch {
        // 204 and the like
      }
      return { status: res.status, json, text };
    }
    const route = (pathname: unknown, search: unknown = '', ids = { path: ['_pages_location', 'pathname'], search: ['_pages_location', 'search'] }) => ({
      output: ROUTER,
      outputs: ROUTER_OUTPUTS,
      inputs: [
        { id: ids.path[0], property: ids.path[1], value: pathname },
        { id: ids.search[0], property: ids.search[1], value: search },
      ],
      changedPropIds: ['_pages_location.pathname'],
    });
    const at = (path: string) => `${prefix.replace(/\/$/, '')}${path}`;

    it('renders the reports page for bob (finance) and names the page it refuses carol', async () => {
      const allowed = await callback(bob, route(at('/reports')));
      assert.equal(allowed.status, 200);
      assert.match(allowed.text, /Confidential finance report/);
      const refused = await callback(carol, route(at('/reports')));
      assert.equal(refused.status, 403);
      assert.equal(refused.json.error, 'forbidden');
      assert.equal(refused.json.reason, 'page');
      assert.equal(refused.json.path, at('/reports'));
      assert.doesNotMatch(refused.text, /Confidential/);
    });

    it('keeps the other pages\' content out of every page\'s source (Dash embeds all page layouts in _dash-config)', async () => {
      const direct = await (await fetch(`${appUrl}${prefix}`)).text();
      assert.match(direct, /Confidential finance report/, 'the app itself embeds the reports layout');
      const res = await fetch(`${gw.url}${prefix}`, { headers: { cookie: carol, accept: 'text/html' } });
      const html = await res.text();
      assert.equal(res.status, 200);
      assert.doesNotMatch(html, /Confidential finance report|Revenue by region/);
      const config = JSON.parse(/<script id="_dash-config" type="application\/json">([\s\S]*?)<\/script>/.exec(html)![1]!) as { validation_layout: unknown };
      assert.match(JSON.stringify(config.validation_layout), /"id":"report-figures"/, 'the ids the renderer validates against stay');
    });

    it('lets carol navigate to the pages she may see', async () => {
      for (const path of ['/', '/about']) {
        const res = await callback(carol, route(at(path)));
        assert.equal(res.status, 200, path);
        assert.doesNotMatch(res.text, /Confidential/, path);
      }
    });

    const forged: Array<[string, () => object]> = [
      ['input ids that are not the location (Dash reads arguments by position)', () => route(at('/reports'), '', { path: ['totally-fake', 'nothing'], search: ['other', 'value'] })],
      ['the location given in the search argument\'s place too', () => route(at('/reports'), '?x=1')],
      ['a path_template page below it', () => route(at('/reports/q3'))],
      ['percent-encoded', () => route(at('/rep%6frts'))],
      ['with dot segments', () => route(at('/about/../reports'))],
      ['with repeated slashes', () => route(at('//reports'))],
      ['with a trailing slash', () => route(at('/reports/'))],
      ['with ;params', () => route(at('/reports;x=1'))],
      ['with a query in the pathname', () => route(`${at('/reports')}?tab=1`)],
      ['without the leading slash', () => route(at('/reports').slice(1))],
    ];
    if (prefix !== '/') forged.push(['glued to the prefix ("/appreports": Dash cuts "/app" without a slash boundary)', () => route('/appreports')]);
    for (const [name, body] of forged) {
      it(`refuses carol a forged page request: ${name}`, async () => {
        const res = await callback(carol, body());
        assert.ok(res.status === 403 || res.status === 400, `${res.status} ${res.text.slice(0, 200)}`);
        assert.doesNotMatch(res.text, /Confidential/);
      });
    }

    it('answers 400 for a location the gateway cannot judge (encoded "/"), and for a non-string one', async () => {
      assert.equal((await callback(carol, route(at('/reports%2fq3')))).status, 400);
      assert.equal((await callback(carol, route({ path: '/reports' }))).status, 400);
    });

    if (prefix !== '/') {
      it('a repeated prefix names another page, judged as that page (Dash renders its 404)', async () => {
        const res = await callback(carol, route('/app/app/reports'));
        assert.equal(res.status, 200);
        assert.doesNotMatch(res.text, /Confidential/);
      });
    }

    it('refuses carol the reports page\'s own callbacks posted directly: single, multi-output and pattern-matching, with any input ids', async () => {
      const bodies = [
        { output: 'report-figures.children', outputs: { id: 'report-figures', property: 'children' }, inputs: [{ id: 'load-figures', property: 'n_clicks', value: 1 }] },
        { output: '..report-total.children...report-note.children..', outputs: [{ id: 'report-total', property: 'children' }, { id: 'report-note', property: 'children' }], inputs: [{ id: 'innocent', property: 'n_clicks', value: 1 }] },
        { output: '{"index":["MATCH"],"type":"report-row"}.children', outputs: { id: { type: 'report-row', index: 1 }, property: 'children' }, inputs: [{ id: { type: 'report-region', index: 1 }, property: 'n_clicks', value: 1 }], changedPropIds: ['{"index":1,"type":"report-region"}.n_clicks'] },
      ];
      for (const body of bodies) {
        const refused = await callback(carol, body);
        assert.equal(refused.status, 403, body.output);
        assert.equal(refused.json.reason, 'page_component');
        assert.doesNotMatch(refused.text, /2\.1M|1\.2M|1\.05M/);
        const allowed = await callback(bob, body);
        assert.equal(allowed.status, 200, `${body.output} for bob: ${allowed.text.slice(0, 200)}`);
      }
      // The about page's callback is nobody's secret.
      const about = await callback(carol, { output: 'about-extra.children', outputs: { id: 'about-extra', property: 'children' }, inputs: [{ id: 'about-more', property: 'n_clicks', value: 1 }] });
      assert.equal(about.status, 200);
    });

    it('refuses a callback the app does not declare instead of forwarding it unjudged', async () => {
      const res = await callback(carol, { output: 'nothing-here.children', outputs: { id: 'nothing-here', property: 'children' }, inputs: [] });
      assert.equal(res.status, 400);
    });

    it('refuses Dash\'s MCP endpoint while rules look inside callbacks', async () => {
      const res = await fetch(`${gw.url}${prefix}_mcp`, { method: 'POST', headers: { cookie: bob, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'update', arguments: { pathname_: at('/reports'), search_: '' } } }) });
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as { error: string }).error, 'mcp_refused');
    });
  });
}

describe('dcc.Location routing (Dash\'s tutorial pattern): pathname and href', { timeout: 120_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let carol: string;
  let bob: string;

  before(async () => {
    const started = await startGunicorn('test/fixtures/dash_location');
    dash = started.child;
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

  async function post(cookie: string, body: object) {
    const res = await fetch(`${gw.url}/_dash-update-component`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  }
  const page = (pathname: string) => ({ output: 'page-content.children', outputs: { id: 'page-content', property: 'children' }, inputs: [{ id: 'url', property: 'pathname', value: pathname }] });
  const where = (href: string) => ({ output: 'where.children', outputs: { id: 'where', property: 'children' }, inputs: [{ id: 'url', property: 'href', value: href }] });

  it('judges the page-content callback by the pathname it carries', async () => {
    assert.equal((await post(carol, page('/reports'))).status, 403);
    assert.equal((await post(carol, page('/about'))).status, 200);
    const forBob = await post(bob, page('/reports'));
    assert.equal(forBob.status, 200);
    assert.match(forBob.text, /Confidential finance report/);
  });

  it('judges an href the way the browser and the app read it', async () => {
    for (const href of [`${gw.url}/reports`, `${gw.url}/about/../reports?x=1#y`, 'http://elsewhere.example/reports', '/reports', `${gw.url}/about\\..\\reports`]) {
      const res = await post(carol, where(href));
      // A backslash or a dot segment cannot be judged as the app will read it: 400.
      assert.equal(res.status, href.includes('\\') || href.includes('/../') ? 400 : 403, href);
      assert.doesNotMatch(res.text, /Confidential/, href);
    }
    const fine = await post(carol, where(`${gw.url}/about?next=/reports#/reports`));
    assert.equal(fine.status, 200);
    assert.match(fine.text, /You are at \\u002fabout/, "Dash escapes \"/\" in JSON");
  });
});
