import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callbackOutputs, CallbackRules, compileOutputPattern, parseOutputSpec } from '../../src/access/dash-callbacks.js';
import { compileHostPattern, compilePathPattern } from '../../src/access/patterns.js';
import { AccessRules } from '../../src/access/rules.js';
import { parseConfig } from '../../src/config/load.js';
import { GatewayError } from '../../src/errors.js';
import { canonicalizeTarget } from '../../src/pipeline/canonical-path.js';
import type { User } from '../../src/store/types.js';

const user = (username: string, groups: string[] = []): User => ({ id: username, username, displayName: null, email: null, isAdmin: false, status: 'active', groups, createdAt: 0 });
const alice = user('alice', ['analysts']);
const fiona = user('fiona', ['analysts', 'finance']);
const harry = user('harry', ['hr']);

function engine(access: unknown, dash: unknown = {}) {
  return new AccessRules(parseConfig({ upstream: 'http://127.0.0.1:1', access, dash }));
}
const at = (path: string, method = 'GET', hostname = 'dash.example.com') => ({ matchPath: canonicalizeTarget(path).matchPath, hostname, method });

describe('path patterns', () => {
  it('"/**" means the prefix itself and everything below, and nothing that merely starts alike', () => {
    const re = compilePathPattern('/reports/**');
    for (const p of ['/reports', '/reports/', '/reports/q3', '/reports/q3/x.csv']) assert.ok(re.test(p), p);
    for (const p of ['/reportsx', '/report', '/', '/x/reports']) assert.ok(!re.test(p), p);
  });
  it('"*" stays inside one segment and needs at least one character as a whole segment', () => {
    const re = compilePathPattern('/team/*/edit');
    assert.ok(re.test('/team/a/edit'));
    assert.ok(!re.test('/team/a/b/edit'));
    assert.ok(!re.test('/team//edit'));
    assert.ok(compilePathPattern('/files/*.csv').test('/files/q3.csv'));
    assert.ok(!compilePathPattern('/files/*.csv').test('/files/a/q3.csv'));
  });
  it('exact patterns ignore a trailing slash but nothing else, case-sensitively', () => {
    const re = compilePathPattern('/admin');
    assert.ok(re.test('/admin') && re.test('/admin/'));
    assert.ok(!re.test('/Admin') && !re.test('/admin/x') && !re.test('/admin.json'));
  });
  it('regex characters in patterns are literal', () => {
    assert.ok(compilePathPattern('/a.b/(x)+').test('/a.b/(x)+'));
    assert.ok(!compilePathPattern('/a.b').test('/axb'));
  });
  it('host patterns: exact or one-or-more labels under a wildcard', () => {
    assert.ok(compileHostPattern('dash.example.com').test('dash.example.com'));
    assert.ok(!compileHostPattern('dash.example.com').test('dash.example.com.evil'));
    assert.ok(compileHostPattern('*.example.com').test('a.b.example.com'));
    assert.ok(!compileHostPattern('*.example.com').test('example.com'));
    assert.ok(!compileHostPattern('*.example.com').test('evilexample.com'));
  });
});

