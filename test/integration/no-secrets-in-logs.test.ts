import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { buildApp } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { openStore } from '../../src/store/store.js';
import { closeServer, createUser, signIn, startRecordingUpstream } from '../helpers/harness.js';

describe('logs never carry secrets', () => {
  it('redacts password, token, cookie and authorization fields wherever they appear', () => {
    let out = '';
    const logger = createLogger({ level: 'info', format: 'json' }, new Writable({ write: (c, _e, done) => ((out += c), done()) }));
    logger.info({ password: 'hunter2hunter2', user: { password: 'p4ssw0rd!!', token: 'tok.secret' }, req: { headers: { cookie: 'dashgate_session=abc.def', authorization: 'Bearer xyz' } } }, 'event');
    for (const secret of ['hunter2hunter2', 'p4ssw0rd!!', 'tok.secret', 'abc.def', 'Bearer xyz']) assert.ok(!out.includes(secret), secret);
    assert.match(out, /\[redacted\]/);
  });

  it('a sign-in, a proxied request, an upstream failure and a logout at trace level leave no password or session token in the log', async () => {
    let out = '';
    const logger = createLogger({ level: 'trace', format: 'json' }, new Writable({ write: (c, _e, done) => ((out += c), done()) }));
    const upstream = await startRecordingUpstream();
    const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-log-'));
    const store = await openStore({ dataDir });
    const gateway = await buildApp(parseConfig({ upstream: upstream.url, data_dir: dataDir }), { store, logger });
    await gateway.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(gateway.app.server.address() as AddressInfo).port}`;
    try {
      await createUser(store, 'alice', 'a very secret passphrase');
      const cookie = await signIn(url, 'alice', 'a very secret passphrase');
      await fetch(`${url}/`, { headers: { cookie } });
      await closeServer(upstream.server);
      await fetch(`${url}/`, { headers: { cookie } });
      const page = await fetch(`${url}/_dashgate/logout`, { headers: { cookie } });
      const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
      await fetch(`${url}/_dashgate/logout`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf }) });
      assert.match(out, /upstream failure/, 'the log did record events');
      const token = cookie.split('=')[1]!;
      assert.ok(!out.includes('a very secret passphrase'), 'password in log');
      assert.ok(!out.includes(token), 'session token in log');
      assert.ok(!out.includes(token.split('.')[1]!), 'session secret in log');
    } finally {
      await gateway.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
