/**
 * An app on a Unix socket (`upstream: unix:/path/app.sock`, and `dashgate run` with `{socket}`):
 * plain requests, a streamed answer, a WebSocket, the app going down and coming back, and a real
 * Dash app under gunicorn bound with `-b unix:{socket}`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { findFreePort } from '../../src/runner/free-port.js';
import { REPO_ROOT, testPython } from '../helpers/browser.js';
import { startCli } from '../helpers/cli-process.js';
import { createUser, signIn, startGateway, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'correct horse battery';

describe('an upstream on a Unix socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dashgate-unix-'));
  const socketPath = join(dir, 'app.sock');
  let app: Server;
  let gw: TestGateway;
  let cookie: string;
  let release: (() => void) | null = null;

  function startApp(): Promise<void> {
    app = createServer((req, res) => {
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first;');
        // The second part comes only once the test has seen the first: the answer really streams.
        release = () => res.end('second');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, user: req.headers['x-forwarded-user'] }));
    });
    const wss = new WebSocketServer({ server: app });
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo ${String(data)}`)));
    return new Promise((resolve) => app.listen(socketPath, resolve));
  }

  before(async () => {
    await startApp();
    gw = await startGateway(`unix:${socketPath}`);
    await createUser(gw.store, 'alice', PASSWORD);
    cookie = await signIn(gw.url, 'alice', PASSWORD);
  });
  after(async () => {
    await gw.close();
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards requests with the identity', async () => {
    const res = await fetch(`${gw.url}/reports?q=1`, { headers: { cookie } });
    assert.deepEqual(await res.json(), { url: '/reports?q=1', user: 'alice' });
  });

  it('streams the answer as it comes', async () => {
    const url = new URL(gw.url);
    const text = await new Promise<string>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: '/stream', headers: { cookie } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk;
          if (body === 'first;') release!();
        });
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(text, 'first;second');
  });

  it('carries WebSockets', async () => {
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/socket`, { headers: { cookie, origin: gw.url } });
    await once(ws, 'open');
    ws.send('hi');
    const [data] = await once(ws, 'message');
    assert.equal(String(data), 'echo hi');
    ws.close();
  });

  it('answers 502 while the app is down, and recovers when it is back', async () => {
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
    const down = await fetch(`${gw.url}/x`, { headers: { cookie, accept: 'application/json' } });
    assert.equal(down.status, 502);
    assert.equal(((await down.json()) as { error: string }).error, 'upstream_unavailable');
    await startApp();
    const back = await fetch(`${gw.url}/x`, { headers: { cookie } });
    assert.equal(back.status, 200);
  });
});

describe('dashgate run with gunicorn on {socket} and a real Dash app', { timeout: 120_000 }, () => {
  it('starts the app on a private socket and serves it through the gateway', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-run-socket-'));
    const add = spawnSync(process.execPath, ['bin/dashgate.js', 'users', 'add', 'alice', '--data-dir', dataDir, '--password-stdin'], { cwd: REPO_ROOT, input: PASSWORD, encoding: 'utf8', env: { ...process.env, DASHGATE_LOG__LEVEL: 'silent' } });
    assert.equal(add.status, 0, add.stderr);
    const port = await findFreePort();
    const cli = startCli(['run', '--port', String(port), '--data-dir', dataDir, '--', testPython(), '-m', 'gunicorn', '-b', 'unix:{socket}', '--chdir', join(REPO_ROOT, 'test/fixtures/dash_app'), 'app:server']);
    try {
      const started = await cli.waitForLog((line) => line.msg === 'starting the app');
      assert.match(String(started.socket), /\/dashgate-app-[^/]+\/app\.sock$/);
      await cli.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('Dashgate is guarding'));
      const base = `http://127.0.0.1:${port}`;
      const aliceCookie = await signIn(base, 'alice', PASSWORD);
      const layout = await fetch(`${base}/_dash-layout`, { headers: { cookie: aliceCookie } });
      assert.equal(layout.status, 200);
      assert.equal(typeof ((await layout.json()) as { props?: unknown }).props, 'object');
      const anonymous = await fetch(`${base}/_dash-layout`);
      assert.equal(anonymous.status, 401);
    } finally {
      await cli.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
