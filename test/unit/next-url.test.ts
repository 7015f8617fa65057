import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { safeNextPath } from '../../src/auth/next-url.js';

describe('safeNextPath (open-redirect prevention)', () => {
  it('keeps same-origin relative paths with query and fragment', () => {
    assert.equal(safeNextPath('/'), '/');
    assert.equal(safeNextPath('/reports/q3?tab=2'), '/reports/q3?tab=2');
    assert.equal(safeNextPath('/page#section'), '/page#section');
    assert.equal(safeNextPath('/a%20b'), '/a%20b');
  });
  it('refuses everything a browser could read as another origin', () => {
    const attacks = [
      '//evil.example', '//evil.example/path', '/\\evil.example', '\\\\evil.example', '/%09/evil.example', '/\t/evil.example',
      '/%2F/evil.example', '/%5C/evil.example', 'https://evil.example', 'http:evil.example', 'javascript:alert(1)', 'JaVaScRiPt:alert(1)',
      'data:text/html,x', '///evil.example', ' //evil.example', '/\n/evil.example', '/%0a/evil.example', 'evil.example', '',
    ];
    for (const attack of attacks) assert.equal(safeNextPath(attack), '/', attack);
  });
  it('refuses paths that only become protocol-relative once dot segments are resolved (regression: open redirect)', () => {
    for (const attack of ['/.//evil.example', '/..//evil.example', '/%2e//evil.example', '/a/..//evil.example', '/a/.././/evil.example']) {
      assert.equal(safeNextPath(attack), '/', attack);
    }
    assert.equal(safeNextPath('/a/../b'), '/b', 'ordinary dot segments still work');
  });
  it('refuses non-strings and over-long values', () => {
    assert.equal(safeNextPath(undefined), '/');
    assert.equal(safeNextPath(['/a']), '/');
    assert.equal(safeNextPath(`/${'a'.repeat(3000)}`), '/');
  });
  it('uses the given fallback', () => {
    assert.equal(safeNextPath('//evil', '/home'), '/home');
  });
});
