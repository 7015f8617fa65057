import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type TestGateway, startSignedIn } from '../helpers/harness.js';

/**
 * Proves streaming by making buffering impossible: each side waits for the other to have seen
 * the first part before sending the rest. A gateway that held whole bodies would deadlock and
 * the test would fail on its timeout.
 */
describe('streaming through the gateway', () => {
  let releaseResponse: () => void = () => {};
  let firstRequestChunk: (chunk: string) => void = () => {};
  let gw: TestGateway;
  let cookie: string;
  const CHUNK = 'x'.repeat(256 * 1024);

  let close: () => Promise<void>;

  before(async () => {
    ({ gw, cookie, close } = await startSignedIn({ handler: (req, res) => {
      if (req.url === '/download') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(CHUNK);
        new Promise<void>((resolve) => (releaseResponse = resolve)).then(() => res.end(CHUNK));
        return;
      }
      if (req.url === '/upload') {
        let received = 0;
        let announced = false;
        req.on('data', (c: Buffer) => {
          received += c.length;
          if (!announced) {
            announced = true;
            firstRequestChunk(c.toString().slice(0, 5));
          }
        });
        req.on('end', () => res.end(JSON.stringify({ received })));
        return;
      }
      res.end('ok');
    } }));
  });
  after(() => close());

  it('passes the first part of a large response before the app has finished it', { timeout: 20_000 }, async () => {
    const res = await fetch(`${gw.url}/download`, { headers: { cookie } });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let received = 0;
    while (received < CHUNK.length) {
      const { value, done } = await reader.read();
      assert.equal(done, false, 'response ended early');
      received += value!.length;
    }
    // Only now does the app send the second half.
    releaseResponse();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      received += value!.length;
    }
    assert.equal(received, CHUNK.length * 2);
  });

  it('passes the first part of a large upload to the app before the client has sent the rest', { timeout: 20_000 }, async () => {
    const url = new URL(`${gw.url}/upload`);
    const sawFirstChunk = new Promise<string>((resolve) => (firstRequestChunk = resolve));
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { cookie, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write(`first${CHUNK}`);
      // The rest is only sent once the app has seen the beginning.
      sawFirstChunk.then((prefix) => {
        assert.equal(prefix, 'first');
        req.end(CHUNK);
      });
    });
    assert.equal(result.status, 200);
    assert.deepEqual(JSON.parse(result.body), { received: 5 + CHUNK.length * 2 });
  });
});

describe('request bodies of any size and type reach the app untouched', () => {
  it('forwards a 2 MiB body with Content-Length, JSON and form bodies byte for byte', async () => {
    const { upstream, gw, cookie, close } = await startSignedIn();
    try {
      const big = 'y'.repeat(2 * 1024 * 1024);
      for (const [type, body] of [
        ['application/octet-stream', big],
        ['application/json', '{"output":"a.children","inputs":[{"id":"x","property":"value","value":1}]}'],
        ['application/x-www-form-urlencoded', 'a=1&b=%20two'],
        ['text/plain', ''],
      ] as const) {
        const res = await fetch(`${gw.url}/upload`, { method: 'POST', headers: { cookie, 'content-type': type }, body });
        assert.equal(res.status, 200, type);
        const seen = upstream.requests.at(-1)!;
        assert.equal(seen.body, body, type);
        assert.equal(seen.headers['content-type'], type);
      }
    } finally {
      await close();
    }
  });
});
