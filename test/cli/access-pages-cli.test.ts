/**
 * `dashgate access explain` for pages (--location, --input) and `dashgate access callbacks`
 * against a real Dash Pages app: the real CLI in a child process, and the verdicts it prints
 * checked against what a gateway with the same configuration answers.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startGunicorn, stopProcessGroup } from '../helpers/browser.js';
import { BIN } from '../helpers/cli-process.js';
import { createUser, signIn, startGateway, type TestGateway } from '../helpers/harness.js';
import { loadConfig } from '../../src/config/load.js';

function dashgate(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, DASHGATE_LOG__LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

const YAML = `access:
  rules:
    - path: /about
      policy: public
    - name: finance reports
      path: /reports/**
      groups: [finance]
      components: [load-figures, report-*]
dash:
  callbacks:
    - outputs: [about-extra.children]
      groups: [finance]
`;

describe('access explain and access callbacks for a multi-page Dash app', { timeout: 180_000 }, () => {
  let dir: string;
  let dash: ChildProcess | undefined;
  let appUrl: string;
  const flags = () => ['--config', join(dir, 'dashgate.yaml'), '--data-dir', dir];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dashgate-pages-cli-'));
    writeFileSync(join(dir, 'dashgate.yaml'), YAML);
    const started = await startGunicorn('test/fixtures/dash_pages');
    dash = started.child;
    appUrl = started.url;
    for (const [name, groups] of [['carol', 'analysts'], ['bob', 'analysts,finance']] as const) {
      const made = await dashgate(['users', 'add', name, '--groups', groups, '--password-stdin', ...flags()], 'pages passphrase 1');
      assert.equal(made.code, 0, made.stderr);
    }
  });
  after(async () => {
    if (dash) await stopProcessGroup(dash);
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the app\'s callbacks with what guards each, and points at the ones only the endpoint rule guards', async () => {
    const run = await dashgate(['access', 'callbacks', '--upstream', appUrl, '--config', join(dir, 'dashgate.yaml')]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^5 callbacks in /);
    assert.match(run.stdout, /\.\._pages_content\.children\.\.\._pages_store\.data\.\. {2}← _pages_location\.pathname, _pages_location\.search\n {6}renders pages: judged by the path rules/);
    assert.match(run.stdout, /report-figures\.children {2}← load-figures\.n_clicks\n {6}rule 2 \(finance reports\) lists its component report-figures/);
    assert.match(run.stdout, /about-extra\.children {2}← about-more\.n_clicks\n {6}callback rule 1: about-extra\.children → applies/);
    assert.match(run.stdout, /\{"index":\["MATCH"\],"type":"report-row"\}\.children {2}← .*\n {6}only the rule of the callback endpoint/);
    assert.match(run.stdout, /1 callback\(s\) are guarded only by the rule of the callback endpoint/);
    const json = JSON.parse((await dashgate(['access', 'callbacks', '--json', '--upstream', appUrl, '--config', join(dir, 'dashgate.yaml')])).stdout) as Array<{ output: string; onlyEndpointRule: boolean }>;
    assert.deepEqual(json.filter((r) => r.onlyEndpointRule).map((r) => r.output), ['{"index":["MATCH"],"type":"report-row"}.children']);
  });

  it('says so when the app cannot be read', async () => {
    const run = await dashgate(['access', 'callbacks', '--upstream', 'http://127.0.0.1:1', '--config', join(dir, 'dashgate.yaml')]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /could not read the app's callbacks/);
  });

  describe('explains pages the way the gateway judges them', () => {
    let gw: TestGateway;
    const cookies = new Map<string, string>();
    before(async () => {
      const config = loadConfig({ file: join(dir, 'dashgate.yaml'), env: {} });
      gw = await startGateway(appUrl, { access: config.access as never, dash: { callbacks: config.dash.callbacks as never } });
      for (const name of ['carol', 'bob']) {
        await createUser(gw.store, name, 'pages passphrase 1', { groups: name === 'bob' ? ['analysts', 'finance'] : ['analysts'] });
        cookies.set(name, await signIn(gw.url, name, 'pages passphrase 1'));
      }
    });
    after(() => gw?.close());

    it('a location with a dot segment is refused by both: explain says so, the gateway answers 400', async () => {
      const run = await dashgate(['access', 'explain', '--user', 'carol', '--method', 'POST', '--location', '/about/../reports', '/_dash-update-component', ...flags()]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /refuses a callback naming "\/about\/\.\.\/reports" with 400/);
      const res = await fetch(`${gw.url}/_dash-update-component`, { method: 'POST', headers: { cookie: cookies.get('carol')!, 'content-type': 'application/json' }, body: JSON.stringify(ROUTER('/about/../reports')) });
      assert.equal(res.status, 400);
    });

    const ROUTER = (pathname: string) => ({ output: '.._pages_content.children..._pages_store.data..', outputs: [{ id: '_pages_content', property: 'children' }, { id: '_pages_store', property: 'data' }], inputs: [{ id: '_pages_location', property: 'pathname', value: pathname }, { id: '_pages_location', property: 'search', value: '' }], changedPropIds: [] });
    const FIGURES = { output: 'report-figures.children', outputs: { id: 'report-figures', property: 'children' }, inputs: [{ id: 'load-figures', property: 'n_clicks', value: 1 }], changedPropIds: [] };
    const STATUS: Record<string, number> = { ALLOW: 200, 'FORBIDDEN (403)': 403 };

    for (const [user, args, body] of [
      ['carol', ['--location', '/reports'], ROUTER('/reports')],
      ['carol', ['--location', '/rep%6frts'], ROUTER('/rep%6frts')],
      ['carol', ['--location', '/about'], ROUTER('/about')],
      ['bob', ['--location', '/reports/q3'], ROUTER('/reports/q3')],
      ['carol', ['--output', 'report-figures.children', '--input', 'load-figures'], FIGURES],
      ['bob', ['--output', 'report-figures.children', '--input', 'load-figures'], FIGURES],
    ] as const) {
      it(`${user} ${args.join(' ')}`, async () => {
        const run = await dashgate(['access', 'explain', '--user', user, '--method', 'POST', ...args, '/_dash-update-component', ...flags()]);
        assert.equal(run.code, 0, run.stderr);
        const said = /^result: (.*)$/m.exec(run.stdout)![1]!;
        if (args[0] === '--location') assert.match(run.stdout, /the page it renders, \/\S+, judged as GET/);
        const res = await fetch(`${gw.url}/_dash-update-component`, { method: 'POST', headers: { cookie: cookies.get(user)!, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        assert.equal(res.status, STATUS[said], `explain said ${said}, the gateway answered ${res.status}:\n${run.stdout}`);
      });
    }
  });
});
