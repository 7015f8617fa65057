/**
 * SIGHUP reloads dashgate.yaml through the real CLI: a changed rule applies, the signed-in session
 * and an open keep-alive connection survive; a broken file is reported and the gateway keeps
 * running with what it had. With server.workers, every worker reloads.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findFreePort } from '../../src/runner/free-port.js';
import { REPO_ROOT } from '../helpers/browser.js';
import { startCli } from '../helpers/cli-process.js';
import { rawRequest, signIn, startRecordingUpstream } from '../helpers/harness.js';

const PASSWORD = 'correct horse battery staple';

const yaml = (rules: string) => `access:\n  default: authenticated\n  rules:\n${rules}\nbranding:\n  app_name: Reload test\n`;
const OPEN = yaml('    - path: /open/**\n      policy: public');
const CLOSED = yaml('    - path: /open/**\n      policy: public\n    - path: /reports/**\n      groups: [finance]');

/** One request on an open socket; resolves with the status line. */
function ask(socket: Socket, path: string, cookie: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const onData = (chunk: Buffer) => {
      data += chunk.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(data.slice(0, end))?.[1] ?? 0);
      if (data.length < end + 4 + length) return;
      socket.off('data', onData);
      resolve(data.split('\r\n')[0]!);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nCookie: ${cookie}\r\n\r\n`);
  });
}

async function until(check: () => Promise<boolean>, what: string, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never saw ${what}`);
}

for (const workers of ['1', '2']) {
  describe(`SIGHUP reload (server.workers: ${workers})`, { timeout: 120_000 }, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-reload-'));
    const file = join(dataDir, 'dashgate.yaml');
    const cleanups: Array<() => Promise<void> | void> = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('applies a changed rule without ending sessions or connections, and keeps running on a broken file', async () => {
      const upstream = await startRecordingUpstream();
      cleanups.push(() => upstream.close());
      writeFileSync(file, OPEN);
      const add = spawnSync(process.execPath, ['bin/dashgate.js', 'users', 'add', 'carol', '--data-dir', dataDir, '--password-stdin'], { cwd: REPO_ROOT, input: PASSWORD, encoding: 'utf8', env: { ...process.env, DASHGATE_LOG__LEVEL: 'silent' } });
      assert.equal(add.status, 0, add.stderr);
      const port = await findFreePort();
      const base = `http://127.0.0.1:${port}`;
      const cli = startCli(['serve', '-c', file, '--upstream', upstream.url, '--port', String(port), '--data-dir', dataDir], { DASHGATE_SERVER__WORKERS: workers });
      cleanups.push(async () => void (await cli.stop('SIGKILL')));
      await cli.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('Dashgate is guarding'));

      const cookie = await signIn(base, 'carol', PASSWORD);
      const socket = connect(port, '127.0.0.1');
      cleanups.push(() => void socket.destroy());
      await new Promise((r) => socket.once('connect', r));
      assert.equal(await ask(socket, '/reports/q3', cookie), 'HTTP/1.1 200 OK');

      writeFileSync(file, CLOSED);
      cli.child.kill('SIGHUP');
      // Each worker reloads itself and says so; judged by what they answer, not by when they log.
      const reloads = () => cli.logs.filter((line) => line.msg === 'configuration reloaded').length;
      await until(async () => reloads() >= 1, 'a reload');
      await until(async () => {
        for (let i = 0; i < 10; i++) if ((await rawRequest(base, '/reports/q3', { headers: { cookie, accept: 'application/json', connection: 'close' } })).status !== 403) return false;
        return true;
      }, 'the new rule on fresh connections', 300);
      // The open connection's worker, too: the same connection, judged by the new rule.
      let status = '';
      await until(async () => (status = await ask(socket, '/reports/q3', cookie)) === 'HTTP/1.1 403 Forbidden', 'the new rule on the open connection', 300);
      assert.equal(status, 'HTTP/1.1 403 Forbidden');
      assert.equal(await ask(socket, '/elsewhere', cookie), 'HTTP/1.1 200 OK', 'the same session');

      const reloadsBefore = reloads();
      writeFileSync(file, `${CLOSED}sesion:\n  cache_ttl: 1s\naccess_typo: true\n`);
      cli.child.kill('SIGHUP');
      const refused = await cli.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('configuration not reloaded'));
      assert.match(String(refused.msg), /\bsesion\b.*: unknown setting/);
      assert.match(String(refused.msg), /\baccess_typo\b.*: unknown setting/);
      assert.equal(cli.child.exitCode, null, 'still running');
      assert.equal(await ask(socket, '/reports/q3', cookie), 'HTTP/1.1 403 Forbidden', 'the last good configuration still applies');
      assert.equal(await ask(socket, '/open/x', cookie), 'HTTP/1.1 200 OK');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(reloads(), reloadsBefore, 'the broken file reached no worker');

      const { code } = await cli.stop('SIGTERM');
      assert.equal(code, 0);
    });
  });
}
