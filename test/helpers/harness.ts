import { parse as parseHtml } from 'node-html-parser';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { buildApp, type Gateway } from '../../src/app.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { parseConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { openStore, type Store } from '../../src/store/store.js';
import type { Clock, User } from '../../src/store/types.js';

/** A real HTTP server on 127.0.0.1 and a free port; resolves to its base URL. */
export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: string;
}

/** An upstream that records every request it receives and answers with `handler` (default: 200 JSON echo). */
export async function startRecordingUpstream(handler?: RequestListener): Promise<{ url: string; server: Server; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    if (handler) {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: '' });
      return handler(req, res);
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() };
      requests.push(record);
      const body = JSON.stringify({ url: record.url, method: record.method });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  const url = await listen(server);
  return { url, server, requests, close: () => closeServer(server) };
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface TestGateway {
  gateway: Gateway;
  store: Store;
  /** Base URL the gateway listens on. */
  url: string;
  close(): Promise<void>;
}

/** The PostgreSQL the tests use (trust auth); each test isolates itself in a schema of its own. */
export const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Drops a test's PostgreSQL schema and everything in it. */
export async function dropPostgresSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}

/**
 * A gateway on a temporary store, listening on a free port, in front of `upstream`: SQLite, or
 * with `postgres` a fresh schema of the test PostgreSQL, dropped on close.
 */
export async function startGateway(upstream: string, overrides: ConfigInput = {}, options: { now?: Clock; port?: number; env?: NodeJS.ProcessEnv; postgres?: boolean } = {}): Promise<TestGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-test-'));
  const config = parseConfig({ ...overrides, upstream, data_dir: dataDir, log: { level: 'silent', format: 'json', access: 'off', ...overrides.log } });
  const schema = options.postgres ? `dg_test_${randomBytes(6).toString('hex')}` : null;
  const store = await openStore({ dataDir, ...(options.now ? { now: options.now } : {}), ...(schema ? { url: POSTGRES_URL, schema } : {}) });
  const gateway = await buildApp(config, { store, logger: pino({ level: 'silent' }), ...(options.now ? { now: options.now } : {}), ...(options.env ? { env: options.env } : {}) });
  await gateway.app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(gateway.app.server.address() as AddressInfo).port}`;
  return {
    gateway,
    store,
    url,
    async close() {
      await gateway.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (schema) await dropPostgresSchema(schema);
    },
  };
}

/** A port that was free a moment ago, for a server whose address must be known before it starts (an OAuth redirect URI). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Creates an active user with a password directly in the store. */
export async function createUser(store: Store, username: string, password: string, extra: { groups?: string[]; email?: string; isAdmin?: boolean; displayName?: string } = {}): Promise<User> {
  return store.users.create({ username, passwordHash: await hashPassword(password), ...extra });
}

/** The hidden inputs of a page (what a browser would send back; a later one of the same name wins), read with an HTML parser. */
export function hiddenFields(page: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const input of parseHtml(page).querySelectorAll('input[type=hidden]')) {
    const name = input.getAttribute('name');
    if (name) fields[name] = input.getAttribute('value') ?? '';
  }
  return fields;
}

/** Signs in through the real login form; returns the session cookie pair ("name=value"). */
export async function signIn(baseUrl: string, username: string, password: string, next = '/'): Promise<string> {
  const page = await fetch(`${baseUrl}/_dashgate/login?next=${encodeURIComponent(next)}`);
  const fields = hiddenFields(await page.text());
  const res = await fetch(`${baseUrl}/_dashgate/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, username, password }),
  });
  if (res.status !== 303) throw new Error(`sign-in failed with ${res.status}: ${await res.text()}`);
  const cookie = res.headers.get('set-cookie');
  if (!cookie) throw new Error('sign-in set no cookie');
  return cookie.split(';')[0]!;
}

/**
 * One request with the target sent exactly as given (fetch would normalise "/x/../y" and "//y"
 * before sending, hiding the very paths the gateway must judge). Does not follow redirects.
 */
export function rawRequest(baseUrl: string, target: string, options: { method?: string; headers?: Record<string, string>; body?: string; /** another local address to send from (127.0.0.3) */ from?: string } = {}): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: target, method: options.method ?? 'GET', headers: options.headers ?? {}, ...(options.from ? { localAddress: options.from } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

export const ALICE_PASSWORD = 'correct horse battery';

export interface SignedInGateway {
  upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  gw: TestGateway;
  /** alice's session cookie pair. */
  cookie: string;
  close(): Promise<void>;
}

/** The setup most tests share: a recording upstream, a gateway in front of it, and alice signed in. */
export async function startSignedIn(options: { handler?: RequestListener; config?: ConfigInput; now?: Clock } = {}): Promise<SignedInGateway> {
  const upstream = await startRecordingUpstream(options.handler);
  const gw = await startGateway(upstream.url, options.config ?? {}, options.now ? { now: options.now } : {});
  await createUser(gw.store, 'alice', ALICE_PASSWORD);
  const cookie = await signIn(gw.url, 'alice', ALICE_PASSWORD);
  return {
    upstream,
    gw,
    cookie,
    async close() {
      await gw.close();
      await upstream.close();
    },
  };
}
