/**
 * Metrics: after a scripted sequence of requests and sign-ins, every counter moved by exactly
 * what was done (read from the Prometheus text a scraper gets).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, rawRequest, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';
import { samples, valueOf, type Labels } from '../helpers/prometheus.js';

describe('metrics', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  const scrape = () => gw.gateway.metrics!.registry.metrics();

  before(async () => {
    upstream = await startRecordingUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    });
    gw = await startGateway(upstream.url, {
      metrics: { listen: '127.0.0.1:0' },
      access: { default: 'authenticated', rules: [{ path: '/finance/**', groups: ['finance'] }] },
    });
    await createUser(gw.store, 'alice', 'correct horse battery', { groups: ['analysts'] });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('is off unless metrics.listen is set', async () => {
    const plain = await startGateway(upstream.url);
    try {
      assert.equal(plain.gateway.metrics, null);
    } finally {
      await plain.close();
    }
  });

  it('counts every request by outcome and status class, sign-ins by method and result, and the store and sessions', async () => {
    const before = await scrape();
    const browser = { accept: 'text/html' };
    const script = { accept: 'application/json' };

    assert.equal((await rawRequest(gw.url, '/page', { headers: browser })).status, 303); // login redirect
    assert.equal((await rawRequest(gw.url, '/data', { headers: script })).status, 401); // login required, scripted
    assert.equal((await rawRequest(gw.url, '/data', { headers: { ...script, authorization: 'Bearer dgt_not_a_token' } })).status, 401); // bad token
    await assert.rejects(signIn(gw.url, 'alice', 'wrong password here')); // a failed sign-in
    const cookie = await signIn(gw.url, 'alice', 'correct horse battery');
    for (let i = 0; i < 3; i++) assert.equal((await rawRequest(gw.url, `/ok/${i}`, { headers: { ...script, cookie } })).status, 200);
    assert.equal((await rawRequest(gw.url, '/finance/q3', { headers: { ...script, cookie } })).status, 403);
    assert.equal((await rawRequest(gw.url, '/%zz', { headers: { ...script, cookie } })).status, 400);

    const text = await scrape();
    const delta = (name: string, labels: Labels = {}) => valueOf(text, name, labels) - valueOf(before, name, labels);
    assert.equal(delta('dashgate_requests_total', { outcome: 'login', code: '3xx' }), 1);
    assert.equal(delta('dashgate_requests_total', { outcome: 'login', code: '4xx' }), 1);
    assert.equal(delta('dashgate_requests_total', { outcome: 'unauthorized', code: '4xx' }), 1);
    assert.equal(delta('dashgate_requests_total', { outcome: 'proxied', code: '2xx' }), 3);
    assert.equal(delta('dashgate_requests_total', { outcome: 'forbidden', code: '4xx' }), 1);
    assert.equal(delta('dashgate_requests_total', { outcome: 'bad_request', code: '4xx' }), 1);
    assert.equal(delta('dashgate_requests_total'), 8, 'the sign-in pages are not proxied requests');
    assert.equal(delta('dashgate_request_duration_seconds_count', { outcome: 'proxied' }), 3);
    assert.equal(delta('dashgate_upstream_response_seconds_count'), 3);
    assert.equal(delta('dashgate_authn_total', { method: 'password', result: 'failure' }), 1);
    assert.equal(delta('dashgate_authn_total', { method: 'password', result: 'success' }), 1);
    assert.equal(delta('dashgate_authn_total', { method: 'api_token', result: 'failure' }), 1);
    assert.ok(delta('dashgate_store_query_duration_seconds_count', { result: 'ok' }) > 0, 'store queries are timed');
    assert.equal(delta('dashgate_store_errors_total'), 0);
    assert.equal(valueOf(text, 'dashgate_active_sessions'), 1);
    assert.equal(samples(text, 'dashgate_build_info')[0]!.labels.version, '0.1.0');
    assert.ok(samples(text, 'process_resident_memory_bytes').length === 1, 'process metrics are there');
  });

  it('counts throttled attempts and upstream errors', async () => {
    const before = await scrape();
    // The default throttle lets 5 failures per account through, then makes the account wait.
    for (let i = 0; i < 7; i++) await signIn(gw.url, 'alice', `wrong ${i} password`).catch(() => {});
    const cookie = await signIn(gw.url, 'alice', 'correct horse battery').catch(() => null);
    const middle = await scrape();
    assert.ok(valueOf(middle, 'dashgate_throttled_total', { kind: 'password' }) - valueOf(before, 'dashgate_throttled_total', { kind: 'password' }) >= 1);
    assert.equal(
      valueOf(middle, 'dashgate_authn_total', { method: 'password', result: 'throttled' }) - valueOf(before, 'dashgate_authn_total', { method: 'password', result: 'throttled' }),
      valueOf(middle, 'dashgate_throttled_total', { kind: 'password' }) - valueOf(before, 'dashgate_throttled_total', { kind: 'password' }),
      'each throttled sign-in is one throttled attempt',
    );
    void cookie;

    await upstream.close();
    const signedIn = await startGateway('http://127.0.0.1:9', { metrics: { listen: '127.0.0.1:0' }, access: { default: 'public' } });
    try {
      const res = await rawRequest(signedIn.url, '/x', { headers: { accept: 'application/json' } });
      assert.equal(res.status, 502);
      const text = await signedIn.gateway.metrics!.registry.metrics();
      assert.equal(valueOf(text, 'dashgate_requests_total', { outcome: 'upstream_error', code: '5xx' }), 1);
      assert.equal(valueOf(text, 'dashgate_upstream_errors_total', { reason: 'unavailable' }), 1);
    } finally {
      await signedIn.close();
    }
  });
});
