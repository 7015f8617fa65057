import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { closeServer, createUser, signIn, startGateway, type TestGateway } from '../helpers/harness.js';

describe('upstream down, slow and back', () => {
  let app: Server;
  let port: number;
  let gw: TestGateway;
  let cookie: string;

  const startApp = async () => {
    app = createServer((req, res) => {
      if (req.url === '/slow') return; // never answers
      res.end('app is up');
    });
    await new Promise<void>((resolve) => app.listen(port, '127.0.0.1', resolve));
  };

  before(async () => {
    app = createServer();
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    port = (app.address() as AddressInfo).port;
    await closeServer(app);
    await startApp();
    gw = await startGateway(`http://127.0.0.1:${port}`, { proxy: { response_timeout: '1s' } });
    await createUser(gw.store, 'alice', 'correct horse battery');
    cookie = await signIn(gw.url, 'alice', 'correct horse battery');
  });
  after(async () => {
    await gw.close();
    await closeServer(app);
  });

  it('answers 502 with a branded page for browsers and JSON for fetch while the app is down, then recovers', async () => {
    assert.equal(await (await fetch(`${gw.url}/`, { headers: { cookie } })).text(), 'app is up');
    await closeServer(app);

    const page = await fetch(`${gw.url}/`, { headers: { cookie, accept: 'text/html' } });
    assert.equal(page.status, 502);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const html = await page.text();
    assert.match(html, /The app is not answering/);
    assert.match(html, /Protected by Dashgate/);

    const json = await fetch(`${gw.url}/_dash-update-component`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(json.status, 502);
    assert.equal(((await json.json()) as { error: string }).error, 'upstream_unavailable');

    const health = await fetch(`${gw.url}/_dashgate/health`);
    assert.equal(health.status, 200, 'the gateway itself stays healthy');

    await startApp();
    const back = await fetch(`${gw.url}/`, { headers: { cookie } });
    assert.equal(back.status, 200);
    assert.equal(await back.text(), 'app is up');
  });

  it('answers 504 when the app does not send headers in time', async () => {
    const res = await fetch(`${gw.url}/slow`, { headers: { cookie, accept: 'application/json' } });
    assert.equal(res.status, 504);
    assert.equal(((await res.json()) as { error: string }).error, 'upstream_timeout');
  });
});
