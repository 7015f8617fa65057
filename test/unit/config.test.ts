import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

describe('configuration', () => {
  it('fills every default and freezes the result', () => {
    const config = parseConfig({ upstream: 'http://127.0.0.1:8050' });
    assert.equal(config.server.port, 8000);
    assert.equal(config.server.host, '127.0.0.1');
    assert.equal(config.prefix, '/_dashgate');
    assert.equal(config.session.idle_timeout, 8 * 3_600_000);
    assert.equal(config.session.absolute_timeout, 7 * 86_400_000);
    assert.equal(config.password.min_length, 8);
    assert.equal(config.page_helper.enabled, true);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.session));
  });
  it('reports every problem at once, each with its path', () => {
    try {
      parseConfig({ upstream: 'ftp://x', server: { port: 70000, bogus: 1 }, session: { idle_timeout: 'soon' }, password: { min_length: 4 } });
      assert.fail('expected ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'CONFIG_INVALID');
      const text = err.problems.join('\n');
      assert.match(text, /^upstream: /m);
      assert.match(text, /^server\.port: /m);
      assert.match(text, /^server\.bogus: unknown setting/m);
      assert.match(text, /^session\.idle_timeout: expected a duration/m);
      assert.match(text, /^password\.min_length: /m);
      assert.equal(err.problems.length, 5);
    }
  });
  it('layers file, DASHGATE_* environment and flags, flags last', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashgate-config-'));
    const file = join(dir, 'dashgate.yaml');
    writeFileSync(file, 'upstream: http://127.0.0.1:8050\nserver:\n  port: 9000\nsession:\n  idle_timeout: 30m\n');
    const config = loadConfig({
      file,
      env: { DASHGATE_SESSION__IDLE_TIMEOUT: '2h', DASHGATE_PAGE_HELPER__ENABLED: 'false', UNRELATED: 'x' },
      overrides: { server: { port: 9100 } },
    });
    assert.equal(config.server.port, 9100);
    assert.equal(config.session.idle_timeout, 2 * 3_600_000);
    assert.equal(config.page_helper.enabled, false);
    assert.equal(config.upstream, 'http://127.0.0.1:8050');
  });
  it('leaves DASHGATE_APP_* to the app and still refuses other unknown DASHGATE_* settings', () => {
    const config = loadConfig({ env: { DASHGATE_APP_JWKS_URL: 'http://x', DASHGATE_APP_AUDIENCE: 'a', DASHGATE_UPSTREAM: 'http://127.0.0.1:1' } });
    assert.equal(config.upstream, 'http://127.0.0.1:1');
    assert.throws(() => loadConfig({ env: { DASHGATE_UPSTRAEM: 'http://127.0.0.1:1' } }), (err: unknown) => err instanceof ConfigError && /upstraem: unknown setting/.test(err.problems.join()));
  });
  it('names the file in YAML syntax errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashgate-config-'));
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'server: [unclosed\n');
    assert.throws(() => loadConfig({ file, env: {} }), (err: unknown) => err instanceof ConfigError && err.problems[0]!.startsWith(file));
  });
});
