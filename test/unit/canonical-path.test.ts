import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalizePath, canonicalizeTarget } from '../../src/pipeline/canonical-path.js';
import { GatewayError } from '../../src/errors.js';

function rejects(target: string) {
  assert.throws(() => canonicalizeTarget(target), (err: unknown) => err instanceof GatewayError && err.code === 'BAD_PATH', target);
}

describe('canonical paths', () => {
  it('leaves plain paths untouched and splits off the query', () => {
    assert.deepEqual(canonicalizeTarget('/_dash-update-component'), { path: '/_dash-update-component', wirePath: '/_dash-update-component', query: '', matchPath: '/_dash-update-component' });
    assert.deepEqual(canonicalizeTarget('/reports/q3?x=/admin'), { path: '/reports/q3', wirePath: '/reports/q3', query: '?x=/admin', matchPath: '/reports/q3' });
    assert.equal(canonicalizeTarget('/').path, '/');
    assert.equal(canonicalizeTarget('/page-1/').path, '/page-1/');
  });
  it('decodes once and resolves dot segments in every spelling', () => {
    for (const [raw, expected] of [
      ['/public/../admin', '/admin'],
      ['/public/%2e%2e/admin', '/admin'],
      ['/public/.%2e/admin', '/admin'],
      ['/public/%2E%2E/admin', '/admin'],
      ['/a/./b', '/a/b'],
      ['/a/b/..', '/a/'],
      ['//admin', '/admin'],
      ['/a//b///c', '/a/b/c'],
    ] as const) {
      assert.equal(canonicalizeTarget(raw).path, expected, raw);
    }
  });
  it('decodes exactly once: %252f stays a literal "%2f" in the segment', () => {
    const target = canonicalizeTarget('/a%252fb');
    assert.equal(target.path, '/a%2fb');
    assert.equal(target.wirePath, '/a%252fb');
  });
  it('rejects encoded slashes and backslashes, raw backslashes, control bytes, bad escapes, invalid UTF-8, and climbing above /', () => {
    for (const bad of ['/public/..%2fadmin', '/a%2fb', '/a%2Fb', '/a%5cb', '/a\\b', '/a%00b', '/a%0ab', '/a%7fb', '/a%zz', '/a%2', '/a%c3%28', '/a%ff', '/..', '/../etc/passwd', '/a/../../b', '*', 'admin']) {
      rejects(bad);
    }
  });
  it('keeps ;params and # as part of the segment, never as a way to end it', () => {
    assert.equal(canonicalizeTarget('/admin;x=1').path, '/admin;x=1');
    assert.equal(canonicalizeTarget('/public;/../admin').path, '/admin');
    assert.equal(canonicalizeTarget('/a%23b').path, '/a#b');
    assert.equal(canonicalizeTarget('/a%23b').wirePath, '/a%23b', '"#" is re-encoded on the wire so the app sees the same segment');
    assert.equal(canonicalizeTarget('/a%3Fb').wirePath, '/a%3Fb');
  });
  it('re-encodes what it decoded so the app receives the path that was judged', () => {
    const target = canonicalizeTarget('/caf%C3%A9/x%20y');
    assert.equal(target.path, '/café/x y');
    assert.equal(target.wirePath, '/caf%C3%A9/x%20y');
  });
  it('reduces absolute-form targets to their path', () => {
    assert.deepEqual(canonicalizeTarget('http://evil.example/admin?q=1'), { path: '/admin', wirePath: '/admin', query: '?q=1', matchPath: '/admin' });
    assert.equal(canonicalizeTarget('http://host').path, '/');
  });
  it('canonicalizePath is idempotent on its own output', () => {
    for (const raw of ['/a/b/', '/x%20y', '/a/./b/../c']) {
      const once = canonicalizePath(raw);
      assert.equal(canonicalizePath(canonicalizeTarget(raw).wirePath), once, raw);
    }
  });
});
