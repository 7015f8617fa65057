import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

const BIN = resolve(import.meta.dirname, '../../bin/dashgate.js');

/** `dashgate access explain` in a child process, against the example configuration. */
describe('dashgate access explain', () => {
  let dir: string;
  const config = () => ['--config', join(dir, 'dashgate.yaml'), '--data-dir', dir];
  const dashgate = (args: string[]) => {
    const run = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, DASHGATE_LOG__LEVEL: 'silent' } });
    return { code: run.status, stdout: run.stdout, stderr: run.stderr };
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dashgate-explain-'));
    writeFileSync(
      join(dir, 'dashgate.yaml'),
      [
        'access:',
        '  default: { groups: [analysts] }',
        '  rules:',
        '    - { path: /public/**, policy: public }',
        '    - { path: /reports/**, groups: [finance] }',
        'dash:',
        '  callbacks:',
        '    - { outputs: [salary-table.data], groups: [hr] }',
        '',
      ].join('\n'),
    );
    for (const [name, groups] of [['ana', 'analysts'], ['fin', 'analysts,finance'], ['hanna', 'analysts,hr']]) {
      const add = dashgate(['users', 'add', name!, '--no-password', '--groups', groups!, ...config()]);
      assert.equal(add.code, 0, add.stderr);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names the deciding rule and the reason, the way the gateway decides', () => {
    const publicPage = dashgate(['access', 'explain', '/public/x', ...config()]);
    assert.equal(publicPage.code, 0, publicPage.stderr);
    assert.match(publicPage.stdout, /^GET \/public\/x by an anonymous caller$/m);
    assert.match(publicPage.stdout, /rule 1: \/public\/\*\* → matches/);
    assert.match(publicPage.stdout, /^result: ALLOW$/m);

    const analyst = dashgate(['access', 'explain', '--user', 'ana', '/reports/q3', ...config()]);
    assert.match(analyst.stdout, /rule 2: \/reports\/\*\* → matches/);
    assert.match(analyst.stdout, /"ana" is in none of them \(has analysts\)/);
    assert.match(analyst.stdout, /^result: FORBIDDEN \(403\)$/m);

    assert.match(dashgate(['access', 'explain', '--user', 'fin', '/reports/q3', ...config()]).stdout, /^result: ALLOW$/m);
    const fallback = dashgate(['access', 'explain', '--user', 'ana', 'https://dash.example.com/anything?x=1', ...config()]);
    assert.match(fallback.stdout, /no rule matches: access\.default decides/);
    assert.match(fallback.stdout, /^result: ALLOW$/m);
    assert.match(dashgate(['access', 'explain', '/anything', ...config()]).stdout, /^result: SIGN IN REQUIRED/m);
    assert.match(dashgate(['access', 'explain', '--user', 'ana', '/reports;x=1/q3', ...config()]).stdout, /rules see \/reports\/q3/);
  });

  it('judges a Dash callback by its outputs', () => {
    const refused = dashgate(['access', 'explain', '--user', 'ana', '--method', 'POST', '--output', 'salary-table.data', '/_dash-update-component', ...config()]);
    assert.match(refused.stdout, /callback rule 1: salary-table\.data → applies \(groups, any of: hr\): refuses/);
    assert.match(refused.stdout, /^result: FORBIDDEN \(403\)$/m);
    const allowed = dashgate(['access', 'explain', '--user', 'hanna', '--method', 'POST', '--output', 'salary-table.data', '/_dash-update-component', ...config()]);
    assert.match(allowed.stdout, /^result: ALLOW$/m);
    const other = dashgate(['access', 'explain', '--user', 'ana', '--method', 'POST', '--output', 'chart.figure', '/_dash-update-component', ...config()]);
    assert.match(other.stdout, /does not apply/);
    assert.match(other.stdout, /^result: ALLOW$/m);
  });

  it('regression: --output on a request that is not a callback (GET) is not judged, as the gateway does not judge it', () => {
    const get = dashgate(['access', 'explain', '--user', 'ana', '--output', 'salary-table.data', '/_dash-update-component', ...config()]);
    assert.match(get.stdout, /this request is not a callback, so its outputs are not judged/);
    assert.doesNotMatch(get.stdout, /callback rule 1/);
    assert.match(get.stdout, /^result: ALLOW$/m, 'a GET by an analyst passes access.default, as it would at the gateway');
  });

  it('refuses paths the gateway refuses, and unknown users, with exit code 2', () => {
    const bad = dashgate(['access', 'explain', '/a/..%2fb', ...config()]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /refuses this path with 400/);
    const unknown = dashgate(['access', 'explain', '--user', 'nobody', '/x', ...config()]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no user "nobody"/);
  });
});
