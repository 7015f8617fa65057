import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { buildApp, type Gateway } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { openStore, type Store } from '../../src/store/store.js';
import { testClock } from '../helpers/clock.js';
import { ALICE_PASSWORD, createUser, hiddenFields, rawRequest, signIn, startRecordingUpstream } from '../helpers/harness.js';
import { startOwnPostgres, type OwnPostgres } from '../helpers/own-postgres.js';

/**
 * A full stop and start of PostgreSQL under a running gateway (issue 14), on an instance this
 * test starts itself (initdb, its own port) so nothing else is disturbed. Two gateways share it:
 * session.store_outage refuse (the default) and grace. The clock is injected: cache and grace
 * times are crossed by moving it, never by waiting.
 */
const CACHE_TTL = 5_000;
const GRACE = 60_000;

interface Running {
  gateway: Gateway;
  store: Store;
  url: string;
  outages: number;
  close(): Promise<void>;
}

let own: OwnPostgres | string;
const clock = testClock(Date.UTC(2026, 11, 2, 9, 0));

async function startOn(url: string, upstream: string, overrides: ConfigInput): Promise<Running> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-pg-restart-'));
  const schema = `restart_${randomBytes(4).toString('hex')}`;
  const running = { outages: 0 } as Running;
  const store = await openStore({ url, dataDir, schema, now: clock.now, onOutage: () => running.outages++ });
  const config = parseConfig({ ...overrides, upstream, data_dir: dataDir, log: { level: 'silent', format: 'json' } });
  const gateway = await buildApp(config, { store, logger: pino({ level: 'silent' }), now: clock.now });
  await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  return Object.assign(running, {
    gateway,
    store,
    url: `http://127.0.0.1:${(gateway.app.server.address() as AddressInfo).port}`,
    async close() {
      await gateway.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

interface Answer {
  status: number;
  type: string;
  code: string | null;
  retryAfter: string | null;
  body: string;
}

/** node:http, not fetch: fetch sends its own Sec-Fetch-Mode (cors), and a browser navigating sends navigate. */
async function send(base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const res = await rawRequest(base, path, { method, headers, ...(body === undefined ? {} : { body }) });
  const one = (name: string) => (res.headers[name] === undefined ? null : String(res.headers[name]));
  return { status: res.status, type: one('content-type') ?? '', code: one('x-dashgate'), retryAfter: one('retry-after'), body: res.body };
}

const get = (base: string, path: string, headers: Record<string, string>) => send(base, 'GET', path, headers);

const page = (cookie?: string) => ({ accept: 'text/html', 'sec-fetch-mode': 'navigate', ...(cookie ? { cookie } : {}) });
const script = (cookie?: string) => ({ accept: 'application/json', 'sec-fetch-mode': 'cors', ...(cookie ? { cookie } : {}) });

function postSignIn(base: string, fields: Record<string, string>, headers: Record<string, string>): Promise<Answer> {
  const body = new URLSearchParams({ ...fields, username: 'alice', password: ALICE_PASSWORD }).toString();
  return send(base, 'POST', '/_dashgate/login', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)), origin: base, ...headers }, body);
}

