/**
 * What an operator relies on, through the real CLI: the access log (one line per proxied request,
 * JSON or combined, off by config), the metrics listener (its own address and token, one figure
 * for all workers), and SIGTERM (in-flight requests finish, WebSockets close with 1001, exit 0).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { freePort, rawRequest, startRecordingUpstream } from '../helpers/harness.js';
import { startCli, type CliProcess } from '../helpers/cli-process.js';
import { valueOf } from '../helpers/prometheus.js';

const PUBLIC = { DASHGATE_ACCESS__DEFAULT: 'public' };

async function serve(upstream: string, env: Record<string, string> = {}): Promise<{ cli: CliProcess; url: string; stdout: () => string; done(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-ops-'));
  const port = await freePort();
  const cli = startCli(['serve', '--upstream', upstream, '--port', String(port), '--data-dir', dataDir], { ...PUBLIC, ...env });
  let raw = '';
  cli.child.stdout!.on('data', (chunk: string | Buffer) => (raw += chunk.toString()));
  await cli.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('Dashgate is guarding'));
  return {
    cli,
    url: `http://127.0.0.1:${port}`,
    stdout: () => raw,
    async done() {
      await cli.stop('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function eventually<T>(read: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const value = read();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never saw ${what}`);
}

describe('operations through the CLI', { timeout: 120_000 }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('writes one JSON access line per proxied request, with the request id of its answer and without the query', async () => {
    const upstream = await startRecordingUpstream((_req, res) => res.end('hello from the app'));
    cleanups.push(() => upstream.close());
    const gw = await serve(upstream.url);
    cleanups.push(() => gw.done());
    const res = await rawRequest(gw.url, '/reports/q3?secret=hunter2', { headers: { 'user-agent': 'ops-test' } });
    assert.equal(res.status, 200);
    const id = res.headers['x-request-id'];
    const refused = await rawRequest(gw.url, '/%zz');
    assert.equal(refused.status, 400);
    await rawRequest(gw.url, '/_dashgate/health');
    const line = await eventually(() => gw.cli.logs.find((l) => l.msg === 'request'), 'an access line');
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/reports/q3');
    assert.equal(line.status, 200);
    assert.equal(line.outcome, 'proxied');
    assert.equal(line.user, null);
    assert.ok((line.bytes as number) > 'hello from the app'.length, 'bytes sent, headers included');
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(typeof line.upstreamMs, 'number');
    if (id !== undefined) assert.equal(line.requestId, id);
    assert.equal(Object.keys(line).filter((k) => /^req(uest)?id$/i.test(k)).length, 1, 'one request id per line');
    assert.doesNotMatch(gw.stdout(), /hunter2/, 'the query is not logged by default');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(gw.cli.logs.filter((l) => l.msg === 'request').length, 1, 'own routes and refused-at-the-door requests are not access lines');
  });

  it('writes the combined format when asked, escaping what clients send, and nothing when off', async () => {
    const upstream = await startRecordingUpstream((_req, res) => res.end('ok'));
    cleanups.push(() => upstream.close());
    const combined = await serve(upstream.url, { DASHGATE_LOG__ACCESS: 'combined' });
    cleanups.push(() => combined.done());
    await rawRequest(combined.url, '/a/b?x=1', { headers: { 'user-agent': 'evil" 200 0 "\\x', referer: 'https://example.test/' } });
    const line = await eventually(() => combined.stdout().split('\n').find((l) => l.includes('"GET /a/b HTTP/1.1"')), 'a combined line');
    assert.match(line, /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET \/a\/b HTTP\/1\.1" 200 \d+ "https:\/\/example\.test\/" "evil\\" 200 0 \\"\\\\x"$/);

    const off = await serve(upstream.url, { DASHGATE_LOG__ACCESS: 'off' });
    cleanups.push(() => off.done());
    assert.equal((await rawRequest(off.url, '/quiet')).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(off.cli.logs.filter((l) => l.msg === 'request').length, 0);
  });

  it('serves metrics on their own listener, behind the token, summed over every worker', async () => {
    const upstream = await startRecordingUpstream((_req, res) => res.end('ok'));
    cleanups.push(() => upstream.close());
    const metricsPort = await freePort();
    const token = 'scrape-token-0123456789';
    const gw = await serve(upstream.url, { DASHGATE_SERVER__WORKERS: '2', DASHGATE_METRICS__LISTEN: `127.0.0.1:${metricsPort}`, DASHGATE_METRICS__TOKEN_ENV: 'SCRAPE_TOKEN', SCRAPE_TOKEN: token });
    cleanups.push(() => gw.done());
    const metricsUrl = `http://127.0.0.1:${metricsPort}`;
    // Each on a connection of its own: the kernel spreads them over both workers.
    for (let i = 0; i < 20; i++) assert.equal((await rawRequest(gw.url, `/n/${i}`, { headers: { connection: 'close' } })).status, 200);
    assert.equal((await rawRequest(metricsUrl, '/metrics')).status, 401);
    assert.equal((await rawRequest(metricsUrl, '/metrics', { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    assert.equal((await rawRequest(metricsUrl, '/other', { headers: { authorization: `Bearer ${token}` } })).status, 404);
    // A worker counts a request when its answer has closed, which may be just after the client read it.
    let scraped = await rawRequest(metricsUrl, '/metrics', { headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 50 && valueOf(scraped.body, 'dashgate_requests_total', { outcome: 'proxied', code: '2xx' }) < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      scraped = await rawRequest(metricsUrl, '/metrics', { headers: { authorization: `Bearer ${token}` } });
    }
    assert.equal(scraped.status, 200, `${scraped.body} ${JSON.stringify(gw.cli.logs.filter((l) => (l.level as number) >= 50))}`);
    assert.match(String(scraped.headers['content-type']), /^text\/plain/);
    assert.equal(valueOf(scraped.body, 'dashgate_requests_total', { outcome: 'proxied', code: '2xx' }), 20);
    assert.equal(valueOf(scraped.body, 'dashgate_build_info'), 1, 'one build, whatever the number of workers');
    // The gateway's own port does not serve them.
    assert.equal((await rawRequest(gw.url, '/metrics')).status, 200, 'proxied to the app like any path');
  });

  it('refuses a metrics token variable that is not set, naming it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-ops-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const cli = startCli(['serve', '--upstream', 'http://127.0.0.1:9', '--port', String(await freePort()), '--data-dir', dataDir], { DASHGATE_METRICS__LISTEN: '127.0.0.1:0', DASHGATE_METRICS__TOKEN_ENV: 'NOT_SET_ANYWHERE' });
    const { code } = await cli.exited;
    assert.notEqual(code, 0);
    assert.match(cli.stderr() + JSON.stringify(cli.logs), /metrics\.token_env: the environment variable NOT_SET_ANYWHERE is not set/);
  });

  it('on SIGTERM: requests in flight all finish, WebSockets close with 1001, new connections are refused, exit 0', async () => {
    let inFlight = 0;
    const upstream = await startRecordingUpstream((_req, res) => {
      inFlight++;
      setTimeout(() => res.end('slow answer'), 700);
    });
    cleanups.push(() => upstream.close());
    const wss = new WebSocketServer({ server: upstream.server as Server });
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(data)));
    cleanups.push(async () => wss.close());
    const gw = await serve(upstream.url, { DASHGATE_SERVER__DRAIN_TIMEOUT: '10s' });
    cleanups.push(() => gw.done());

    const ws = new WebSocket(`${gw.url.replace('http:', 'ws:')}/socket`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

    const load = Array.from({ length: 24 }, (_, i) => rawRequest(gw.url, `/load/${i}`).then((r) => r.status, (err: Error) => err.message));
    await eventually(() => (inFlight >= 24 ? true : undefined), 'every request at the app');
    gw.cli.child.kill('SIGTERM');
    assert.equal(await closed, 1001, 'the socket is told the gateway is going away');
    await eventually(() => (gw.cli.logs.some((l) => l.msg === 'shutting down') ? true : undefined), 'the shutdown line');
    const refusedNew = await new Promise<string>((resolve) => {
      const req = request(`${gw.url}/late`, (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      req.end();
    });
    assert.equal(refusedNew, 'ECONNREFUSED', 'no new connections once draining');
    assert.deepEqual(await Promise.all(load), Array(24).fill(200), 'every request in flight got its answer');
    const { code } = await gw.cli.exited;
    assert.equal(code, 0);
  });
});
