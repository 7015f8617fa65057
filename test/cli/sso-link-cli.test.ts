/**
 * `dashgate users link|unlink`: the administrator's explicit way to tie a single sign-on account
 * to an existing user (the accounts the automatic linking refuses: administrators, unconfirmed
 * sign-ups, taken usernames). The real CLI in a child process, with the providers from a file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore, type Store } from '../../src/store/store.js';

const BIN = resolve(import.meta.dirname, '../../bin/dashgate.js');

describe('dashgate users link and unlink (the real CLI in a child process)', () => {
  let dir: string;
  let configFile: string;
  const dashgate = (args: string[]) => {
    const run = spawnSync(process.execPath, [BIN, ...args, '--config', configFile], { encoding: 'utf8', env: { ...process.env, DASHGATE_LOG__LEVEL: 'silent' } });
    return { code: run.status, stdout: run.stdout, stderr: run.stderr };
  };
  const withStore = async <T>(work: (store: Store) => Promise<T>): Promise<T> => {
    const store = await openStore({ dataDir: dir });
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dashgate-sso-cli-'));
    configFile = join(dir, 'dashgate.yaml');
    writeFileSync(configFile, `upstream: http://127.0.0.1:8050\ndata_dir: ${dir}\nsso:\n  providers:\n    - { id: corp, issuer: https://sso.example.com, client_id: dash }\n`);
    await withStore((store) => store.users.create({ username: 'root', isAdmin: true, groups: ['admins'], email: 'root@example.com' }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('links a provider subject to a user, audited; the same subject cannot be linked twice', async () => {
    const linked = dashgate(['users', 'link', 'root', '--provider', 'corp', '--subject', 'sub-root']);
    assert.equal(linked.code, 0, linked.stderr);
    assert.match(linked.stdout, /root now signs in with corp account sub-root/);
    const again = dashgate(['users', 'link', 'root', '--provider', 'corp', '--subject', 'sub-root']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already linked to root/);
    await withStore(async (store) => {
      const root = (await store.users.findByUsername('root'))!;
      assert.equal((await store.sso.find('corp', 'sub-root'))?.userId, root.id);
      assert.ok((await store.audit.list({ action: 'sso.linked' })).some((e) => e.actor === 'cli' && e.target === 'root'));
    });
  });

  it('refuses a provider that is not configured and a user that does not exist', () => {
    const unknownProvider = dashgate(['users', 'link', 'root', '--provider', 'nope', '--subject', 'x']);
    assert.equal(unknownProvider.code, 2);
    assert.match(unknownProvider.stderr, /no provider "nope" in sso.providers/);
    assert.equal(dashgate(['users', 'link', 'ghost', '--provider', 'corp', '--subject', 'x']).code, 2);
  });

  it('unlinks, audited; unlinking what is not linked is an error', async () => {
    const done = dashgate(['users', 'unlink', 'root', '--provider', 'corp']);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /root no longer signs in with corp/);
    assert.equal(dashgate(['users', 'unlink', 'root', '--provider', 'corp']).code, 2);
    await withStore(async (store) => assert.equal(await store.sso.find('corp', 'sub-root'), null));
  });
});