/** Opens a WebSocket through the gateway: the socket, or the status of the refusal. */
function openSocket(base: string, cookie: string): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('http:', 'ws:')}/ws`, { headers: { cookie } });
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.on('error', reject);
  });
}

async function readiness(base: string): Promise<{ status: number; body: { status: string; parts: Record<string, string> } }> {
  const res = await fetch(`${base}/_dashgate/ready`);
  return { status: res.status, body: (await res.json()) as { status: string; parts: Record<string, string> } };
}

/** Readiness is re-evaluated at most once a second (real time): ask until it says `want`. */
async function readinessBecomes(base: string, want: string): Promise<{ status: number; body: { status: string; parts: Record<string, string> } }> {
  for (let i = 0; ; i++) {
    const ready = await readiness(base);
    if (ready.body.status === want || i >= 100) return ready;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('PostgreSQL stopped and started under a running gateway', { timeout: 120_000 }, () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let wss: WebSocketServer;
  let refuse: Running;
  let grace: Running;
  const cookies: Record<string, string> = {};
  const forms: Record<string, Record<string, string>> = {};

  before(async () => {
    own = await startOwnPostgres();
    if (typeof own === 'string') return;
    upstream = await startRecordingUpstream();
    wss = new WebSocketServer({ server: upstream.server });
    refuse = await startOn(own.url, upstream.url, { session: { cache_ttl: '5s' } });
    grace = await startOn(own.url, upstream.url, { session: { cache_ttl: '5s', store_outage: 'grace', outage_grace: '60s' } });
    for (const [name, gw] of [['refuse', refuse], ['grace', grace]] as const) {
      await createUser(gw.store, 'alice', ALICE_PASSWORD);
      await createUser(gw.store, 'bob', ALICE_PASSWORD);
      cookies[`${name}.alice`] = await signIn(gw.url, 'alice', ALICE_PASSWORD);
      cookies[`${name}.bob`] = await signIn(gw.url, 'bob', ALICE_PASSWORD);
      // The sign-in form as a browser had it open before the outage (its CSRF token).
      forms[name] = hiddenFields(await (await fetch(`${gw.url}/_dashgate/login`)).text());
    }
  });

  after(async () => {
    await refuse?.close();
    await grace?.close();
    wss?.close();
    await upstream?.close();
    if (typeof own !== 'string') await own?.destroy();
  });

  it('while it is down: sign-in is a 503 page or STORE_UNAVAILABLE JSON, cached sessions work, then refuse or grace; after the start everything recovers', async (t) => {
    if (typeof own === 'string') return t.skip(own);
    assert.equal((await readiness(refuse.url)).body.status, 'ok');
    assert.equal((await get(refuse.url, '/dash', page(cookies['refuse.alice']))).status, 200);
    const aliceSocket = (await openSocket(grace.url, cookies['grace.alice']!)) as WebSocket;
    const bobSocket = (await openSocket(grace.url, cookies['grace.bob']!)) as WebSocket;
    assert.equal(aliceSocket.readyState, WebSocket.OPEN);
    const bobSocketClosed = new Promise<void>((resolve) => bobSocket.once('close', () => resolve()));

    await own.stop();

    // A browser signing in gets the branded page saying to try again, not a JSON 500.
    const browser = await postSignIn(refuse.url, forms.refuse!, page());
    assert.equal(browser.status, 503);
    assert.equal(browser.code, 'store_unavailable');
    assert.equal(browser.retryAfter, "5", browser.body);
    assert.match(browser.type, /^text\/html/, browser.body);
    assert.match(browser.body, /Sign-in is unavailable for a moment/);
    // A script gets the code as JSON.
    const scripted = await postSignIn(refuse.url, forms.refuse!, script());
    assert.equal(scripted.status, 503);
    assert.match(scripted.type, /^application\/json/);
    assert.equal(JSON.parse(scripted.body).error, 'store_unavailable');
    // A cookie the gateway has never seen needs the store: 503, not a sign-in redirect that would loop.
    const unknown = await get(refuse.url, '/dash', page(`dashgate_session=${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}`));
    assert.equal(unknown.status, 503);
    assert.equal(unknown.code, 'store_unavailable');

    // Within their cache time, signed-in users see nothing.
    for (const gw of ['refuse', 'grace'] as const) {
      assert.equal((await get(gw === 'refuse' ? refuse.url : grace.url, '/dash', page(cookies[`${gw}.alice`]))).status, 200, `${gw}: cached session`);
    }
    const down = await readinessBecomes(refuse.url, 'unavailable');
    assert.equal(down.status, 503);
    assert.equal(down.body.parts.store, 'unavailable');

    // bob signs out on the grace gateway while the store is down: the sign-out cannot reach the
    // store, but this instance drops its copy, so grace never lets that session in again.
    const bobSession = cookies['grace.bob']!.split('=')[1]!.split('.')[0]!;
    await assert.rejects(grace.gateway.sessions.invalidateSession(bobSession), (err: { code?: string }) => err.code === 'STORE_UNAVAILABLE');
    // bob's open WebSocket cannot be confirmed any more: closed. alice's stays.
    await bobSocketClosed;
    assert.equal(aliceSocket.readyState, WebSocket.OPEN);

    clock.advance(CACHE_TTL + 1_000);
    const refused = await get(refuse.url, '/dash', page(cookies['refuse.alice']));
    assert.equal(refused.status, 503, 'refuse: past its cache time the session is not let in');
    assert.equal(refused.code, 'store_unavailable');
    assert.match(refused.body, /Sign-in is unavailable for a moment/);
    const refusedScript = await get(refuse.url, '/_dash-update-component', script(cookies['refuse.alice']));
    assert.equal(refusedScript.status, 503);
    assert.equal(JSON.parse(refusedScript.body).error, 'store_unavailable');
    assert.equal(await openSocket(refuse.url, cookies['refuse.alice']!), 503, 'refuse: a WebSocket upgrade too');
    assert.equal((await get(grace.url, '/dash', page(cookies['grace.alice']))).status, 200, 'grace: still let in');
    assert.equal((await get(grace.url, '/dash', page(cookies['grace.bob']))).status, 503, 'grace: a session ended here is never let in from memory');

    clock.advance(GRACE);
    assert.equal((await get(grace.url, '/dash', page(cookies['grace.alice']))).status, 503, 'grace: bounded');
    assert.ok(refuse.outages > 0 && grace.outages > 0, 'the store reported the outage');

    await own.start();

    // Recovery without a restart: readiness, sign-in and sessions, on both.
    for (const gw of [refuse, grace]) {
      const ready = await readinessBecomes(gw.url, 'ok');
      assert.equal(ready.status, 200);
      assert.equal(ready.body.parts.store, 'ok');
      assert.equal((await postSignIn(gw.url, forms[gw === refuse ? 'refuse' : 'grace']!, page())).status, 303, 'signing in works again');
    }
    assert.equal((await get(refuse.url, '/dash', page(cookies['refuse.alice']))).status, 200);
    assert.equal((await get(grace.url, '/dash', page(cookies['grace.alice']))).status, 200);
    aliceSocket.close();
  });
});
