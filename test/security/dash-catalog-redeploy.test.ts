/**
 * What the gateway knows of an app's callbacks (`_dash-dependencies`, cached) across a redeploy
 * on the same address: a callback the new release adds, which the gateway has not seen, is
 * fetched and judged, never forwarded unjudged; while the app is down, callbacks are refused
 * rather than passed. Real gunicorn, stopped and started again on the same port.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { findFreePort } from '../../src/runner/free-port.js';
import { REPO_ROOT, stopProcessGroup, testPython } from '../helpers/browser.js';
import { createUser, signIn, startGateway, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'reports passphrase';

/** gunicorn on a given port with the release asked for; resolves once it answers. */
async function startRelease(port: number, release: '1' | '2'): Promise<ChildProcess> {
  const child = spawn(testPython(), ['-m', 'gunicorn', '-w', '1', '-b', `127.0.0.1:${port}`, '--chdir', 'test/fixtures/dash_location_redeploy', 'app:server'], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore'],
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', APP_RELEASE: release },
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gunicorn exited with ${child.exitCode}`);
    const up = await fetch(`http://127.0.0.1:${port}/_dash-dependencies`, { signal: AbortSignal.timeout(2000) }).then(
      async (res) => (await res.arrayBuffer(), res.ok),
      () => false,
    );
    if (up) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopProcessGroup(child);
  throw new Error('gunicorn did not start');
}

describe('the callback catalog across a redeploy', { timeout: 180_000 }, () => {
  let dash: ChildProcess | undefined;
  let gw: TestGateway;
  let port: number;
  let carol: string;

  before(async () => {
    port = await findFreePort();
    dash = await startRelease(port, '1');
    gw = await startGateway(`http://127.0.0.1:${port}`, {
      access: { default: 'authenticated', rules: [{ path: '/about', policy: 'public' }, { path: '/reports/**', groups: ['finance'] }] },
    });
    await createUser(gw.store, 'carol', PASSWORD, { groups: ['analysts'] });
    carol = await signIn(gw.url, 'carol', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    if (dash) await stopProcessGroup(dash);
  });

  const post = async (body: object) => {
    const res = await fetch(`${gw.url}/_dash-update-component`, { method: 'POST', headers: { cookie: carol, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  };
  const crumbs = (pathname: string) => ({ output: 'crumbs.children', outputs: { id: 'crumbs', property: 'children' }, inputs: [{ id: 'url', property: 'pathname', value: pathname }] });

  it('refuses callbacks while the app is down, judges a callback the new release adds', async () => {
    const v1 = await post({ output: 'page-content.children', outputs: { id: 'page-content', property: 'children' }, inputs: [{ id: 'url', property: 'pathname', value: '/reports' }] });
    assert.equal(v1.status, 403, 'release 1 judged (and its declarations cached)');
    assert.equal((await post(crumbs('/reports'))).status, 400, 'release 1 has no crumbs callback');
    await stopProcessGroup(dash!);
    dash = undefined;
    // Past the catalog's refetch pause (1 s): an unknown callback makes it ask the app again.
    await new Promise((r) => setTimeout(r, 1100));
    const down = await post(crumbs('/reports'));
    assert.ok(down.status >= 500, `app down: ${down.status}`);
    assert.doesNotMatch(down.text, /Confidential/);
    dash = await startRelease(port, '2');
    await new Promise((r) => setTimeout(r, 1100));
    const added = await post(crumbs('/reports'));
    assert.equal(added.status, 403, `the new callback is read from the new release and judged: ${added.text.slice(0, 200)}`);
    const fine = await post(crumbs('/about'));
    assert.equal(fine.status, 200);
    assert.match(fine.text, /You are at/);
  });
});
