import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/store.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ALICE_PASSWORD, createUser, signIn, startRecordingUpstream } from '../helpers/harness.js';

/** Sends raw bytes; resolves with everything answered until the gateway closes the connection. */
function sendRaw(base: string, raw: string): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(raw));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

const status = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

/**
 * Three holes an outside bypass test found where the WebSocket upgrade, the HTTP path and the
 * Host check disagreed. Each case asserts the app never saw the request.
 */
describe('upgrade headers and malformed Host cannot get around the rules', () => {
  const errors: Array<{ level: number; msg: string }> = [];
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let base: string;
  let cookie: string;
  let close: () => Promise<void>;

  before(async () => {
    upstream = await startRecordingUpstream();
    const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-upgrade-'));
    const config = parseConfig({
      upstream: upstream.url,
      data_dir: dataDir,
      access: {
        default: 'authenticated',
        rules: [
          { path: '/ledger/**', methods: ['POST', 'PUT', 'PATCH', 'DELETE'], groups: ['finance'] },
          { path: '/public/**', methods: ['GET'], policy: 'public' },
          { host: 'vault.test', path: '/**', policy: 'deny' },
        ],
      },
    });
    const store = await openStore({ dataDir });
    const logger = pino({ level: 'info' }, new Writable({ write(chunk, _e, done) { for (const line of String(chunk).split('\n').filter(Boolean)) { const parsed = JSON.parse(line); if (parsed.level >= 50) errors.push(parsed); } done(); } }));
    const gateway = await buildApp(config, { store, logger });
    await gateway.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(gateway.app.server.address() as AddressInfo).port}`;
    await createUser(store, 'alice', ALICE_PASSWORD, { groups: ['analysts'] });
    cookie = await signIn(base, 'alice', ALICE_PASSWORD);
    close = async () => {
      await gateway.close();
      await store.close();
      await upstream.close();
      rmSync(dataDir, { recursive: true, force: true });
    };
  });
  after(() => close());

  it('regression: a DELETE with "Upgrade: websocket" is judged as the DELETE it is (method rules held only without Upgrade)', async () => {
    const seen = upstream.requests.length;
    const plain = await sendRaw(base, `DELETE /ledger/x HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`);
    assert.equal(status(plain), 403);
    const upgraded = await sendRaw(base, `DELETE /ledger/x HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    assert.equal(status(upgraded), 403);
    assert.equal(upstream.requests.length, seen, 'the app saw no DELETE');
  });

  it('regression: an anonymous POST with "Upgrade: foo" on a GET-only public path does not reach the app', async () => {
    const seen = upstream.requests.length;
    const bodiless = await sendRaw(base, `POST /public/form HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n`);
    assert.equal(status(bodiless), 401, 'judged as a POST: the public rule is GET-only, the default wants a session');
    const withBody = await sendRaw(base, `POST /public/form HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: foo\r\nContent-Length: 5\r\n\r\nhello`);
    assert.equal(status(withBody), 400);
    assert.equal(upstream.requests.length, seen);
  });

  it('a GET that offers another protocol (h2c) is served as a plain request, with its rule', async () => {
    const seen = upstream.requests.length;
    const answer = await sendRaw(base, `GET /public/page HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n`);
    assert.equal(status(answer), 200);
    assert.equal(upstream.requests.length, seen + 1);
    const forwarded = upstream.requests.at(-1)!;
    assert.equal(forwarded.method, 'GET');
    assert.equal(forwarded.headers.upgrade, undefined, 'hop-by-hop Upgrade is not forwarded');
    assert.equal(forwarded.headers['http2-settings'], undefined);
  });

  for (const host of ['vault.test:abc', 'vault.test:', 'vault.test:123456', 'vault.test:80:80', 'vault.test:+80', 'vault.test:0x50', 'vault.test:-1', 'user@vault.test']) {
    it(`regression: Host ${JSON.stringify(host)} is refused (400) instead of escaping the host rule`, async () => {
      const seen = upstream.requests.length;
      for (const headers of [`Cookie: ${cookie}\r\n`, `Cookie: ${cookie}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n`]) {
        const answer = await sendRaw(base, `GET /secrets HTTP/1.1\r\nHost: ${host}\r\n${headers}Connection: close\r\n\r\n`.replace('Connection: close\r\n', headers.includes('Upgrade') ? '' : 'Connection: close\r\n'));
        assert.equal(status(answer), 400, answer.split('\r\n')[0]);
      }
      assert.equal(upstream.requests.length, seen, 'the app never saw it');
    });
  }

  it('a well-formed Host with a port is matched by its host rule', async () => {
    const answer = await sendRaw(base, `GET /secrets HTTP/1.1\r\nHost: VAULT.test.:8443\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`);
    assert.equal(status(answer), 403, 'the deny rule for vault.test applies');
  });

  it('two Host headers are refused', async () => {
    const seen = upstream.requests.length;
    const answer = await sendRaw(base, `GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: vault.test\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`);
    assert.equal(status(answer), 400);
    assert.equal(upstream.requests.length, seen);
  });

  it('regression: an absolute-form upgrade naming another host gets 400, like the same request without Upgrade, and logs no error', async () => {
    const before = errors.length;
    const plain = await sendRaw(base, `GET http://evil.example/x HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`);
    const upgraded = await sendRaw(base, `GET http://evil.example/x HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    assert.equal(status(plain), 400);
    assert.equal(status(upgraded), 400);
    assert.equal(errors.length, before, 'nothing at error level');
  });
});
