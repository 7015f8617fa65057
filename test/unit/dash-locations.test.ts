import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCallbackCatalog, parseDependencyList, valuesByPosition } from '../../src/access/dash-dependencies.js';
import { callbackLocations } from '../../src/access/dash-locations.js';
import { GatewayError } from '../../src/errors.js';

const ROUTER = { output: 'page.children', inputs: [{ id: 'url', property: 'pathname' }, { id: 'url', property: 'search' }], state: [{ id: 'url', property: 'href' }] };
const body = (pathname: unknown, href: unknown = null) => ({ output: 'page.children', inputs: [{ id: 'x', property: 'y', value: pathname }, { id: 'url', property: 'search', value: '?q' }], state: [{ id: 'z', property: 'w', value: href }] });
const paths = (b: object, prefix = '/') => callbackLocations(ROUTER, b, prefix).map((l) => l.matchPath);

describe('callback locations', () => {
  it('reads location arguments by their declared position, whatever ids the body claims', () => {
    assert.deepEqual(paths(body('/reports')), ['/reports']);
    assert.deepEqual(paths(body('/about', 'http://host/reports?x#y')), ['/about', '/reports']);
  });

  it('judges a path as Dash renders it under a prefix: the prefix is cut without a slash boundary', () => {
    assert.deepEqual(paths(body('/appreports'), '/app/'), ['/app/reports']);
    assert.deepEqual(paths(body('/app//reports/'), '/app/'), ['/app/reports/']);
    assert.deepEqual(paths(body('/app/app/reports'), '/app/'), ['/app/app/reports']);
    assert.deepEqual(paths(body('/other/reports'), '/app/'), ['/other/reports']);
  });

  it('canonicalises like a request path and refuses what the gateway cannot judge', () => {
    assert.deepEqual(paths(body('/rep%6frts;a=b')), ['/reports']);
    assert.deepEqual(paths(body('reports')), ['/reports']);
    assert.deepEqual(paths(body('/reports?tab=1')), ['/reports']);
    // Dot segments are refused, not resolved: Dash compares the text as it is (a template's "*" takes "/").
    for (const bad of ['/a%2fb', '/..', '/about/../reports', '/reports/%2e%2e', '/x/.;y/z', '/a\u0000b', 42, { path: '/reports' }]) {
      assert.throws(() => paths(body(bad)), (err: unknown) => err instanceof GatewayError && err.code === 'BAD_CALLBACK', String(bad));
    }
  });

  it('reads an href both as a browser does and as text, so a naive parser in the app gains nothing', () => {
    assert.throws(() => paths(body(null, 'http://h/x/%2e%2e/reports')), GatewayError, 'the app\'s urlsplit keeps the dots');
    assert.throws(() => paths(body(null, 'http://h/about\\..\\reports')), GatewayError);
    assert.deepEqual(paths(body(null, 'https:/reports')), ['/', '/reports'], 'urlsplit reads the path a browser takes for a host');
  });

  it('skips empty values (an initial call) and takes every item of a pattern-matching list', () => {
    assert.deepEqual(paths(body(undefined)), []);
    const all = { output: 'o.children', inputs: [{ id: '{"type":"loc","index":["ALL"]}', property: 'pathname' }], state: [] };
    const parsed = parseDependencyList([all]).get('o.children')!;
    assert.deepEqual(callbackLocations(parsed, { inputs: [[{ value: '/a' }, { value: '/reports' }]] }).map((l) => l.matchPath), ['/a', '/reports']);
    assert.deepEqual(valuesByPosition(parsed, { inputs: [[{ value: 1 }]] }, new Set(['pathname'])).length, 1);
  });
});

describe('callback catalog', () => {
  it('loads once, refreshes for an output it does not know (not more than once a second), and when old', async () => {
    let t = 0;
    let loads = 0;
    let list: object[] = [ROUTER];
    const catalog = createCallbackCatalog({ now: () => t, load: async () => (loads++, list) });
    assert.equal((await catalog.lookup('page.children'))?.inputs.length, 2);
    assert.equal(loads, 1);
    assert.equal(await catalog.lookup('new.children'), null);
    assert.equal(loads, 1, 'a miss right after a load does not reload');
    list = [ROUTER, { output: 'new.children', inputs: [], state: [] }];
    t = 1500;
    assert.ok(await catalog.lookup('new.children'));
    assert.equal(loads, 2);
    t = 70_000;
    await catalog.lookup('page.children');
    assert.equal(loads, 3, 'reloaded after a minute');
  });

  it('keeps what it knew when the app cannot be asked, and throws for what it never knew', async () => {
    let t = 0;
    let up = true;
    const catalog = createCallbackCatalog({ now: () => t, load: async () => { if (!up) throw new Error('down'); return [ROUTER]; } });
    await catalog.lookup('page.children');
    up = false;
    t = 120_000;
    assert.ok(await catalog.lookup('page.children'));
    await assert.rejects(catalog.lookup('unknown.children'), /down/);
  });

  it('ignores clientside callbacks (they never reach the server) and parses JSON ids', () => {
    const parsed = parseDependencyList([
      { output: 'a.children', inputs: [{ id: '{"index":["MATCH"],"type":"card"}', property: 'value' }], state: [], clientside_function: null },
      { output: 'b.children', inputs: [], state: [], clientside_function: { namespace: 'x', function_name: 'y' } },
    ]);
    assert.deepEqual([...parsed.keys()], ['a.children']);
    assert.deepEqual(parsed.get('a.children')!.inputs[0]!.id, { index: ['MATCH'], type: 'card' });
    assert.throws(() => parseDependencyList({ not: 'a list' }), TypeError);
  });
});
