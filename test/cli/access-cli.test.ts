import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { buildApp, type Gateway } from '../../src/app.js';
import { ApiTokenManager } from '../../src/auth/api-tokens.js';
import { loadConfig } from '../../src/config/load.js';
import { openStore, type Store } from '../../src/store/store.js';
import { rawRequest, startRecordingUpstream } from '../helpers/harness.js';

const BIN = resolve(import.meta.dirname, '../../bin/dashgate.js');

function dashgate(args: string[]) {
  const run = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, DASHGATE_LOG__LEVEL: 'silent' } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The verdict line `explain` ends with. */
function resultOf(stdout: string): string {
  const line = /^result: (.*)$/m.exec(stdout)?.[1];
  assert.ok(line, `no result line in:\n${stdout}`);
  return line;
}

const CALLBACK = ['--method', 'POST', '--output', 'salary-table.data', '/_dash-update-component'];

/**
 * `dashgate access explain` in a child process, against a dashgate.yaml with path rules, a
 * groups default and a Dash callback rule; users and groups made with the users and groups
 * commands. Then the same configuration is run as a gateway, and every verdict explain printed is
 * checked against what the gateway actually answers.
 */
describe('dashgate access explain (the real CLI in a child process)', () => {
  let dir: string;
  const config = () => ['--config', join(dir, 'dashgate.yaml'), '--data-dir', dir];
  const explain = (...args: string[]) => dashgate(['access', 'explain', ...args, ...config()]);
  // Each run is a child process (~1.5 s); the gateway comparison below reuses what the tests printed.
  const printed = new Map<string, string>();
  const explainOk = (...args: string[]) => {
    const key = args.join('\u0000');
    const seen = printed.get(key);
    if (seen !== undefined) return seen;
    const run = explain(...args);
    assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
    assert.equal(run.stderr, '');
    printed.set(key, run.stdout);
    return run.stdout;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dashgate-access-cli-'));
    writeFileSync(
      join(dir, 'dashgate.yaml'),
      [
        'access:',
        '  default: { groups: [analysts] }',
        '  rules:',
        '    - path: /reports/**',
        '      groups: [finance]',
        '    - path: /public/**',
        '      policy: public',
        'dash:',
        '  callbacks:',
        "    - outputs: ['salary-table.data']",
        '      groups: [hr]',
        '',
      ].join('\n'),
    );
    for (const args of [
      ['users', 'add', 'ana', '--no-password', '--groups', 'analysts'],
      ['users', 'add', 'fin', '--no-password', '--groups', 'finance'],
      ['users', 'add', 'hanna', '--no-password'],
      ['groups', 'grant', 'hr', 'hanna'],
      ['groups', 'grant', 'analysts', 'hanna'],
      ['users', 'add', 'harry', '--no-password', '--groups', 'hr'],
      ['users', 'add', 'dora', '--no-password', '--groups', 'analysts'],
      ['users', 'disable', 'dora'],
    ]) {
      const run = dashgate([...args, ...config()]);
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('anonymous on /public/x: rule 1 is skipped, rule 2 (public) decides, ALLOW', () => {
    const out = explainOk('/public/x');
    assert.match(out, /^GET \/public\/x by an anonymous caller$/m);
    assert.match(out, /^ {2}rule 1: \/reports\/\*\* → skipped \(path \/public\/x does not match\)$/m);
    assert.match(out, /^ {2}rule 2: \/public\/\*\* → matches$/m);
    assert.match(out, /^ {2}verdict: ALLOW, because the path is public$/m);
    assert.equal(resultOf(out), 'ALLOW');
  });

  it('an analyst on /reports/q3: rule 1 decides (first match wins), FORBIDDEN, naming the group it asks for', () => {
    const out = explainOk('--user', 'ana', '/reports/q3');
    assert.match(out, /^GET \/reports\/q3 by "ana" \(groups: analysts\)$/m);
    assert.match(out, /^ {2}rule 1: \/reports\/\*\* → matches$/m);
    assert.doesNotMatch(out, /rule 2/, 'rules after the deciding one are not consulted');
    assert.doesNotMatch(out, /access\.default/);
    assert.match(out, /^ {2}policy: groups, any of: finance$/m);
    assert.match(out, /^ {2}verdict: FORBIDDEN \(403\), because "ana" is in none of them \(has analysts\)$/m);
    assert.equal(resultOf(out), 'FORBIDDEN (403)');
  });

  it('a finance user on /reports/q3: ALLOW by rule 1', () => {
    const out = explainOk('--user', 'fin', '/reports/q3');
    assert.match(out, /^ {2}rule 1: \/reports\/\*\* → matches$/m);
    assert.match(out, /because "fin" is in finance$/m);
    assert.equal(resultOf(out), 'ALLOW');
    assert.equal(resultOf(explainOk('--user', 'fin', '/reports')), 'ALLOW', '/reports/** covers /reports itself');
  });

  it('elsewhere access.default ({ groups: [analysts] }) decides: analysts pass, others are refused, anonymous callers must sign in', () => {
    const analyst = explainOk('--user', 'ana', '/anything');
    assert.match(analyst, /^ {2}rule 1: .* → skipped \(path \/anything does not match\)$/m);
    assert.match(analyst, /^ {2}rule 2: .* → skipped \(path \/anything does not match\)$/m);
    assert.match(analyst, /^ {2}no rule matches: access\.default decides$/m);
    assert.match(analyst, /^ {2}policy: groups, any of: analysts$/m);
    assert.equal(resultOf(analyst), 'ALLOW');
    assert.equal(resultOf(explainOk('--user', 'fin', '/anything')), 'FORBIDDEN (403)');
    const anonymous = explainOk('/anything');
    assert.match(anonymous, /because an anonymous caller must sign in first$/m);
    assert.match(resultOf(anonymous), /^SIGN IN REQUIRED/);
  });

  it('a Dash callback is judged by its outputs after the path rules: analysts are refused salary-table.data, hr+analysts may write it', () => {
    const analyst = explainOk('--user', 'ana', ...CALLBACK);
    assert.match(analyst, /^POST \/_dash-update-component by "ana" \(groups: analysts\)$/m);
    assert.match(analyst, /^ {2}verdict: ALLOW, because "ana" is in analysts$/m, 'the path rules allow');
    assert.match(analyst, /^ {2}callback rule 1: salary-table\.data → applies \(groups, any of: hr\): refuses$/m);
    assert.equal(resultOf(analyst), 'FORBIDDEN (403)');

    const hanna = explainOk('--user', 'hanna', ...CALLBACK);
    assert.match(hanna, /by "hanna" \(groups: analysts, hr\)$/m, 'groups granted with `dashgate groups grant`');
    assert.match(hanna, /callback rule 1: salary-table\.data → applies \(groups, any of: hr\): allows$/m);
    assert.equal(resultOf(hanna), 'ALLOW');

    // hr alone is not enough: the path default (analysts) refuses before the callback rule could allow.
    const harry = explainOk('--user', 'harry', ...CALLBACK);
    assert.match(harry, /^ {2}verdict: FORBIDDEN \(403\), because "harry" is in none of them \(has hr\)$/m);
    assert.equal(resultOf(harry), 'FORBIDDEN (403)');
  });

  it('callback outputs are read the way Dash names them: an allow_duplicate "@hash", several outputs, an unprotected one', () => {
    assert.equal(resultOf(explainOk('--user', 'ana', '--method', 'POST', '--output', 'salary-table.data@0a1b2c', '/_dash-update-component')), 'FORBIDDEN (403)');
    assert.equal(resultOf(explainOk('--user', 'ana', '--method', 'post', '--output', 'chart.figure', '--output', 'salary-table.data', '/_dash-update-component')), 'FORBIDDEN (403)');
    const other = explainOk('--user', 'ana', '--method', 'POST', '--output', 'chart.figure', '/_dash-update-component');
    assert.match(other, /callback rule 1: salary-table\.data → does not apply$/m);
    assert.equal(resultOf(other), 'ALLOW');
    const unjudged = explainOk('--user', 'ana', '--method', 'POST', '/_dash-update-component');
    assert.match(unjudged, /pass --output <id\.prop> to judge a callback/);
  });

  it('judges the canonical path the gateway would: dot segments (also encoded), ;params, absolute URLs', () => {
    const sneaky = explainOk('--user', 'ana', '/public/x/%2e%2e/%2e%2e/reports/q3');
    assert.match(sneaky, /^GET \/reports\/q3 by "ana"/m);
    assert.match(sneaky, /rule 1: \/reports\/\*\* → matches/);
    assert.equal(resultOf(sneaky), 'FORBIDDEN (403)', 'a walk out of /public/** is not public');

    const params = explainOk('--user', 'ana', '/reports;jsessionid=1/q3');
    assert.match(params, /^ {2}rules see \/reports\/q3 \(";params" removed\)$/m);
    assert.equal(resultOf(params), 'FORBIDDEN (403)');

    const absolute = explainOk('--user', 'ANA', 'https://dash.example.com/reports/q3?download=1');
    assert.match(absolute, /^GET \/reports\/q3 on host dash\.example\.com by "ana"/m, 'user names are matched case-insensitively; the query is not part of the path');
    assert.equal(resultOf(absolute), 'FORBIDDEN (403)');
  });

  it('a disabled user is judged as the gateway treats them: signed out', () => {
    const out = explainOk('--user', 'dora', '/anything');
    assert.match(out, /^note: "dora" is disabled; the gateway treats a disabled account as signed out$/m);
    assert.match(resultOf(out), /^SIGN IN REQUIRED/);
  });

  it('paths the gateway refuses with 400, non-paths and unknown users: exit code 2, one line on stderr, no verdict', () => {
    for (const [args, pattern] of [
      [['/a/../b%2fc'], /refuses this path with 400 before any rule/],
      [['/..'], /refuses this path with 400/],
      [['/reports/..;/admin'], /refuses this path with 400/],
      [['reports/q3'], /expected a path like \/reports\/q3 or a URL like https:\/\/dash\.example\.com\/reports\/q3, got "reports\/q3"/],
      [['--user', 'nobody', '/reports/q3'], /no user "nobody"/],
    ] as const) {
      const run = explain(...args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
      assert.match(run.stderr, pattern);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.doesNotMatch(run.stdout, /result:/);
    }
  });

  /**
   * explain promises "the same code the gateway runs": the same configuration, as a gateway in
   * front of a recording app, must answer every case the way explain said (ALLOW → 200,
   * FORBIDDEN → 403, SIGN IN REQUIRED → 401 for a script). Users call with API tokens.
   */
  describe('agrees with the running gateway', () => {
    let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
    let store: Store;
    let gateway: Gateway;
    let url: string;
    const tokenOf = new Map<string, string>();

    before(async () => {
      // A Dash-like app: it declares its callbacks (the gateway reads them to judge pages) and answers the rest.
      upstream = await startRecordingUpstream((req, res) => {
        const body = req.url?.endsWith('/_dash-dependencies')
          ? JSON.stringify(['salary-table.data', 'chart.figure'].map((output) => ({ output, inputs: [], state: [], clientside_function: null })))
          : JSON.stringify({ url: req.url });
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      });
      const loaded = loadConfig({ file: join(dir, 'dashgate.yaml'), env: {}, overrides: { upstream: upstream.url, data_dir: dir, log: { level: 'silent', format: 'json' } } });
      store = await openStore({ dataDir: dir });
      gateway = await buildApp(loaded, { store, logger: pino({ level: 'silent' }) });
      await gateway.app.listen({ port: 0, host: '127.0.0.1' });
      url = `http://127.0.0.1:${(gateway.app.server.address() as AddressInfo).port}`;
      const tokens = new ApiTokenManager(store, { cacheTtlMs: 0, touchIntervalMs: 0 }, Date.now);
      for (const name of ['ana', 'fin', 'hanna', 'harry']) {
        tokenOf.set(name, (await tokens.create((await store.users.findByUsername(name))!, { name: 'explain check', expiresAt: null, createdBy: 'test' })).token);
      }
    });
    after(async () => {
      await gateway?.close();
      await store?.close();
      await upstream?.close();
    });

    const STATUS_OF: Record<string, number> = { ALLOW: 200, 'FORBIDDEN (403)': 403, 'SIGN IN REQUIRED (303 to the login page, or 401 JSON)': 401 };

    for (const [user, target, method, output] of [
      [null, '/public/x', 'GET', null],
      ['ana', '/reports/q3', 'GET', null],
      ['fin', '/reports/q3', 'GET', null],
      ['ana', '/anything', 'GET', null],
      ['fin', '/anything', 'GET', null],
      [null, '/anything', 'GET', null],
      ['ana', '/_dash-update-component', 'POST', 'salary-table.data'],
      ['hanna', '/_dash-update-component', 'POST', 'salary-table.data'],
      ['harry', '/_dash-update-component', 'POST', 'salary-table.data'],
      ['ana', '/_dash-update-component', 'POST', 'chart.figure'],
      ['ana', '/public/x/%2e%2e/%2e%2e/reports/q3', 'GET', null],
      ['fin', '/reports;jsessionid=1/q3', 'GET', null],
    ] as const) {
      it(`${method} ${target}${output ? ` (${output})` : ''} by ${user ?? 'an anonymous caller'}`, async () => {
        const said = resultOf(explainOk(...(user ? ['--user', user] : []), ...(method === 'GET' ? [] : ['--method', method]), ...(output ? ['--output', output] : []), target));
        const dot = output?.lastIndexOf('.') ?? -1;
        const body = output ? JSON.stringify({ output, outputs: { id: output.slice(0, dot), property: output.slice(dot + 1) }, inputs: [], changedPropIds: [] }) : undefined;
        const headers: Record<string, string> = { accept: 'application/json', ...(user ? { authorization: `Bearer ${tokenOf.get(user)!}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) };
        const proxied = () => upstream.requests.filter((r) => !r.url.endsWith('/_dash-dependencies')).length;
        const before = proxied();
        const answer = await rawRequest(url, target, { method, headers, ...(body ? { body } : {}) });
        assert.equal(answer.status, STATUS_OF[said], `explain said ${said}; the gateway answered ${answer.status} ${answer.body}`);
        assert.equal(proxied() - before, said === 'ALLOW' ? 1 : 0);
      });
    }
  });
});
