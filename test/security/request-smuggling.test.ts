import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startRecordingUpstream, type TestGateway, startSignedIn } from '../helpers/harness.js';

/**
 * Regression: a signed-in user could smuggle a second request to the app inside the body of a
 * GET/HEAD/DELETE/OPTIONS, because the gateway dropped the body's framing (Transfer-Encoding as a
 * hop-by-hop header, Content-Length when named in Connection) while still streaming the body on a
 * keep-alive connection. The app read the body as a new request: unjudged, with client-chosen
 * identity headers, and its response went to whoever used the connection next.
 */
describe('request smuggling through the gateway', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let cookie: string;

  let close: () => Promise<void>;

  before(async () => {
    ({ upstream, gw, cookie, close } = await startSignedIn());
  });
  after(() => close());

  /**
   * Sends raw bytes and resolves with everything the gateway answered before closing (every
   * request here says "Connection: close"). The socket is not half-closed: Node aborts requests
   * still in flight when the client ends its side first.
   */
  function sendRaw(raw: string): Promise<string> {
    const url = new URL(gw.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => socket.write(raw));
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (answer += chunk));
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
    });
  }

  const smuggled = 'GET /admin-only HTTP/1.1\r\nHost: x\r\nX-Forwarded-User: admin\r\nRemote-User: admin\r\n\r\n';

  for (const method of ['GET', 'HEAD', 'DELETE', 'OPTIONS']) {
    it(`a chunked ${method} body cannot become a second request`, async () => {
      const before = upstream.requests.length;
      const chunk = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
      await sendRaw(`${method} /page HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk}`);
      // Any request that follows on the app's side would show up on the next proxied call too.
      await fetch(`${gw.url}/after`, { headers: { cookie } });
      const seen = upstream.requests.slice(before);
      assert.deepEqual(seen.map((r) => r.url), ['/page', '/after'], 'the app saw exactly the judged requests');
      assert.ok(seen.every((r) => r.headers['x-forwarded-user'] === 'alice'));
      assert.equal(seen[0]!.body, method === 'HEAD' ? seen[0]!.body : smuggled, 'the body reached the app as a body');
    });
  }

  it('Connection: content-length cannot strip the framing of a body', async () => {
    const before = upstream.requests.length;
    await sendRaw(`GET /page2 HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nConnection: content-length, close\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`);
    await fetch(`${gw.url}/after2`, { headers: { cookie } });
    const seen = upstream.requests.slice(before);
    assert.deepEqual(seen.map((r) => r.url), ['/page2', '/after2']);
    assert.equal(seen[0]!.body, smuggled);
    assert.ok(seen.every((r) => r.headers['x-forwarded-user'] === 'alice' && r.headers['remote-user'] === 'alice'));
  });

  it('Node refuses ambiguous framing before the gateway sees it (Content-Length with Transfer-Encoding, two lengths)', async () => {
    const before = upstream.requests.length;
    const both = await sendRaw(`POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nConnection: close\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
    const two = await sendRaw(`POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nConnection: close\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`);
    assert.match(both, /^HTTP\/1\.1 400/);
    assert.match(two, /^HTTP\/1\.1 400/);
    assert.equal(upstream.requests.length, before);
  });
});

describe('Expect: 100-continue', () => {
  it('invites the body only from a signed-in caller; an anonymous one gets 401 without "100 Continue"', async () => {
    const { gw, cookie, close } = await startSignedIn();
    try {
      const url = new URL(gw.url);
      const firstLine = (headers: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = connect(Number(url.port), url.hostname, () => socket.write(`POST /_dash-update-component HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n${headers}\r\n`));
          socket.setEncoding('utf8');
          socket.once('data', (chunk: string) => {
            resolve(chunk.split('\r\n')[0]!);
            socket.destroy();
          });
          socket.on('error', reject);
        });
      assert.equal(await firstLine(''), 'HTTP/1.1 401 Unauthorized');
      assert.equal(await firstLine(`Cookie: ${cookie}\r\n`), 'HTTP/1.1 100 Continue');
    } finally {
      await close();
    }
  });
});
