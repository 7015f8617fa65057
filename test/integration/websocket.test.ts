import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { createUser, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

type Opened = { kind: 'open'; ws: WebSocket } | { kind: 'refused'; status: number; body: string };

function connect(url: string, headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => resolve({ kind: 'open', ws }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ kind: 'refused', status: res.statusCode ?? 0, body }));
    });
    ws.on('error', reject);
  });
}

describe('WebSocket upgrades through the gateway', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let wss: WebSocketServer;
  const upgrades: Record<string, string | string[] | undefined>[] = [];
  let gw: TestGateway;
  let cookie: string;
  let wsBase: string;

  before(async () => {
    upstream = await startRecordingUpstream((_req, res) => res.end('http'));
    wss = new WebSocketServer({ server: upstream.server });
    wss.on('connection', (socket, req) => {
      upgrades.push(req.headers);
      socket.on('message', (data) => socket.send(`echo:${data.toString()}`));
    });
    gw = await startGateway(upstream.url);
    await createUser(gw.store, 'alice', 'correct horse battery', { groups: ['analysts'] });
    cookie = await signIn(gw.url, 'alice', 'correct horse battery');
    wsBase = gw.url.replace('http:', 'ws:');
  });
  after(async () => {
    wss.close();
    await gw.close();
    await upstream.close();
  });

  it('refuses an anonymous upgrade with 401 before anything reaches the app', async () => {
    const result = await connect(`${wsBase}/_stcore/stream`);
    assert.equal(result.kind, 'refused');
    assert.equal((result as { status: number }).status, 401);
    assert.equal(JSON.parse((result as { body: string }).body).error, 'login_required');
    assert.equal(upgrades.length, 0);
  });

  it('refuses a forged or revoked session cookie', async () => {
    const result = await connect(`${wsBase}/ws`, { cookie: 'dashgate_session=AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' });
    assert.equal(result.kind === 'refused' && result.status, 401);
  });

  it('joins the sockets for a signed-in user and hands over the identity, not the client-sent one', async () => {
    const result = await connect(`${wsBase}/ws?room=1`, { cookie, 'x-forwarded-user': 'mallory', remote_user: 'mallory' });
    assert.equal(result.kind, 'open');
    const ws = (result as { ws: WebSocket }).ws;
    const reply = await new Promise<string>((resolve) => {
      ws.once('message', (data) => resolve(data.toString()));
      ws.send('hello');
    });
    assert.equal(reply, 'echo:hello');
    ws.close();
    const seen = upgrades.at(-1)!;
    assert.equal(seen['x-forwarded-user'], 'alice');
    assert.equal(seen['x-forwarded-groups'], 'analysts');
    assert.match(String(seen['x-dashgate-jwt']), /^ey[\w-]+\.[\w-]+\.[\w-]+$/, 'the signed identity comes along');
    assert.equal(seen['remote_user'], undefined);
    assert.equal(seen.cookie, undefined);
  });

  it('refuses a cross-site page opening a socket with the user cookie (CSWSH)', async () => {
    const before = upgrades.length;
    const result = await connect(`${wsBase}/ws`, { cookie, origin: 'https://evil.example' });
    assert.equal(result.kind === 'refused' && result.status, 403);
    assert.equal(upgrades.length, before);
  });

  it('refuses a socket after the session is ended server-side', async () => {
    const user = await gw.store.users.findByUsername('alice');
    await gw.gateway.sessions.invalidateUserSessions(user!.id);
    const result = await connect(`${wsBase}/ws`, { cookie });
    assert.equal(result.kind === 'refused' && result.status, 401);
  });
});

describe('an open WebSocket lives no longer than its session', () => {
  it('is closed once its session is ended server-side', { timeout: 20_000 }, async () => {
    const upstream = await startRecordingUpstream((_req, res) => res.end('http'));
    const wss = new WebSocketServer({ server: upstream.server });
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo:${data.toString()}`)));
    const gw = await startGateway(upstream.url, { session: { cache_ttl: '1s' } });
    try {
      const alice = await createUser(gw.store, 'alice', 'correct horse battery');
      const cookie = await signIn(gw.url, 'alice', 'correct horse battery');
      const result = await connect(`${gw.url.replace('http:', 'ws:')}/stream`, { cookie });
      assert.equal(result.kind, 'open');
      const ws = (result as { ws: WebSocket }).ws;
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      await gw.gateway.sessions.invalidateUserSessions(alice.id);
      await closed;
      assert.equal(ws.readyState, WebSocket.CLOSED);
    } finally {
      wss.close();
      await gw.close();
      await upstream.close();
    }
  });
});

describe('upgrades the app declines, and upgrades with a body', () => {
  it('passes on a declined upgrade as one well-framed response, and the next upgrade is unaffected', { timeout: 20_000 }, async () => {
    const upstream = await startRecordingUpstream((req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
      res.end(`no socket at ${req.url}`);
    });
    const gw = await startGateway(upstream.url);
    try {
      await createUser(gw.store, 'alice', 'correct horse battery');
      const cookie = await signIn(gw.url, 'alice', 'correct horse battery');
      const wsBase = gw.url.replace('http:', 'ws:');
      for (const path of ['/a', '/b']) {
        const result = await connect(`${wsBase}${path}`, { cookie });
        assert.equal(result.kind, 'refused');
        assert.equal((result as { status: number }).status, 404);
        assert.equal((result as { body: string }).body, `no socket at ${path}`);
      }
      assert.deepEqual(upstream.requests.map((r) => r.url), ['/a', '/b'], 'each upgrade reached the app once, on its own connection');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  it('refuses an upgrade that carries a body (it would desynchronise the app connection)', async () => {
    const upstream = await startRecordingUpstream((_req, res) => res.end('x'));
    const gw = await startGateway(upstream.url);
    try {
      await createUser(gw.store, 'alice', 'correct horse battery');
      const cookie = await signIn(gw.url, 'alice', 'correct horse battery');
      const result = await connect(`${gw.url.replace('http:', 'ws:')}/a`, { cookie, 'content-length': '30' });
      assert.equal(result.kind === 'refused' && result.status, 400);
      assert.equal(upstream.requests.length, 0);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
