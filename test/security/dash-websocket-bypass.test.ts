/**
 * Attacks on the gateway's reading of Dash 4's WebSocket callbacks (`_dash-ws-callback`), with
 * frames written by hand on a raw TCP socket to a real Dash app on FastAPI under uvicorn (which
 * offers permessage-deflate and gzips its HTTP answers, as `Dash(compress=True)` does): odd
 * compression offers, fragmentation with control frames in between, a message cut across TCP
 * writes or sent with the handshake, framing violations, duplicate JSON keys, other spellings
 * of the socket's path, and cross-site origins. Every case is a defence that holds: carol never
 * receives the reports page's content; the same request works for bob.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FrameReader, OPCODE, type Frame } from '../../src/proxy/ws-frames.js';
import { startUvicorn, stopProcessGroup } from '../helpers/browser.js';
import { createUser, signIn, startGateway, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'reports passphrase';
const ROUTER = '.._pages_content.children..._pages_store.data..';
const SECRET = /Confidential|Revenue by region|North: 1\.2M/;

/** A client frame: masked unless told otherwise, FIN and RSV bits and the length form as asked. */
function frame(opcode: number, payload: Buffer | string, options: { fin?: boolean; rsv?: number; mask?: boolean; longLength?: boolean } = {}): Buffer {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const mask = options.mask ?? true;
  const first = ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode;
  let header: Buffer;
  if (options.longLength || data.length > 65535) {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  } else if (data.length > 125) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(2);
    header[1] = data.length;
  }
  header[0] = first;
  if (!mask) return Buffer.concat([header, data]);
  header[1]! |= 0x80;
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([header, key, body]);
}

