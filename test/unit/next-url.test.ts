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

describe('safeNextPath with configured origins (forward-auth: sign-in returns to an app on another host)', () => {
  const origins = ['https://app.example.com', 'http://127.0.0.1:8080'];
  it('keeps absolute URLs on a configured origin, serialised', () => {
    assert.equal(safeNextPath('https://app.example.com/x?y=1#z', '/', origins), 'https://app.example.com/x?y=1#z');
    assert.equal(safeNextPath('https://APP.example.com', '/', origins), 'https://app.example.com/');
    assert.equal(safeNextPath('http://127.0.0.1:8080/r', '/', origins), 'http://127.0.0.1:8080/r');
    assert.equal(safeNextPath('/relative', '/', origins), '/relative', 'relative paths still work');
  });
  it('refuses every other origin, scheme and spelling (regression: open redirect)', () => {
    const attacks = [
      'https://evil.example/', 'https://app.example.com.evil.example/', 'https://evil.example/https://app.example.com/',
      'http://app.example.com/', 'https://app.example.com:8443/', 'http://127.0.0.1:8081/', 'https://127.0.0.1:8080/',
      'https://app.example.com@evil.example/', 'https://user:pw@app.example.com/', 'https://evil.example#@app.example.com/', 'https://evil.example?@app.example.com/',
      'https://evil.example\\@app.example.com/', 'https://app.example.com\\@evil.example/', 'https:\\\\evil.example', 'https:/\\evil.example',
      'https:evil.example', 'https:app.example.com', 'https:/app.example.com/', 'https:///app.example.com', '//app.example.com/', '///app.example.com/', '/\\app.example.com/',
      '/\\evil', '//evil', 'javascript:alert(1)', 'javascript://app.example.com/%0aalert(1)', 'JAVASCRIPT:alert(1)', 'data:text/html,x', 'vbscript:msgbox', 'ftp://app.example.com/',
      'ws://app.example.com/', 'blob:https://app.example.com/uuid', ' https://app.example.com/', 'https://app.example.com /', '\thttps://app.example.com/',
      'https://app.exa\tmple.com/', 'https://app.example.com\n.evil.example/', 'https://%61pp.example.com/', 'https://app%2eexample.com/', 'https://app.example.com%2f@evil.example/',
      'https://[::1]/', 'https://xn--pp-example-ssa.com/', 'app.example.com/x', 'evil.example',
    ];
    for (const attack of attacks) assert.equal(safeNextPath(attack, '/', origins), '/', attack);
  });
  it('accepts no absolute URL at all without configured origins', () => {
    assert.equal(safeNextPath('https://app.example.com/x'), '/');
  });
});
