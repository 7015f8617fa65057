import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rawRequest, startSignedIn, type SignedInGateway } from '../helpers/harness.js';

/**
 * Clients that try to make the gateway do work for nothing (issue 14): a 100 MB anonymous upload
 * to a protected path, and slowloris (request heads sent a byte at a time). Outcomes are asserted
 * (bytes the gateway read, who was served, who was cut), never how long anything took.
 */
describe('abusive clients', () => {
  let signed: SignedInGateway;
  /** The gateway's side of every connection, to read how many bytes it took in. */
  const serverSockets: Socket[] = [];

  before(async () => {
    // A short headers timeout keeps the slowloris case quick; the default is 15 s.
    signed = await startSignedIn({ config: { server: { headers_timeout: '2s' } } });
    signed.gw.gateway.app.server.on('connection', (socket: Socket) => serverSockets.push(socket));
  });

  after(async () => {
    await signed?.close();
  });

  it('a 100 MB anonymous upload is answered and its connection closed: the gateway reads a small part of it', { timeout: 60_000 }, async (t) => {
    const total = 100 * 1024 * 1024;
    const url = new URL(signed.gw.url);
    const before = new Set(serverSockets);
    const client = connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    let answer = '';
    client.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
    client.on('error', () => {});
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.write(`POST /upload HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${total}\r\n\r\n`);
    // Write as fast as the socket takes it, until all is sent or the gateway closes the connection.
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    let written = 0;
    let open = true;
    void closed.then(() => (open = false));
    while (open && written < total) {
      const ok = client.write(chunk);
      written += chunk.length;
      if (!ok) await Promise.race([new Promise((resolve) => client.once('drain', resolve)), closed]);
    }
    await closed;
    const gatewaySide = serverSockets.find((socket) => !before.has(socket));
    assert.ok(gatewaySide, 'the gateway saw the connection');
    assert.match(answer, /^HTTP\/1\.1 401 /, 'anonymous: refused');
    assert.match(answer, /\r\nconnection: close\r\n/i, 'and told the connection ends');
    const read = gatewaySide.bytesRead;
    assert.ok(read < 16 * 1024 * 1024, `the gateway read ${read} bytes of a ${total}-byte upload`);
    t.diagnostic(`100 MB upload: the client wrote ${written} bytes before the connection closed; the gateway read ${read}`);
    // Still serving.
    assert.equal((await rawRequest(signed.gw.url, '/dash', { headers: { cookie: signed.cookie } })).status, 200);
  });

  it('slowloris: 50 connections sending their heads a byte at a time are cut by the headers timeout; everyone else is served meanwhile', { timeout: 30_000 }, async () => {
    const url = new URL(signed.gw.url);
    const slow = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const socket = connect(Number(url.port), url.hostname);
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        let answer = '';
        socket.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
        socket.on('error', () => {});
        const ended = new Promise<string>((resolve) => socket.once('close', () => resolve(answer)));
        socket.write(`GET /dash HTTP/1.1\r\nHost: ${url.host}\r\n`);
        // One more header byte every 200 ms: never idle, never done.
        const trickle = setInterval(() => socket.writable && socket.write('X'), 200);
        void ended.then(() => clearInterval(trickle));
        return ended;
      }),
    );
    // While all 50 hang on: a signed-in user and the health probe are served.
    for (let i = 0; i < 5; i++) {
      assert.equal((await rawRequest(signed.gw.url, '/dash', { headers: { cookie: signed.cookie } })).status, 200);
      assert.equal((await rawRequest(signed.gw.url, '/_dashgate/health')).status, 200);
    }
    // Each slow connection ends, cut by the gateway (408), not by this test.
    const answers = await Promise.all(slow);
    assert.equal(answers.length, 50);
    for (const answer of answers) assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.equal((await rawRequest(signed.gw.url, '/dash', { headers: { cookie: signed.cookie } })).status, 200, 'and it goes on serving');
  });
});
