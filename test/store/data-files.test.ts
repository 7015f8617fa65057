import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dataFilesProblems } from '../../src/store/db.js';
import { openStore } from '../../src/store/store.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('the SQLite data directory and files', () => {
  it('regression: the data directory is made 0700 and the database files 0600 (they were 0755 and 0644: signing keys, TOTP secrets)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dashgate-modes-'));
    const dataDir = join(root, 'data');
    const store = await openStore({ dataDir });
    try {
      await store.users.count();
      assert.equal(mode(dataDir), 0o700);
      for (const file of ['dashgate.db', 'dashgate.db-wal', 'dashgate.db-shm']) assert.equal(mode(join(dataDir, file)), 0o600, file);
      assert.deepEqual(dataFilesProblems(dataDir), []);
    } finally {
      await store.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('an existing directory others can read is reported, and its database file is made 0600', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-modes-'));
    chmodSync(dataDir, 0o755);
    const store = await openStore({ dataDir });
    try {
      assert.equal(mode(join(dataDir, 'dashgate.db')), 0o600);
      const problems = dataFilesProblems(dataDir);
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, /can be read by other users \(mode 0755\).*chmod 700/);
    } finally {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a database file made by an older version with 0644 is made 0600 when opened', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-modes-'));
    mkdirSync(dataDir, { recursive: true });
    const first = await openStore({ dataDir });
    await first.close();
    chmodSync(join(dataDir, 'dashgate.db'), 0o644);
    const again = await openStore({ dataDir });
    try {
      assert.equal(mode(join(dataDir, 'dashgate.db')), 0o600);
    } finally {
      await again.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