describe('access rules', () => {
  const rules = engine({
    default: { groups: ['analysts'] },
    rules: [
      { path: '/public/**', policy: 'public' },
      { path: '/reports/**', groups: ['finance'] },
      { path: '/ops/**', users: ['Harry'] },
      { path: '/both/**', groups: ['analysts', 'finance'], match: 'all' },
      { path: '/api/**', methods: ['GET'], policy: 'authenticated', allow_basic: true },
      { path: '/api/**', policy: 'deny' },
      { host: 'admin.example.com', path: '/**', policy: 'deny' },
    ],
  });
  const verdict = (u: User | null, path: string, method = 'GET', host = 'dash.example.com') => rules.explain(at(path, method, host), u).verdict;

  it('first match wins, then the default', () => {
    assert.equal(verdict(null, '/public/x'), 'allow');
    assert.equal(verdict(null, '/anything'), 'login_required');
    assert.equal(verdict(alice, '/anything'), 'allow');
    assert.equal(verdict(harry, '/anything'), 'forbidden');
    assert.equal(verdict(alice, '/reports/q3'), 'forbidden');
    assert.equal(verdict(fiona, '/reports/q3'), 'allow');
  });
  it('users are compared in canonical form; all-of groups need every group', () => {
    assert.equal(verdict(harry, '/ops/x'), 'allow');
    assert.equal(verdict(alice, '/ops/x'), 'forbidden');
    assert.equal(verdict(alice, '/both'), 'forbidden');
    assert.equal(verdict(fiona, '/both'), 'allow');
  });
  it('methods: GET covers HEAD, other methods fall through to later rules', () => {
    assert.equal(rules.match(at('/api/x', 'GET')).allowBasic, true);
    assert.equal(rules.match(at('/api/x', 'HEAD')).allowBasic, true);
    assert.equal(verdict(alice, '/api/x', 'POST'), 'forbidden');
    assert.equal(verdict(alice, '/api/x', 'OPTIONS'), 'forbidden');
  });
  it('hosts are matched on the normalised Host', () => {
    assert.equal(verdict(fiona, '/public/x', 'GET', 'admin.example.com'), 'allow', 'the earlier public rule still wins');
    assert.equal(verdict(fiona, '/x', 'GET', 'admin.example.com'), 'forbidden');
  });
  it('";params" never end a match: /reports;x=1/q3 is judged as /reports/q3', () => {
    assert.equal(verdict(alice, '/reports;x=1/q3'), 'forbidden');
    assert.equal(verdict(alice, '/;x/reports/q3'), 'forbidden');
  });
  it('deny refuses even anonymous callers with 403: signing in would not help', () => {
    assert.equal(verdict(null, '/api/x', 'DELETE'), 'forbidden');
  });
  it('explain names the deciding rule and the reason', () => {
    const { lines } = rules.explain(at('/reports/q3'), alice);
    const text = lines.join('\n');
    assert.match(text, /rule 1: \/public\/\*\* → skipped \(path \/reports\/q3 does not match\)/);
    assert.match(text, /rule 2: \/reports\/\*\* → matches/);
    assert.match(text, /"alice" is in none of them \(has analysts\)/);
  });
  it('the Dash framework switch makes only the drawing routes under dash.prefix public', () => {
    const open = engine({ public_dash_framework: true }, { prefix: '/app/' });
    assert.equal(open.explain(at('/app/_dash-layout'), null).verdict, 'allow');
    assert.equal(open.explain(at('/app/_dash-component-suites/dash/deps/x.js'), null).verdict, 'allow');
    assert.equal(open.explain(at('/_dash-layout'), null).verdict, 'login_required', 'outside the prefix');
    assert.equal(open.explain(at('/app/_dash-update-component', 'POST'), null).verdict, 'login_required', 'callbacks stay protected');
    assert.equal(open.explain(at('/app/_dash-layout', 'POST'), null).verdict, 'login_required');
    assert.equal(engine({}).explain(at('/_dash-layout'), null).verdict, 'login_required', 'off by default');
  });
});

describe('access config errors', () => {
  it('lists every problem with its path', () => {
    assert.throws(
      () =>
        parseConfig({
          upstream: 'http://127.0.0.1:1',
          access: {
            default: 'sometimes',
            rules: [
              { path: 'reports' },
              { path: '/a/**/b', policy: 'public' },
              { path: '/x', policy: 'public', groups: ['hr'] },
              { path: '/y', groups: ['bad name!'] },
              { path: '/z', policy: 'groups' },
              { path: '/q', groups: ['a'], users: ['b'] },
              { path: '/%2e/x', policy: 'public' },
              { host: 'http://x', path: '/', policy: 'public' },
            ],
          },
          dash: { callbacks: [{ outputs: ['no-dot'], groups: ['hr'] }, { outputs: ['{bad json.data'], groups: ['hr'] }] },
        }),
      (err: Error & { problems?: string[] }) => {
        const text = err.problems!.join('\n');
        assert.match(text, /^access\.default: expected public, authenticated, deny, or a policy/m);
        for (const path of ['access.default', 'access.rules.0.path', 'access.rules.0.policy', 'access.rules.1.path', 'access.rules.2.groups', 'access.rules.3.groups.0', 'access.rules.4.groups', 'access.rules.5.policy', 'access.rules.6.path', 'access.rules.7.host', 'dash.callbacks.0.outputs.0', 'dash.callbacks.1.outputs.0']) {
          assert.match(text, new RegExp(`^${path.replaceAll('.', '\\.')}: `, 'm'), `${path} in:\n${text}`);
        }
        return true;
      },
    );
  });
});

