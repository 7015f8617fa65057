/**
 * One guard for every transport: the same callers sent through a plain HTTP request, a
 * WebSocket upgrade and an `Expect: 100-continue` request get the same decision (status and
 * X-Dashgate code); the continue probe itself records nothing (a bad token is counted once).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ApiTokenManager } from '../../src/auth/api-tokens.js';
import { createUser, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

interface Decision {
  status: number;
  code: string | undefined;
  error: string | undefined;
}

const PASSWORD = 'correct horse battery';

describe('one guard: HTTP, WebSocket upgrade and 100-continue decide alike', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let t = Date.now();
  const cookies = new Map<string, string>();
  let token = '';

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(
      upstream.url,
      {
        access: { rules: [{ path: '/finance/**', groups: ['finance'] }, { path: '/public/**', policy: 'public' }, { path: '/secure/**', policy: 'authenticated', mfa: true }] },
        throttle: { ip_free_failures: 1000, account_free_failures: 1000 },
      },
      { now: () => t },
    );
    await createUser(gw.store, 'ana', PASSWORD, { groups: ['analysts'] });
    await createUser(gw.store, 'old', PASSWORD);
    cookies.set('ana', await signIn(gw.url, 'ana', PASSWORD));
    cookies.set('old', await signIn(gw.url, 'old', PASSWORD));
    const tokens = new ApiTokenManager(gw.store, { cacheTtlMs: 0, touchIntervalMs: 0 }, () => t);
    token = (await tokens.create((await gw.store.users.findByUsername('ana'))!, { name: 'script', expiresAt: null, createdBy: 'test' })).token;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  let base = '';
  const port = () => Number(new URL(base || gw.url).port);

  function overHttp(path: string, headers: Record<string, string>): Promise<Decision> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: port(), path, method: 'GET', headers: { accept: 'application/json', ...headers } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, code: res.headers['x-dashgate'] as string | undefined, error: body ? (JSON.parse(body) as { error?: string }).error : undefined }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** A POST with Expect: 100-continue: the body goes only if the gateway invites it. */
  function overContinue(path: string, headers: Record<string, string>): Promise<Decision & { invited: boolean }> {
    return new Promise((resolve, reject) => {
      let invited = false;
      const req = request({ host: '127.0.0.1', port: port(), path, method: 'POST', headers: { accept: 'application/json', 'content-type': 'text/plain', 'content-length': '5', expect: '100-continue', ...headers } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ invited, status: res.statusCode!, code: res.headers['x-dashgate'] as string | undefined, error: body ? (JSON.parse(body) as { error?: string }).error : undefined }));
      });
      req.on('continue', () => {
        invited = true;
        req.end('hello');
      });
      req.on('error', reject);
    });
  }

  function overUpgrade(path: string, headers: Record<string, string>): Promise<Decision> {
    return new Promise((resolve, reject) => {
      const socket = connect(port(), '127.0.0.1', () => {
        const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port()}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`);
      });
      let text = '';
      socket.setEncoding('utf8').on('data', (c: string) => (text += c));
      socket.on('error', reject);
      socket.on('close', () => {
        const [head, body] = text.split('\r\n\r\n') as [string, string];
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), code: /\r\nX-Dashgate: ([^\r]+)/i.exec(head)?.[1], error: body ? (JSON.parse(body) as { error?: string }).error : undefined });
      });
    });
  }

  const CASES: Array<{ name: string; path: string; headers: () => Record<string, string>; expect: Decision; before?: () => Promise<void> }> = [
    { name: 'anonymous on a private path', path: '/x', headers: () => ({}), expect: { status: 401, code: 'login-required', error: 'login_required' } },
    { name: 'a bad API token on a private path', path: '/x', headers: () => ({ authorization: 'Bearer dgt_aaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' }), expect: { status: 401, code: 'invalid-credentials', error: 'invalid_credentials' } },
    { name: 'a bad API token on a public path', path: '/public/x', headers: () => ({ authorization: 'Bearer dgt_aaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' }), expect: { status: 401, code: 'invalid-credentials', error: 'invalid_credentials' } },
    { name: 'HTTP Basic where no rule allows it', path: '/x', headers: () => ({ authorization: `Basic ${Buffer.from(`ana:${PASSWORD}`).toString('base64')}` }), expect: { status: 401, code: 'login-required', error: 'login_required' } },
    { name: 'a session cookie that is not a session', path: '/x', headers: () => ({ cookie: 'dashgate_session=abc.def' }), expect: { status: 401, code: 'login-required', error: 'login_required' } },
    { name: 'a signed-in user outside the group', path: '/finance/x', headers: () => ({ cookie: cookies.get('ana')! }), expect: { status: 403, code: 'forbidden', error: 'forbidden' } },
    { name: 'a password-only session on a step-up path', path: '/secure/x', headers: () => ({ cookie: cookies.get('ana')! }), expect: { status: 403, code: 'forbidden', error: 'second_factor_enrolment_required' } },
    { name: 'a valid API token', path: '/x', headers: () => ({ authorization: `Bearer ${token}` }), expect: { status: 200, code: undefined, error: undefined } },
  ];

  for (const c of CASES) {
    it(`${c.name}: same decision on every transport`, async () => {
      const http = await overHttp(c.path, c.headers());
      assert.deepEqual(http, c.expect, 'HTTP');
      const expectContinue = await overContinue(c.path, c.headers());
      assert.deepEqual({ status: expectContinue.status, code: expectContinue.code, error: expectContinue.error }, c.expect, '100-continue');
      assert.equal(expectContinue.invited, c.expect.status === 200, 'the body is invited only when the request will pass');
      if (c.expect.status !== 200) assert.deepEqual(await overUpgrade(c.path, c.headers()), c.expect, 'WebSocket upgrade');
    });
  }

  it('an expired session is refused alike', async () => {
    const cookie = cookies.get('old')!;
    t += 9 * 3_600_000; // past session.idle_timeout (8 h)
    const expect = { status: 401, code: 'login-required', error: 'login_required' };
    assert.deepEqual(await overUpgrade('/x', { cookie }), expect);
    assert.deepEqual(await overHttp('/x', { cookie }), expect);
    const viaContinue = await overContinue('/x', { cookie });
    assert.deepEqual({ status: viaContinue.status, code: viaContinue.code, error: viaContinue.error }, expect);
    t -= 9 * 3_600_000;
  });

  it('the 100-continue probe records nothing: one bad token with Expect is counted and audited once', async () => {
    const failures = async () => (await gw.store.audit.list({ action: 'token.failure', limit: 1000 })).length;
    const before = await failures();
    const answer = await overContinue('/x', { authorization: 'Bearer dgt_cccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddddddd', 'x-forwarded-for': '1.2.3.4' });
    assert.equal(answer.status, 401);
    assert.equal(answer.invited, false);
    assert.equal(await failures(), before + 1);
  });

  it('throttled after repeated bad tokens, alike on every transport', async () => {
    const strict = await startGateway(upstream.url, { throttle: { ip_free_failures: 3, account_free_failures: 3 } });
    base = strict.url;
    try {
      const bad = { authorization: 'Bearer dgt_eeeeeeeeeeeeeeeeeeeeeeee.ffffffffffffffffffffffffffffffffffffffffffff' };
      for (let i = 0; i < 4; i++) await overHttp('/x', bad);
      const http = await overHttp('/x', bad);
      assert.deepEqual(http, { status: 429, code: 'too-many-attempts', error: 'too_many_attempts' });
      assert.deepEqual(await overUpgrade('/x', bad), http);
      const viaContinue = await overContinue('/x', bad);
      assert.deepEqual({ status: viaContinue.status, code: viaContinue.code, error: viaContinue.error }, http);
    } finally {
      base = '';
      await strict.close();
    }
  });
});
