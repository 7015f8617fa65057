import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiTokenManager } from '../../src/auth/api-tokens.js';
import { openStore, type Store } from '../../src/store/store.js';

const BIN = resolve(import.meta.dirname, '../../bin/dashgate.js');
const DAY = 86_400_000;
const TOKEN_LINE = /^dgt_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/m;

function dashgate(args: string[]) {
  const run = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, DASHGATE_LOG__LEVEL: 'silent' } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('dashgate tokens (the real CLI in a child process)', () => {
  let dir: string;
  let store: Store;
  let verifier: ApiTokenManager;
  const data = () => ['--data-dir', dir];
  /** Every token the CLI printed, to prove no later output repeats one. */
  const printed: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dashgate-tokens-cli-'));
    store = await openStore({ dataDir: dir });
    // No cache: every check asks the store, as a gateway does once its cache TTL has passed.
    verifier = new ApiTokenManager(store, { cacheTtlMs: 0, touchIntervalMs: 0 }, Date.now);
    await store.users.create({ username: 'alice' });
    await store.users.create({ username: 'bob' });
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('create prints a token, once, that verifies; defaults: name "api token", 90 days', async () => {
    const before = Date.now();
    const run = dashgate(['tokens', 'create', 'Alice', ...data()]);
    assert.equal(run.code, 0, run.stderr);
    const token = TOKEN_LINE.exec(run.stdout)?.[0];
    assert.ok(token, run.stdout);
    printed.push(token);
    assert.equal(run.stdout.split(token).length, 2, 'the token appears exactly once');
    assert.match(run.stdout, /curl -H "Authorization: Bearer <token>"/);
    assert.match(run.stdout, /not shown again/);

    const found = await verifier.verify(token);
    assert.equal(found?.user.username, 'alice');
    assert.equal(found?.token.name, 'api token');
    assert.equal(found?.token.createdBy, 'cli');
    assert.ok(found.token.expiresAt! >= before + 90 * DAY && found.token.expiresAt! <= Date.now() + 90 * DAY, 'expires in 90 days');
    assert.match(run.stdout, new RegExp(`created API token ${found.token.id} "api token" for alice`));

    const [audit] = await store.audit.list({ action: 'token.create' });
    assert.deepEqual(audit?.detail, { id: found.token.id, name: 'api token', expires_at: found.token.expiresAt });
    assert.equal(audit?.target, 'alice');
    assert.equal(audit?.actor, 'cli');
  });

  it('create takes --name and --expires (a duration or "never"), and prints JSON for scripts', async () => {
    const run = dashgate(['tokens', 'create', 'bob', '--name', 'nightly export', '--expires', 'never', '--json', ...data()]);
    assert.equal(run.code, 0, run.stderr);
    const created = JSON.parse(run.stdout) as { id: string; user: string; name: string; expires_at: string | null; token: string };
    printed.push(created.token);
    assert.deepEqual({ ...created, token: undefined }, { id: created.id, user: 'bob', name: 'nightly export', expires_at: null, token: undefined });
    const found = await verifier.verify(created.token);
    assert.equal(found?.token.id, created.id);
    assert.equal(found?.token.expiresAt, null);

    const shortRun = dashgate(['tokens', 'create', 'bob', '--expires', '12h', '--json', ...data()]);
    const short = JSON.parse(shortRun.stdout) as { expires_at: string; token: string };
    printed.push(short.token);
    const hoursLeft = (Date.parse(short.expires_at) - Date.now()) / 3_600_000;
    assert.ok(hoursLeft > 11.9 && hoursLeft <= 12, String(hoursLeft));
  });

  it('list shows id, user, name and times, and never a token, a secret or a hash', async () => {
    const all = await store.apiTokens.listAll();
    assert.equal(all.length, 3);
    const run = dashgate(['tokens', 'list', ...data()]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+USER\s+NAME\s+CREATED\s+EXPIRES\s+LAST USED$/);
    assert.equal(lines.length, 4);
    assert.match(run.stdout, /alice\s+api token\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC/, 'verified above: last used is set');
    assert.match(run.stdout, /bob\s+nightly export\s+\S+ \S+ UTC\s+never\s+\d{4}/);

    const json = dashgate(['tokens', 'list', '--json', ...data()]);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(rows.map((r) => r.user), ['alice', 'bob', 'bob']);
    assert.deepEqual(Object.keys(rows[0]!).sort(), ['created_at', 'created_by', 'expires_at', 'id', 'last_used_at', 'name', 'user']);

    const mine = dashgate(['tokens', 'list', 'bob', ...data()]);
    assert.equal(mine.code, 0, mine.stderr);
    assert.equal(mine.stdout.trimEnd().split('\n').length, 3);
    assert.doesNotMatch(mine.stdout, /alice/);

    for (const output of [run.stdout, json.stdout, mine.stdout]) {
      assert.doesNotMatch(output, /dgt_/);
      for (const token of printed) assert.equal(output.includes(token.split('.')[1]!), false, 'no secret');
      for (const stored of all) assert.equal(output.includes(stored.secretHash), false, 'no hash');
    }
  });

  it('revoke makes the token fail at once and is audited; the others keep working', async () => {
    const [aliceToken, bobToken] = printed as [string, string];
    const id = (await verifier.verify(aliceToken))!.token.id;
    const run = dashgate(['tokens', 'revoke', id, ...data()]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`revoked API token ${id} "api token" of alice`));
    assert.equal(await verifier.verify(aliceToken), null);
    assert.equal(await store.apiTokens.findById(id), null);
    assert.notEqual(await verifier.verify(bobToken), null);
    const [audit] = await store.audit.list({ action: 'token.revoke' });
    assert.deepEqual({ target: audit?.target, actor: audit?.actor, detail: audit?.detail }, { target: 'alice', actor: 'cli', detail: { id, name: 'api token' } });

    const again = dashgate(['tokens', 'revoke', id, ...data()]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /no API token/);
    assert.match(dashgate(['tokens', 'list', 'alice', ...data()]).stdout, /^no API tokens for alice$/m);
  });

  it('refuses unknown and disabled users, bad names and bad expiries with exit code 2 and one line', async () => {
    const carol = await store.users.create({ username: 'carol' });
    await store.users.setStatus(carol.id, 'disabled');
    const before = (await store.apiTokens.listAll()).length;
    for (const [args, pattern] of [
      [['tokens', 'create', 'nobody'], /no user "nobody"/],
      [['tokens', 'list', 'nobody'], /no user "nobody"/],
      [['tokens', 'create', 'carol'], /user "carol" is disabled/],
      [['tokens', 'create', 'alice', '--expires', '90'], /--expires must be a duration with a unit/],
      [['tokens', 'create', 'alice', '--expires', '0d'], /--expires must be/],
      [['tokens', 'create', 'alice', '--expires', 'soon'], /--expires must be/],
      [['tokens', 'create', 'alice', '--expires', '99999999999d'], /too far away/],
      [['tokens', 'create', 'alice', '--name', ''], /Token names are 1 to 100/],
      [['tokens', 'create'], /missing required argument/],
    ] as const) {
      const run = dashgate([...args, ...data()]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.doesNotMatch(run.stdout, /dgt_/);
    }
    assert.equal((await store.apiTokens.listAll()).length, before, 'no token was created');
  });
});
