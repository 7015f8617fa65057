import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { findFreePort } from '../../src/runner/free-port.js';
import { hiddenFields } from '../helpers/harness.js';

const BIN = resolve(import.meta.dirname, '../../bin/dashgate.js');

describe('dashgate demo (the README\'s first command)', () => {
  it('serves the demo app behind a login, with a first-run link that creates the admin', { timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-demo-test-'));
    const port = await findFreePort();
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('DASHGATE_')));
    const cli = spawn(process.execPath, [BIN, 'demo', '--port', String(port), '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      const link = await new Promise<string>((resolveLink, reject) => {
        cli.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
          const match = /(http:\/\/\S+\/_dashgate\/setup\?token=\S+)/.exec(stderr);
          if (match) resolveLink(match[1]!);
        });
        cli.on('exit', (code) => reject(new Error(`demo exited with ${code}: ${stderr}`)));
      });
      const base = `http://127.0.0.1:${port}`;
      const anonymous = await fetch(`${base}/`, { redirect: 'manual', headers: { accept: 'text/html' } });
      assert.equal(anonymous.status, 303);

      const page = await fetch(link);
      const created = await fetch(`${base}/_dashgate/setup`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...hiddenFields(await page.text()), username: 'admin', password: 'demo admin passphrase', password2: 'demo admin passphrase' }),
      });
      assert.equal(created.status, 303);
      const cookie = created.headers.get('set-cookie')!.split(';')[0]!;
      const app = await fetch(`${base}/`, { headers: { cookie, accept: 'text/html' } });
      const html = await app.text();
      assert.match(html, /Hello, <span id="who">admin<\/span>/);
      assert.match(html, /<code>x-forwarded-groups<\/code><\/th><td>admins<\/td>/);
      assert.match(html, /\/_dashgate\/static\/helper\.js/);
      const api = await fetch(`${base}/api/whoami`, { headers: { cookie, accept: 'application/json' } });
      assert.equal(((await api.json()) as { identity: Record<string, string> }).identity['x-forwarded-user'], 'admin');
    } finally {
      const exited = new Promise((done) => cli.once('exit', done));
      cli.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
