/**
 * Dash 4's WebSocket callbacks (FastAPI backend under uvicorn, websocket_callbacks=True) through
 * the gateway, driven with a WebSocket client speaking the renderer's protocol: every
 * callback_request is judged like an HTTP callback, a refused one gets Dash's error answer for
 * its request id while the socket keeps serving the others, and an ended session closes the
 * socket with the code the page helper reads.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startUvicorn, stopProcessGroup } from '../helpers/browser.js';
import { createUser, signIn, startGateway, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'reports passphrase';
const ROUTER = '.._pages_content.children..._pages_store.data..';

interface Answer {
  type: string;
  requestId?: string;
  payload?: { status: string; message?: string; data?: unknown };
}

/** A client like Dash's worker: one socket, requests matched to answers by requestId. */
class DashSocket {
  private counter = 0;
  private readonly waiting = new Map<string, (answer: Answer) => void>();
  readonly messages: Answer[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const parsed = JSON.parse(String(data)) as Answer | Answer[];
      for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
        this.messages.push(message);
        if (message.requestId && this.waiting.has(message.requestId)) {
          this.waiting.get(message.requestId)!(message);
          this.waiting.delete(message.requestId);
        }
      }
    });
    this.closed = once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
  }

  call(payload: object): Promise<Answer> {
    const requestId = `renderer-1-${++this.counter}`;
    const answered = new Promise<Answer>((resolve) => this.waiting.set(requestId, resolve));
    this.ws.send(JSON.stringify({ type: 'callback_request', rendererId: 'renderer-1', requestId, payload }));
    return answered;
  }
}

describe('Dash WebSocket callbacks through the gateway', { timeout: 120_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let carol: string;
  let bob: string;

  before(async () => {
    const started = await startUvicorn('test/fixtures/dash_pages', { env: { DASH_WEBSOCKET: '1' } });
    dash = started.child;
    gw = await startGateway(started.url, {
      access: { rules: [{ path: '/about', policy: 'public' }, { path: '/reports/**', groups: ['finance'], components: ['load-figures', 'report-*'] }] },
      dash: { callbacks: [{ outputs: ['about-extra.children'], groups: ['finance'] }] },
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

  async function connect(cookie: string | null): Promise<DashSocket> {
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/_dash-ws-callback`, { headers: { origin: gw.url, ...(cookie ? { cookie } : {}) }, perMessageDeflate: true });
    await once(ws, 'open');
    return new DashSocket(ws);
  }
  const page = (pathname: string) => ({
    output: ROUTER,
    outputs: [{ id: '_pages_content', property: 'children' }, { id: '_pages_store', property: 'data' }],
    inputs: [{ id: '_pages_location', property: 'pathname', value: pathname }, { id: '_pages_location', property: 'search', value: '' }],
    changedPropIds: ['_pages_location.pathname'],
  });
  const figures = { output: 'report-figures.children', outputs: { id: 'report-figures', property: 'children' }, inputs: [{ id: 'load-figures', property: 'n_clicks', value: 1 }], changedPropIds: ['load-figures.n_clicks'] };

  it('declines compression so frames can be read, and passes heartbeats', async () => {
    const socket = await connect(bob);
    assert.equal(socket.ws.extensions, '', 'permessage-deflate offered by the client, not negotiated');
    socket.ws.send(JSON.stringify({ type: 'heartbeat' }));
    for (let i = 0; i < 100 && !socket.messages.some((m) => m.type === 'heartbeat_ack'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(socket.messages.some((m) => m.type === 'heartbeat_ack'));
    socket.ws.close();
  });

  it('runs allowed callbacks, answers a refused one with Dash\'s error for its request id, and keeps the socket for the rest', async () => {
    const socket = await connect(carol);
    const about = await socket.call(page('/about'));
    assert.equal(about.payload?.status, 'ok');
    const refused = await socket.call(page('/reports'));
    assert.equal(refused.type, 'callback_response');
    assert.equal(refused.payload?.status, 'error');
    assert.match(refused.payload!.message!, / dashgate:[0-9a-f]{18}:\{"error":"forbidden","reason":"page","path":"\/reports","target":"_pages_content"\}$/);
    assert.doesNotMatch(JSON.stringify(socket.messages), /Confidential/);
    const data = await socket.call(figures);
    assert.equal(data.payload?.status, 'error', 'the page\'s own callback too');
    const extra = { output: 'about-extra.children', outputs: { id: 'about-extra', property: 'children' }, inputs: [{ id: 'about-more', property: 'n_clicks', value: 1 }], changedPropIds: ['about-more.n_clicks'] };
    assert.equal((await socket.call(extra)).payload?.status, 'error', 'a callback rule holds over the socket as over HTTP');
    const again = await socket.call(page('/'));
    assert.equal(again.payload?.status, 'ok', 'the socket still serves allowed callbacks');
    assert.equal(socket.ws.readyState, WebSocket.OPEN);
    socket.ws.close();
  });

  it('gives bob the finance page and its data', async () => {
    const socket = await connect(bob);
    const reports = await socket.call(page('/reports'));
    assert.equal(reports.payload?.status, 'ok');
    assert.match(JSON.stringify(reports.payload), /Confidential finance report/);
    assert.match(JSON.stringify((await socket.call(figures)).payload), /North: 1\.2M/);
    const extra = { output: 'about-extra.children', outputs: { id: 'about-extra', property: 'children' }, inputs: [{ id: 'about-more', property: 'n_clicks', value: 1 }], changedPropIds: ['about-more.n_clicks'] };
    assert.match(JSON.stringify((await socket.call(extra)).payload), /Made by the data team/);
    socket.ws.close();
  });

  it('closes the socket with 4001 "dashgate:<mark>:session_ended" as soon as the session ends', async () => {
    const cookie = await signIn(gw.url, 'carol', PASSWORD);
    const socket = await connect(cookie);
    assert.equal((await socket.call(page('/about'))).payload?.status, 'ok');
    const sessionId = decodeURIComponent(cookie.split('=')[1]!).split('.')[0]!;
    await gw.gateway.sessions.invalidateSession(sessionId);
    const closed = await socket.closed;
    assert.equal(closed.code, 4001);
    assert.match(closed.reason, /^dashgate:[0-9a-f]{18}:session_ended$/);
  });

  it('refuses the handshake without a session, and closes on messages Dash\'s protocol does not have', async () => {
    const anonymous = new WebSocket(`${gw.url.replace('http', 'ws')}/_dash-ws-callback`, { headers: { origin: gw.url } });
    const [, res] = (await once(anonymous, 'unexpected-response')) as [unknown, { statusCode: number }];
    assert.equal(res.statusCode, 401);
    for (const [message, code] of [['not json', 1007], ['[{"type":"callback_request"}]', 1008]] as const) {
      const socket = await connect(bob);
      socket.ws.send(message);
      assert.equal((await socket.closed).code, code, message);
    }
    const binary = await connect(bob);
    binary.ws.send(Buffer.from([1, 2, 3]));
    assert.equal((await binary.closed).code, 1003);
  });
});
