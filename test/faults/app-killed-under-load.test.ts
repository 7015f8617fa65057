import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { findFreePort } from '../../src/runner/free-port.js';
import { ALICE_PASSWORD, createUser, signIn, startGateway, type TestGateway } from '../helpers/harness.js';

/**
 * The app killed (SIGKILL) and started again while signed-in requests keep coming (issue 14):
 * every answer is the app's or a clean 502 UPSTREAM_UNAVAILABLE JSON (no reset, no 500), and
 * the gateway serves the app again once it is back, without a restart. Counted, never timed.
 */
describe('the app killed and restarted under load', () => {
  let port: number;
  let app: ChildProcess;
  let gw: TestGateway;
  let cookie: string;

  /** The app: a separate process, so it can be killed like a real one. */
  async function startApp(): Promise<void> {
    app = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1', () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => app.stdout!.once('data', () => resolve()));
  }

  before(async () => {
    port = await findFreePort();
    await startApp();
    gw = await startGateway(`http://127.0.0.1:${port}`);
    await createUser(gw.store, 'alice', ALICE_PASSWORD);
    cookie = await signIn(gw.url, 'alice', ALICE_PASSWORD);
  });

  after(async () => {
    app?.kill('SIGKILL');
    await gw?.close();
  });

  it('answers a clean 502 while the app is gone and recovers when it is back', { timeout: 60_000 }, async (t) => {
    const seen = { ok: 0, badGateway: 0, other: [] as string[], resets: 0 };
    let running = true;
    async function client(): Promise<void> {
      while (running) {
        try {
          const res = await fetch(`${gw.url}/data`, { headers: { cookie, accept: 'application/json' } });
          const body = await res.text();
          if (res.status === 200 && body === 'ok') seen.ok++;
          else if (res.status === 502 && JSON.parse(body).error === 'upstream_unavailable') seen.badGateway++;
          else seen.other.push(`${res.status} ${body.slice(0, 80)}`);
        } catch {
          seen.resets++;
        }
      }
    }
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    const clients = Array.from({ length: 8 }, client);

    await until(() => seen.ok >= 100);
    const exited = new Promise((resolve) => app.once('exit', resolve));
    app.kill('SIGKILL');
    await exited;
    await until(() => seen.badGateway >= 50);
    await startApp();
    const okBefore = seen.ok;
    await until(() => seen.ok >= okBefore + 100);
    running = false;
    await Promise.all(clients);

    t.diagnostic(`answers: ${seen.ok} from the app, ${seen.badGateway} clean 502, ${seen.other.length} other, ${seen.resets} resets`);
    assert.deepEqual(seen.other, [], 'nothing but the app\'s answer or a clean 502');
    assert.equal(seen.resets, 0, 'no connection was reset');
    assert.ok(seen.badGateway >= 50);
  });
});