/** A raw WebSocket client: the handshake as given, then frames in and out, nothing checked for us. */
class RawSocket {
  readonly frames: Frame[] = [];
  status = 0;
  responseHead = '';
  closed = false;
  private readonly reader = new FrameReader({ expectMasked: false, maxFrameBytes: 64 * 1024 * 1024 });
  private buffered = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      if (this.status === 0) {
        this.buffered = Buffer.concat([this.buffered, chunk]);
        const end = this.buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        this.responseHead = this.buffered.subarray(0, end).toString('latin1');
        this.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(this.responseHead)?.[1] ?? 0);
        chunk = this.buffered.subarray(end + 4);
        if (this.status !== 101) {
          this.responseHead += `\r\n\r\n${chunk.toString('utf8')}`;
          chunk = Buffer.alloc(0);
        }
      }
      if (this.status === 101 && chunk.length > 0) this.frames.push(...this.reader.push(chunk));
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('error', () => {});
  }

  private notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  static async open(base: string, path: string, headers: Record<string, string | string[]>, firstFrames: Buffer = Buffer.alloc(0)): Promise<RawSocket> {
    const url = new URL(base);
    const socket = connect(Number(url.port), url.hostname);
    const raw = new RawSocket(socket);
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${url.host}`, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];
    for (const [name, value] of Object.entries(headers)) for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
    socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), firstFrames]));
    await raw.until(() => raw.status !== 0 || raw.closed, 'handshake answer');
    return raw;
  }

  async until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; frames: ${this.texts().join(' | ').slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  texts(): string[] {
    return this.frames.filter((f) => f.opcode === OPCODE.text).map((f) => f.payload.toString('utf8'));
  }

  /** The answer to one request id (Dash may batch answers in a JSON list). */
  answerTo(requestId: string): { payload?: { status?: string; message?: string } } | undefined {
    for (const text of this.texts()) {
      const parsed = JSON.parse(text) as unknown;
      for (const item of Array.isArray(parsed) ? parsed : [parsed]) if ((item as { requestId?: string }).requestId === requestId) return item as { payload?: { status?: string } };
    }
    return undefined;
  }

  closeCode(): number | null {
    const close = this.frames.find((f) => f.opcode === OPCODE.close);
    return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : null;
  }

  end(): void {
    this.socket.destroy();
  }
}

function callbackRequest(requestId: string, pathname: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    type: 'callback_request',
    rendererId: 'r',
    requestId,
    payload: {
      output: ROUTER,
      outputs: [{ id: '_pages_content', property: 'children' }, { id: '_pages_store', property: 'data' }],
      inputs: [{ id: '_pages_location', property: 'pathname', value: pathname }, { id: '_pages_location', property: 'search', value: '' }],
      changedPropIds: ['_pages_location.pathname'],
    },
    ...extra,
  });
}

describe('Dash WebSocket callbacks: frames and messages written by hand', { timeout: 180_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let carol: string;
  let bob: string;

  before(async () => {
    const started = await startUvicorn('test/fixtures/dash_pages_gzip', { env: { DASH_WEBSOCKET: '1' } });
    dash = started.child;
    gw = await startGateway(started.url, {
      access: { default: 'authenticated', rules: [{ path: '/about', policy: 'public' }, { path: '/reports/**', groups: ['finance'], components: ['load-figures', 'report-*'] }] },
    });
    await createUser(gw.store, 'carol', PASSWORD, { groups: ['analysts'] });
    await createUser(gw.store, 'bob', PASSWORD, { groups: ['finance'] });
    carol = await signIn(gw.url, 'carol', PASSWORD);
    bob = await signIn(gw.url, 'bob', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    if (dash) await stopProcessGroup(dash);
  });

  const open = (cookie: string, extra: Record<string, string | string[]> = {}, path = '/_dash-ws-callback', first?: Buffer) => RawSocket.open(gw.url, path, { origin: gw.url, cookie, ...extra }, first);

  /** Waits for the answer to `requestId` and asserts it is the gateway's refusal, with no secret anywhere on the socket. */
  async function refused(socket: RawSocket, requestId: string): Promise<void> {
    await socket.until(() => socket.answerTo(requestId) !== undefined || socket.closed, `the answer to ${requestId}`);
    const answer = socket.answerTo(requestId);
    if (answer) {
      assert.equal(answer.payload?.status, 'error');
      assert.match(answer.payload?.message ?? '', /dashgate:/);
    }
    assert.doesNotMatch(socket.texts().join('\n'), SECRET);
  }

  it('bob gets the reports page over a hand-written socket (the client below speaks Dash\'s protocol)', async () => {
    const socket = await open(bob);
    assert.equal(socket.status, 101);
    socket.write(frame(OPCODE.text, callbackRequest('b-1', '/reports')));
    await socket.until(() => socket.answerTo('b-1') !== undefined, 'b-1');
    assert.match(socket.texts().join('\n'), /Confidential finance report/);
    socket.end();
  });

  for (const offer of [
    ['permessage-deflate'],
    ['PerMessage-Deflate; client_max_window_bits'],
    ['permessage-deflate; server_no_context_takeover', 'permessage-deflate'],
    ['x-webkit-deflate-frame'],
    ['foo, permessage-deflate; client_max_window_bits=15'],
  ]) {
    it(`declines compression offered as ${JSON.stringify(offer)}`, async () => {
      const socket = await open(carol, { 'Sec-WebSocket-Extensions': offer });
      assert.equal(socket.status, 101);
      assert.doesNotMatch(socket.responseHead, /sec-websocket-extensions/i);
      socket.write(frame(OPCODE.text, callbackRequest('c-1', '/reports')));
      await refused(socket, 'c-1');
      socket.end();
    });
  }

  it('judges a message fragmented in three frames with a ping and a pong between them', async () => {
    const socket = await open(carol);
    const text = Buffer.from(callbackRequest('f-1', '/reports'));
    const a = text.subarray(0, 20);
    const b = text.subarray(20, 60);
    const c = text.subarray(60);
    socket.write(Buffer.concat([frame(OPCODE.text, a, { fin: false }), frame(OPCODE.ping, 'x'), frame(OPCODE.continuation, b, { fin: false }), frame(OPCODE.pong, 'y'), frame(OPCODE.continuation, c)]));
    await refused(socket, 'f-1');
    socket.end();
  });

  it('judges a message cut across TCP writes, one byte at a time', async () => {
    const socket = await open(carol);
    const bytes = frame(OPCODE.text, callbackRequest('t-1', '/reports'));
    for (let i = 0; i < bytes.length; i++) {
      socket.write(bytes.subarray(i, i + 1));
      if (i % 40 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    await refused(socket, 't-1');
    socket.end();
  });

  it('judges a message sent in the same write as the handshake', async () => {
    const socket = await open(carol, {}, '/_dash-ws-callback', frame(OPCODE.text, callbackRequest('p-1', '/reports')));
    assert.equal(socket.status, 101);
    await refused(socket, 'p-1');
    socket.end();
  });

  it('judges a message with the 64-bit length form for a short payload', async () => {
    const socket = await open(carol);
    socket.write(frame(OPCODE.text, callbackRequest('l-1', '/reports'), { longLength: true }));
    await refused(socket, 'l-1');
    socket.end();
  });

  it('reads duplicate JSON keys as Dash does (the last one): "type" and "payload"', async () => {
    const socket = await open(carol);
    const typeTwice = callbackRequest('d-1', '/reports').replace('{"type":"callback_request"', '{"type":"heartbeat","type":"callback_request"');
    socket.write(frame(OPCODE.text, typeTwice));
    await refused(socket, 'd-1');
    const allowed = JSON.parse(callbackRequest('d-2', '/about')) as { payload: unknown };
    const forbidden = JSON.parse(callbackRequest('d-2', '/reports')) as { payload: unknown };
    socket.write(frame(OPCODE.text, `{"type":"callback_request","rendererId":"r","requestId":"d-2","payload":${JSON.stringify(allowed.payload)},"payload":${JSON.stringify(forbidden.payload)}}`));
    await refused(socket, 'd-2');
    socket.end();
  });

  it('judges the location moved into the search argument\'s place, and ids that lie', async () => {
    const socket = await open(carol);
    const body = JSON.parse(callbackRequest('i-1', '/reports')) as { payload: { inputs: Array<Record<string, unknown>> } };
    body.payload.inputs[0]!.id = 'innocent';
    body.payload.inputs[0]!.property = 'n_clicks';
    socket.write(frame(OPCODE.text, JSON.stringify(body)));
    await refused(socket, 'i-1');
    socket.end();
  });

  const violations: Array<[string, () => Buffer, number]> = [
    ['RSV1 set (a compressed frame)', () => frame(OPCODE.text, callbackRequest('v', '/reports'), { rsv: 4 }), 1002],
    ['RSV2 set', () => frame(OPCODE.text, callbackRequest('v', '/reports'), { rsv: 2 }), 1002],
    ['an unmasked client frame', () => frame(OPCODE.text, callbackRequest('v', '/reports'), { mask: false }), 1002],
    ['a continuation with no message', () => frame(OPCODE.continuation, callbackRequest('v', '/reports')), 1002],
    ['a new text frame inside a fragmented message', () => Buffer.concat([frame(OPCODE.text, '{"type":', { fin: false }), frame(OPCODE.text, callbackRequest('v', '/reports'))]), 1002],
    ['a fragmented ping', () => frame(OPCODE.ping, 'x', { fin: false }), 1002],
    ['a reserved data opcode', () => frame(0x3, callbackRequest('v', '/reports')), 1003],
    ['a binary message holding the JSON', () => frame(OPCODE.binary, callbackRequest('v', '/reports')), 1003],
    ['a length above dash.max_callback_body', () => Buffer.concat([Buffer.from([0x81, 0xff]), Buffer.from([0, 0, 0, 0, 0x10, 0, 0, 0]), Buffer.from([1, 2, 3, 4])]), 1009],
    ['a 64-bit length with its top bit set', () => Buffer.concat([Buffer.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0x10]), Buffer.from([1, 2, 3, 4])]), 1009],
    ['a JSON list of callback requests', () => frame(OPCODE.text, `[${callbackRequest('v', '/reports')}]`), 1008],
    ['JSON after a byte order mark', () => frame(OPCODE.text, `\ufeff${callbackRequest('v', '/reports')}`), 1007],
    ['NaN in the message (Python reads it)', () => frame(OPCODE.text, callbackRequest('v', '/reports').replace('"rendererId"', '"n":NaN,"rendererId"')), 1007],
  ];
  for (const [name, bytes, code] of violations) {
    it(`closes the socket (${code}) on ${name}, and nothing reaches the app`, async () => {
      const socket = await open(carol);
      socket.write(bytes());
      await socket.until(() => socket.closeCode() !== null || socket.closed, 'close');
      assert.equal(socket.closeCode(), code);
      assert.doesNotMatch(socket.texts().join('\n'), SECRET);
      socket.end();
    });
  }

  let opened = 0;
  for (const path of ['/_dash-ws-callback/', '//_dash-ws-callback', '/_dash-ws-callback;x', '/%5fdash-ws-callback', '/x/../_dash-ws-callback', '/_dash-ws-callback?x=1', '/./_dash-ws-callback']) {
    it(`reads the socket at ${path} as well (or the app has no socket there)`, async () => {
      const socket = await open(carol, {}, path);
      if (socket.status === 101) {
        opened++;
        socket.write(frame(OPCODE.text, callbackRequest('s-1', '/reports')));
        await refused(socket, 's-1');
      } else {
        assert.doesNotMatch(socket.responseHead, SECRET);
      }
      socket.end();
    });
  }

  it('most of those spellings reach Dash\'s socket (so they were read, not merely refused by the app)', () => assert.ok(opened >= 4, String(opened)));

  it('refuses a cross-site origin, "null" and a look-alike host', async () => {
    for (const origin of ['http://evil.example', 'null', `${gw.url}.evil.example`, gw.url.replace('127.0.0.1', 'localhost'), `${gw.url}/`]) {
      const socket = await open(carol, { origin });
      assert.equal(socket.status, 403, origin);
      socket.end();
    }
  });

  it('refuses the handshake with a body (Content-Length or chunked), which would be frames the gateway never read', async () => {
    for (const extra of [{ 'Content-Length': '40' }, { 'Transfer-Encoding': 'chunked' }] as Array<Record<string, string>>) {
      const socket = await open(carol, extra, '/_dash-ws-callback', frame(OPCODE.text, callbackRequest('b-1', '/reports')));
      assert.equal(socket.status, 400, JSON.stringify(extra));
      socket.end();
    }
  });

  it('keeps the page layouts out of a gzip-compressing app\'s pages for a browser (Accept-Encoding is not passed on)', async () => {
    const direct = await fetch(`${new URL(gw.gateway.config.upstream!).origin}/`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(direct.headers.get('content-encoding'), 'gzip', 'the app compresses');
    assert.match(await direct.text(), /Revenue by region/);
    const res = await fetch(`${gw.url}/`, { headers: { cookie: carol, accept: 'text/html,application/xhtml+xml', 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(res.status, 200);
    assert.doesNotMatch(await res.text(), SECRET);
  });
});