describe('Dash callback bodies', () => {
  it('reads single, multiple, duplicate (@hash) and pattern-matching outputs the way Dash splits them', () => {
    assert.deepEqual(callbackOutputs({ output: 'tbl.data' }), [{ id: 'tbl', property: 'data' }]);
    assert.deepEqual(callbackOutputs({ output: '..a.children...b.style..' }), [
      { id: 'a', property: 'children' },
      { id: 'b', property: 'style' },
    ]);
    assert.deepEqual(callbackOutputs({ output: 'tbl.data@0a1b2c' }), [{ id: 'tbl', property: 'data' }]);
    assert.deepEqual(callbackOutputs({ output: 'my\\.id.value' }), [{ id: 'my.id', property: 'value' }]);
    const pm = callbackOutputs({
      output: '{"index":["ALL"],"type":"cell"}.children',
      outputs: [
        { id: { index: 1, type: 'cell' }, property: 'children' },
        { id: { index: 2, type: 'cell' }, property: 'children' },
      ],
    });
    assert.deepEqual(pm[0], { id: { index: ['ALL'], type: 'cell' }, property: 'children' });
    assert.equal(pm.length, 3);
  });
  it('refuses bodies Dash could not dispatch', () => {
    for (const body of [null, [], 'x', {}, { output: 3 }, { output: '' }, { output: 'a.b', outputs: [1] }, { output: 'a.b', outputs: { id: [], property: 'x' } }]) {
      assert.throws(() => callbackOutputs(body), (err: unknown) => err instanceof GatewayError && err.code === 'BAD_CALLBACK', JSON.stringify(body));
    }
  });
  it('output patterns: globs on ids and properties, JSON ids with "*" values, request wildcards match any value', () => {
    const salary = compileOutputPattern('salary-table.data');
    assert.ok(salary(parseOutputSpec('salary-table.data')));
    assert.ok(!salary(parseOutputSpec('salary-table.columns')));
    assert.ok(!salary(parseOutputSpec('salary-table-2.data')));
    const secret = compileOutputPattern('secret-*.children');
    assert.ok(secret(parseOutputSpec('secret-1.children')) && !secret(parseOutputSpec('public-1.children')));
    const cells = compileOutputPattern('{"type":"salary-cell","index":"*"}.children');
    assert.ok(cells({ id: { type: 'salary-cell', index: 4 }, property: 'children' }));
    assert.ok(cells({ id: { type: 'salary-cell', index: ['ALL'] }, property: 'children' }));
    assert.ok(!cells({ id: { type: 'other-cell', index: 4 }, property: 'children' }));
    assert.ok(!cells({ id: { type: 'salary-cell' }, property: 'children' }), 'a pattern key the id lacks');
    const third = compileOutputPattern('{"type":"salary-cell","index":3}.children');
    assert.ok(third({ id: { type: 'salary-cell', index: ['MATCH'] }, property: 'children' }), 'MATCH may stand for 3');
    assert.ok(!third({ id: { type: 'salary-cell', index: 4 }, property: 'children' }));
    assert.ok(compileOutputPattern('*salary*.children')({ id: { type: 'salary-cell', index: 1 }, property: 'children' }), 'string globs see JSON ids too');
  });
  it('every rule that matches any output must allow', () => {
    const rules = new CallbackRules([
      { outputs: ['salary-table.data'], groups: ['hr'] },
      { outputs: ['*.data'], policy: 'authenticated' },
      { outputs: ['audit.*'], policy: 'deny' },
    ]);
    assert.equal(rules.judge(parseOutputs('..chart.figure...salary-table.data..'), alice).verdict, 'forbidden');
    assert.equal(rules.judge(parseOutputs('..chart.figure...salary-table.data..'), harry).verdict, 'allow');
    assert.equal(rules.judge(parseOutputs('chart.figure'), null).verdict, 'allow', 'no rule applies');
    assert.equal(rules.judge(parseOutputs('other.data'), null).verdict, 'login_required');
    assert.equal(rules.judge(parseOutputs('audit.children'), harry).verdict, 'forbidden');
  });
});

function parseOutputs(output: string) {
  return callbackOutputs({ output });
}
