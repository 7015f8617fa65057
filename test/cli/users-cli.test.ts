import { verifyCredentials } from '../../src/auth/sign-in.js';
import { SignInThrottle } from '../../src/auth/throttle.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { verifyPassword } from '../../src/auth/passwords.js';
import { openStore, type Store } from '../../src/store/store.js';

const BIN = resolve(import.meta.dirname, '../../bin/dashgate.js');

function dashgate(args: string[], input?: string) {
  const run = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', env: { ...process.env, DASHGATE_LOG__LEVEL: 'silent' } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('dashgate users (the real CLI in a child process)', () => {
  let dir: string;
  let store: Store;
  const data = () => ['--data-dir', dir];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dashgate-cli-'));
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds users with groups from a password on stdin, and lists them', async () => {
    const add = dashgate(['users', 'add', 'Alice', '--email', 'alice@example.com', '--groups', 'analysts,finance', '--password-stdin', ...data()], 'correct horse battery\n');
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /created user alice \(groups: analysts, finance\)/);
    assert.equal(dashgate(['users', 'add', 'root', '--admin', '--password-stdin', ...data()], 'an admin passphrase').code, 0);

    const list = dashgate(['users', 'list', '--json', ...data()]);
    assert.equal(list.code, 0);
    const users = JSON.parse(list.stdout) as Array<{ username: string; groups: string[]; admin: boolean; email: string | null }>;
    assert.deepEqual(users.map((u) => u.username), ['alice', 'root']);
    assert.deepEqual(users[0]!.groups, ['analysts', 'finance']);
    assert.equal(users[1]!.admin, true);
    assert.deepEqual(users[1]!.groups, ['admins']);
    assert.match(dashgate(['users', 'list', ...data()]).stdout, /^USERNAME\s+STATUS\s+ROLE\s+GROUPS\s+EMAIL\nalice\s+active\s+analysts,finance\s+alice@example\.com\nroot\s+active\s+admin\s+admins/);

    store = await openStore({ dataDir: dir });
    const alice = await store.users.findByUsername('alice');
    assert.match(alice!.passwordHash!, /^\$argon2id\$/);
    assert.equal(await verifyPassword(alice!.passwordHash!, 'correct horse battery'), true);
  });

  it('adds a service account without a password (API tokens only) that no password can open', async () => {
    const add = dashgate(['users', 'add', 'nightly', '--no-password', '--groups', 'finance', ...data()]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /created user nightly \(groups: finance\), without a password \(API tokens only\)/);
    assert.equal(dashgate(['users', 'add', 'x', '--no-password', '--password-stdin', ...data()], 'whatever passphrase').code, 2);
    store ??= await openStore({ dataDir: dir });
    const nightly = await store.users.findByUsername('nightly');
    assert.equal(nightly!.passwordHash, null);
    const throttle = new SignInThrottle(store, { accountFreeFailures: 5, ipFreeFailures: 20, maxDelayMs: 1000, windowMs: 60_000 }, Date.now);
    for (const password of ['', 'nightly', 'a long enough guess']) {
      assert.equal((await verifyCredentials({ store, throttle }, { username: 'nightly', password, ip: '127.0.0.1' })).ok, false);
    }
  });

  it('refuses weak passwords, duplicates and bad names with exit code 2 and one line', () => {
    for (const [args, input, pattern] of [
      [['users', 'add', 'bob', '--password-stdin'], 'password', /commonly used/],
      [['users', 'add', 'bob', '--password-stdin'], 'short', /at least 8/],
      [['users', 'add', 'alice', '--password-stdin'], 'correct horse battery', /already exists/],
      [['users', 'add', 'b c', '--password-stdin'], 'correct horse battery', /Username may contain/],
      [['users', 'disable', 'nobody'], undefined, /no user "nobody"/],
    ] as const) {
      const run = dashgate([...args, ...data()], input);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    }
  });

  it('answers usage mistakes with exit code 2', () => {
    assert.equal(dashgate(['users', 'add']).code, 2);
    assert.equal(dashgate(['no-such-command']).code, 2);
    assert.equal(dashgate(['serve', '--port', 'abc', ...data()]).code, 2);
    const help = dashgate(['users', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /set-password/);
  });

  it('reports an invalid configuration with every problem and its path, exit code 2', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'server:\n  port: 99999\nsession:\n  idle_timeout: soon\n');
    const run = dashgate(['users', 'list', '--config', file, ...data()]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /server\.port: /);
    assert.match(run.stderr, /session\.idle_timeout: /);
  });

  it('set-password changes the hash and ends the sessions; disable/enable; the last admin is protected', async () => {
    const alice = (await store.users.findByUsername('alice'))!;
    const now = Date.now();
    await store.sessions.insert({ id: 'sess-alice-1', secretHash: 'x'.repeat(64), userId: alice.id, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000, ip: null, userAgent: null, authMethod: 'password' });
    const set = dashgate(['users', 'set-password', 'alice', '--password-stdin', ...data()], 'a brand new passphrase');
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /1 session\(s\) ended/);
    assert.equal(await verifyPassword((await store.users.findByUsername('alice'))!.passwordHash!, 'a brand new passphrase'), true);
    assert.equal(await store.sessions.findById('sess-alice-1'), null);

    assert.equal(dashgate(['users', 'disable', 'alice', ...data()]).code, 0);
    assert.equal((await store.users.findByUsername('alice'))!.status, 'disabled');
    assert.equal(dashgate(['users', 'enable', 'alice', ...data()]).code, 0);
    assert.equal((await store.users.findByUsername('alice'))!.status, 'active');

    const last = dashgate(['users', 'remove', 'root', ...data()]);
    assert.equal(last.code, 2);
    assert.match(last.stderr, /last active administrator/);
    assert.equal(dashgate(['users', 'disable', 'root', ...data()]).code, 2);
  });

  it('imports htpasswd bcrypt entries as they are and refuses weak hash formats', async () => {
    const file = join(dir, '.htpasswd');
    const carolHash = (await bcryptHash('carol passphrase here', 5)).replace(/^\$2b\$/, '$2y$');
    writeFileSync(file, `# comment\ncarol:${carolHash}\ndave:$apr1$abcdefgh$0123456789abcdefghijkl\nerin:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n`);
    const run = dashgate(['users', 'import', file, '--format', 'htpasswd', '--groups', 'legacy', ...data()]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /imported 1 user\(s\); skipped 2/);
    assert.match(run.stdout, /line 3 \(dave\): not a bcrypt hash/);
    const carol = (await store.users.findByUsername('carol'))!;
    assert.equal(carol.passwordHash, carolHash, 'kept as it is until the first sign-in');
    assert.deepEqual(carol.groups, ['legacy']);
  });

  it("imports dash-auth's JSON dict, hashing with argon2id and refusing weak passwords unless allowed", async () => {
    const file = join(dir, 'users.json');
    writeFileSync(file, JSON.stringify({ frank: 'frank passphrase ok', grace: 'password', alice: 'whatever passphrase' }));
    const run = dashgate(['users', 'import', file, '--format', 'json', ...data()]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /imported 1 user\(s\); skipped 2/);
    assert.match(run.stdout, /grace: This password is on a list/);
    assert.match(run.stdout, /alice: already exists/);
    assert.match((await store.users.findByUsername('frank'))!.passwordHash!, /^\$argon2id\$/);
    const bad = dashgate(['users', 'import', file, '--format', 'csv', ...data()]);
    assert.equal(bad.code, 2);
  });

  it('rotates the identity JWT signing key, keeping the old one published', async () => {
    const run = dashgate(['keys', 'rotate', ...data()]);
    assert.equal(run.code, 0, run.stderr);
    const kid = /new signing key (\S+);/.exec(run.stdout)![1]!;
    const again = dashgate(['keys', 'rotate', ...data()]);
    const kid2 = /new signing key (\S+);/.exec(again.stdout)![1]!;
    const keys = JSON.parse((await store.settings.get('identity_jwt_keys'))!) as Array<{ kid: string; retiredAt: number | null }>;
    assert.deepEqual(keys.map((k) => k.kid), [kid, kid2]);
    assert.deepEqual(keys.map((k) => k.retiredAt === null), [false, true]);
  });

  it('manages groups: add, grant, members, revoke, list, remove; names must be header-safe', async () => {
    assert.equal(dashgate(['groups', 'add', 'hr', ...data()]).code, 0);
    const dup = dashgate(['groups', 'add', 'hr', ...data()]);
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /already exists/);
    assert.match(dashgate(['groups', 'grant', 'hr', 'alice', 'carol', ...data()]).stdout, /alice: added to hr\ncarol: added to hr/);
    assert.deepEqual(JSON.parse(dashgate(['groups', 'members', 'hr', '--json', ...data()]).stdout), ['alice', 'carol']);
    assert.match(dashgate(['groups', 'revoke', 'hr', 'carol', ...data()]).stdout, /carol: removed from hr/);
    assert.deepEqual((await store.users.findByUsername('alice'))!.groups.includes('hr'), true);
    const list = JSON.parse(dashgate(['groups', 'list', '--json', ...data()]).stdout) as Array<{ name: string; members: number }>;
    assert.deepEqual(list.find((g) => g.name === 'hr'), { name: 'hr', members: 1 });
    for (const bad of ['a,b', 'two words', '-x', '']) {
      const run = dashgate(['groups', 'add', bad, ...data()]);
      assert.equal(run.code, 2, bad);
    }
    const badGroup = dashgate(['users', 'add', 'zed', '--groups', 'ok,not ok', '--password-stdin', ...data()], 'zed passphrase 1');
    assert.equal(badGroup.code, 2);
    assert.match(badGroup.stderr, /Group name "not ok"/);
    assert.equal(dashgate(['groups', 'remove', 'admins', ...data()]).code, 2);
    assert.equal(dashgate(['groups', 'remove', 'hr', ...data()]).code, 0);
    assert.equal(dashgate(['groups', 'members', 'hr', ...data()]).code, 2);
  });

  // Regression: `groups grant admins bob` left bob with groups ["admins"] but no administrator
  // role, so the app received X-Forwarded-Groups: admins for him while the console refused the
  // same change. The admins group follows the role: grant-admin / revoke-admin change both.
  it('regression: groups grant admins does not give a user the admins group without the role; users grant-admin gives both', async () => {
    const carol = await store.users.findByUsername('carol');
    const grant = dashgate(['groups', 'grant', 'admins', 'carol', ...data()]);
    assert.equal(grant.code, 2);
    assert.match(grant.stderr, /follows the administrator role/);
    assert.deepEqual((await store.users.findByUsername('carol'))!.groups, carol!.groups, 'nothing changed');
    assert.equal(dashgate(['users', 'add', 'gus', '--no-password', '--groups', 'admins', ...data()]).code, 2, 'nor --groups admins without --admin');

    const promoted = dashgate(['users', 'grant-admin', 'carol', ...data()]);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, /carol is now an administrator/);
    const admin = await store.users.findByUsername('carol');
    assert.deepEqual([admin!.isAdmin, admin!.groups.includes('admins')], [true, true]);
    assert.equal(dashgate(['groups', 'revoke', 'admins', 'carol', ...data()]).code, 2, 'the group is not taken apart from the role');
    assert.equal(dashgate(['users', 'revoke-admin', 'carol', ...data()]).code, 0);
    const demoted = await store.users.findByUsername('carol');
    assert.deepEqual([demoted!.isAdmin, demoted!.groups.includes('admins')], [false, false]);
    const audit = (await store.audit.list({ user: 'carol' })).map((e) => [e.action, e.actor]);
    assert.deepEqual(audit.slice(0, 2), [['user.admin_revoked', 'cli'], ['user.admin_granted', 'cli']]);
  });

  it('removes a user', async () => {
    assert.equal(dashgate(['users', 'remove', 'frank', ...data()]).code, 0);
    assert.equal(await store.users.findByUsername('frank'), null);
  });
});
