/**
 * One store suite, run unchanged against every backend (oauth2-proxy's habit): whatever the
 * gateway may rely on from SQLite it may rely on from PostgreSQL too. Every test opens a fresh,
 * empty store (a new temp dir, or a new PostgreSQL schema) with its own clock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import type { Dialect } from '../../src/store/db.js';
import { openStore, type Store } from '../../src/store/store.js';
import type { ApiTokenRecord, Clock, EmailToken, Invite, SessionRecord } from '../../src/store/types.js';
import { testClock as makeTestClock } from '../helpers/clock.js';

const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const testClock = (start = T0) => makeTestClock(start);

let sessionSeq = 0;
function sessionRecord(userId: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  sessionSeq += 1;
  return {
    id: `session-${sessionSeq}`,
    secretHash: randomBytes(32).toString('hex'),
    userId,
    createdAt: T0,
    lastSeenAt: T0,
    expiresAt: T0 + 8 * HOUR,
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (test)',
    authMethod: 'password',
    ...overrides,
  };
}

let apiTokenSeq = 0;
function apiTokenRecord(userId: string, overrides: Partial<ApiTokenRecord> = {}): ApiTokenRecord {
  apiTokenSeq += 1;
  return {
    id: `token-${apiTokenSeq}`,
    secretHash: randomBytes(32).toString('hex'),
    userId,
    name: `script ${apiTokenSeq}`,
    createdAt: T0,
    expiresAt: T0 + 90 * 24 * HOUR,
    lastUsedAt: null,
    createdBy: 'cli',
    ...overrides,
  };
}

function inviteRecord(overrides: Partial<Omit<Invite, 'usedAt' | 'usedBy'>> = {}): Omit<Invite, 'usedAt' | 'usedBy'> {
  return {
    id: `invite-${randomBytes(6).toString('hex')}`,
    tokenHash: randomBytes(32).toString('hex'),
    purpose: 'invite',
    email: 'new@example.com',
    groups: ['analysts', 'finance'],
    isAdmin: false,
    createdBy: 'admin',
    createdAt: T0,
    expiresAt: T0 + HOUR,
    ...overrides,
  };
}

let emailTokenSeq = 0;
function emailTokenRecord(userId: string, overrides: Partial<Omit<EmailToken, 'usedAt'>> = {}): Omit<EmailToken, 'usedAt'> {
  emailTokenSeq += 1;
  return {
    id: `email-token-${emailTokenSeq}`,
    tokenHash: randomBytes(32).toString('hex'),
    purpose: 'reset',
    userId,
    email: 'alice@example.com',
    createdAt: T0,
    expiresAt: T0 + 30 * MINUTE,
    ...overrides,
  };
}

async function groupNames(store: Store): Promise<string[]> {
  const rows = await store.db.selectFrom('groups').select('name').execute();
  return rows.map((r) => r.name).sort();
}

async function membershipCount(store: Store, userId: string): Promise<number> {
  const rows = await store.db.selectFrom('user_groups').select('group_id').where('user_id', '=', userId).execute();
  return rows.length;
}

/**
 * Defines the conformance suite for one backend. `open` must return a fresh, empty store each
 * call; `cleanup` removes everything the opens left behind (runs once, after the suite).
 */
function defineStoreSuite(name: Dialect, open: (now: Clock) => Promise<Store>, cleanup: () => Promise<void>): void {
  describe(`store conformance: ${name}`, () => {
    after(cleanup);

    async function fresh(t: TestContext) {
      const clock = testClock();
      const store = await open(clock.now);
      t.after(() => store.close());
      // Guards the suite itself: a mistyped URL would silently fall back to SQLite.
      assert.equal(store.dialect, name);
      return { store, clock };
    }

    describe('users', () => {
      it('creates a user with defaults and finds it by id and by username', async (t) => {
        const { store } = await fresh(t);
        const created = await store.users.create({ username: 'alice', passwordHash: '$argon2id$fake', groups: ['finance', 'analysts'] });
        assert.match(created.id, /^[0-9a-f-]{36}$/);
        assert.deepEqual(created, {
          id: created.id,
          username: 'alice',
          displayName: null,
          email: null,
          isAdmin: false,
          status: 'active',
          groups: ['analysts', 'finance'],
          createdAt: T0,
        });
        assert.deepEqual(await store.users.findById(created.id), created);
        assert.deepEqual(await store.users.findByUsername('alice'), { ...created, passwordHash: '$argon2id$fake' });
      });

      it('round-trips optional fields and the admin flag', async (t) => {
        const { store, clock } = await fresh(t);
        clock.set(T0 + 5 * MINUTE);
        const created = await store.users.create({ username: 'root', displayName: 'Root R.', email: 'root@example.com', isAdmin: true });
        const found = await store.users.findByUsername('root');
        assert.ok(found);
        assert.equal(found.displayName, 'Root R.');
        assert.equal(found.email, 'root@example.com');
        assert.equal(found.isAdmin, true);
        assert.equal(found.passwordHash, null);
        assert.deepEqual(found.groups, []);
        assert.equal(found.createdAt, T0 + 5 * MINUTE, 'createdAt comes from the injected clock');
        assert.deepEqual(await store.users.findById(created.id), created);
      });

      it('answers null for unknown users', async (t) => {
        const { store } = await fresh(t);
        await store.users.create({ username: 'alice' });
        assert.equal(await store.users.findById('00000000-0000-0000-0000-000000000000'), null);
        assert.equal(await store.users.findByUsername('bob'), null);
        assert.equal(await store.users.findByUsername('Alice'), null, 'lookups are exact: canonicalising is the caller’s job');
      });

      it('lists users sorted by username with their groups attached and sorted, and counts them', async (t) => {
        const { store } = await fresh(t);
        assert.equal(await store.users.count(), 0);
        assert.deepEqual(await store.users.list(), []);
        const carol = await store.users.create({ username: 'carol', groups: ['ops'] });
        const alice = await store.users.create({ username: 'alice', groups: ['zeta', 'Alpha', 'beta'] });
        const bob = await store.users.create({ username: 'bob' });
        assert.equal(await store.users.count(), 3);
        const listed = await store.users.list();
        assert.deepEqual(
          listed.map((u) => [u.username, u.groups]),
          [
            ['alice', ['Alpha', 'beta', 'zeta']],
            ['bob', []],
            ['carol', ['ops']],
          ],
        );
        // The three ways of reading a user agree with each other.
        assert.deepEqual(listed, [alice, bob, carol]);
        for (const user of listed) assert.deepEqual(await store.users.findById(user.id), user);
      });

      it('rejects a second user with the same username and keeps the first', async (t) => {
        const { store } = await fresh(t);
        const first = await store.users.create({ username: 'alice', email: 'a@example.com' });
        await assert.rejects(store.users.create({ username: 'alice', email: 'other@example.com' }));
        assert.equal(await store.users.count(), 1);
        assert.deepEqual(await store.users.findById(first.id), first);
      });

      it('rejects a second user with the same email but allows many without one', async (t) => {
        const { store } = await fresh(t);
        await store.users.create({ username: 'alice', email: 'shared@example.com' });
        await assert.rejects(store.users.create({ username: 'bob', email: 'shared@example.com' }));
        await store.users.create({ username: 'carol' });
        await store.users.create({ username: 'dave', email: null });
        assert.equal(await store.users.count(), 3);
      });

      it('finds a user by email in any case, and only by the whole address', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice', email: 'Alice.Smith@Example.com', groups: ['finance'] });
        await store.users.create({ username: 'bob' });
        for (const spelling of ['Alice.Smith@Example.com', 'alice.smith@example.com', 'ALICE.SMITH@EXAMPLE.COM']) {
          assert.deepEqual(await store.users.findByEmail(spelling), alice, spelling);
        }
        for (const miss of ['alice.smith@example', 'alice.smith', '%@example.com', 'alice_smith@example.com', '']) {
          assert.equal(await store.users.findByEmail(miss), null, JSON.stringify(miss));
        }
      });

      // Regression: findByEmail compares lower(email) but the unique index was on email as typed, so
      // `dashgate users add bob --email ALICE@example.com` made a second account for the same address
      // (0006 adds a unique index on lower(email); the CLI now asks findByEmail first too).
      it('regression: rejects a second user whose email differs only in case', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice', email: 'alice@example.com' });
        await assert.rejects(store.users.create({ username: 'bob', email: 'ALICE@example.com' }));
        assert.deepEqual(await store.users.findByEmail('Alice@Example.com'), alice);
      });

      it('sets the password hash and stamps updated_at from the clock', async (t) => {
        const { store, clock } = await fresh(t);
        const alice = await store.users.create({ username: 'alice', passwordHash: 'old-hash' });
        const bob = await store.users.create({ username: 'bob', passwordHash: 'bob-hash' });
        clock.advance(HOUR);
        await store.users.setPasswordHash(alice.id, 'new-hash');
        assert.equal((await store.users.findByUsername('alice'))?.passwordHash, 'new-hash');
        assert.equal((await store.users.findByUsername('bob'))?.passwordHash, 'bob-hash', 'other users are untouched');
        const row = await store.db.selectFrom('users').select(['created_at', 'updated_at']).where('id', '=', alice.id).executeTakeFirstOrThrow();
        assert.equal(row.created_at, T0);
        assert.equal(row.updated_at, T0 + HOUR);
        assert.equal((await store.users.findById(bob.id))?.createdAt, T0);
      });

      it('sets the status', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const bob = await store.users.create({ username: 'bob' });
        await store.users.setStatus(alice.id, 'disabled');
        assert.equal((await store.users.findById(alice.id))?.status, 'disabled');
        assert.equal((await store.users.findByUsername('alice'))?.status, 'disabled');
        assert.deepEqual(
          (await store.users.list()).map((u) => [u.username, u.status]),
          [
            ['alice', 'disabled'],
            ['bob', 'active'],
          ],
        );
        await store.users.setStatus(alice.id, 'pending');
        assert.equal((await store.users.findById(alice.id))?.status, 'pending');
        assert.equal((await store.users.findById(bob.id))?.status, 'active');
      });

      it('replaces memberships and creates missing groups once', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice', groups: ['analysts', 'finance'] });
        const bob = await store.users.create({ username: 'bob', groups: ['finance'] });
        assert.deepEqual(await groupNames(store), ['analysts', 'finance']);

        await store.users.setGroups(alice.id, ['ops', 'finance', 'ops']);
        assert.deepEqual((await store.users.findById(alice.id))?.groups, ['finance', 'ops']);
        assert.equal(await membershipCount(store, alice.id), 2, 'duplicates in the input give one membership');
        assert.deepEqual(await groupNames(store), ['analysts', 'finance', 'ops'], 'a group is created once and shared');
        assert.deepEqual((await store.users.findById(bob.id))?.groups, ['finance'], 'other users keep their memberships');

        await store.users.setGroups(alice.id, []);
        assert.deepEqual((await store.users.findById(alice.id))?.groups, []);
        assert.equal(await membershipCount(store, alice.id), 0);
        assert.deepEqual((await store.users.list()).map((u) => u.groups), [[], ['finance']]);
      });

      it('rolls back setGroups as a whole when it fails (unknown user)', async (t) => {
        const { store } = await fresh(t);
        await store.users.create({ username: 'alice', groups: ['finance'] });
        await assert.rejects(store.users.setGroups('no-such-user', ['brand-new']));
        assert.deepEqual(await groupNames(store), ['finance'], 'the group created inside the failed transaction is gone');
      });

      it('removes a user together with their sessions and memberships, and nothing else', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice', groups: ['finance'] });
        const bob = await store.users.create({ username: 'bob', groups: ['finance'] });
        const aliceSession = sessionRecord(alice.id);
        const bobSession = sessionRecord(bob.id);
        await store.sessions.insert(aliceSession);
        await store.sessions.insert(bobSession);

        assert.equal(await store.users.remove(alice.id), true);
        assert.equal(await store.users.findById(alice.id), null);
        assert.equal(await store.users.findByUsername('alice'), null);
        assert.equal(await store.sessions.findById(aliceSession.id), null);
        assert.deepEqual(await store.sessions.listForUser(alice.id), []);
        assert.equal(await membershipCount(store, alice.id), 0);

        assert.deepEqual(await store.sessions.findById(bobSession.id), bobSession);
        assert.deepEqual((await store.users.findById(bob.id))?.groups, ['finance']);
        assert.equal(await store.users.count(), 1);
        assert.equal(await store.users.remove(alice.id), false, 'removing twice reports nothing removed');
      });
    });

    describe('groups', () => {
      it('creates, lists with member counts, adds and removes members, and deletes groups', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice', groups: ['finance'] });
        const bob = await store.users.create({ username: 'bob' });
        assert.equal(await store.groups.create('hr'), true);
        assert.equal(await store.groups.create('hr'), false, 'a second create is a no-op');
        assert.equal(await store.groups.addMember('hr', bob.id), true);
        assert.equal(await store.groups.addMember('hr', bob.id), false, 'already a member');
        assert.equal(await store.groups.addMember('ops', alice.id), true, 'a missing group is created');
        assert.deepEqual(await store.groups.list(), [
          { name: 'finance', members: 1, createdAt: T0 },
          { name: 'hr', members: 1, createdAt: T0 },
          { name: 'ops', members: 1, createdAt: T0 },
        ]);
        assert.deepEqual(await store.groups.members('hr'), ['bob']);
        assert.equal(await store.groups.members('nope'), null);
        assert.deepEqual((await store.users.findById(alice.id))!.groups, ['finance', 'ops']);
        assert.equal(await store.groups.removeMember('ops', alice.id), true);
        assert.equal(await store.groups.removeMember('ops', alice.id), false);
        assert.equal(await store.groups.removeMember('nope', alice.id), false);
        assert.equal(await store.groups.remove('finance'), true);
        assert.equal(await store.groups.remove('finance'), false);
        assert.deepEqual((await store.users.findById(alice.id))!.groups, [], 'memberships go with the group');
        assert.deepEqual((await store.groups.list()).map((g) => [g.name, g.members]), [['hr', 1], ['ops', 0]]);
      });
    });

    describe('sessions', () => {
      it('inserts and finds a session with every field intact', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const full = sessionRecord(alice.id, { createdAt: T0 + 1, lastSeenAt: T0 + 2, expiresAt: T0 + 3 });
        const bare = sessionRecord(alice.id, { ip: null, userAgent: null, authMethod: 'oidc' });
        await store.sessions.insert(full);
        await store.sessions.insert(bare);
        assert.deepEqual(await store.sessions.findById(full.id), full);
        assert.deepEqual(await store.sessions.findById(bare.id), bare);
        assert.equal(await store.sessions.findById('no-such-session'), null);
      });

      it('refuses a session for a user that does not exist, and a duplicate id', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        await assert.rejects(store.sessions.insert(sessionRecord('no-such-user')));
        const record = sessionRecord(alice.id);
        await store.sessions.insert(record);
        await assert.rejects(store.sessions.insert({ ...record, secretHash: 'f'.repeat(64) }));
        assert.deepEqual(await store.sessions.findById(record.id), record);
      });

      it('lists a user’s sessions, most recently seen first', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const bob = await store.users.create({ username: 'bob' });
        const older = sessionRecord(alice.id, { lastSeenAt: T0 + 1 * MINUTE });
        const newest = sessionRecord(alice.id, { lastSeenAt: T0 + 9 * MINUTE });
        const middle = sessionRecord(alice.id, { lastSeenAt: T0 + 5 * MINUTE });
        for (const r of [older, newest, middle, sessionRecord(bob.id)]) await store.sessions.insert(r);
        assert.deepEqual(await store.sessions.listForUser(alice.id), [newest, middle, older]);
        assert.deepEqual(await store.sessions.listForUser('nobody'), []);
      });

      it('touches only last_seen_at of the one session', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const a = sessionRecord(alice.id);
        const b = sessionRecord(alice.id);
        await store.sessions.insert(a);
        await store.sessions.insert(b);
        await store.sessions.touch(a.id, T0 + 7 * MINUTE);
        assert.deepEqual(await store.sessions.findById(a.id), { ...a, lastSeenAt: T0 + 7 * MINUTE });
        assert.deepEqual(await store.sessions.findById(b.id), b);
      });

      it('deletes one session and says whether it existed', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const a = sessionRecord(alice.id);
        const b = sessionRecord(alice.id);
        await store.sessions.insert(a);
        await store.sessions.insert(b);
        assert.equal(await store.sessions.delete(a.id), true);
        assert.equal(await store.sessions.findById(a.id), null);
        assert.equal(await store.sessions.delete(a.id), false);
        assert.deepEqual(await store.sessions.findById(b.id), b);
      });

      it('deletes all of a user’s sessions and returns their ids', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const bob = await store.users.create({ username: 'bob' });
        const mine = [sessionRecord(alice.id), sessionRecord(alice.id), sessionRecord(alice.id)];
        const bobs = sessionRecord(bob.id);
        for (const r of [...mine, bobs]) await store.sessions.insert(r);
        const deleted = await store.sessions.deleteForUser(alice.id);
        assert.deepEqual([...deleted].sort(), mine.map((r) => r.id).sort());
        assert.deepEqual(await store.sessions.listForUser(alice.id), []);
        assert.deepEqual(await store.sessions.findById(bobs.id), bobs);
        assert.deepEqual(await store.sessions.deleteForUser(alice.id), [], 'nothing left to delete');
      });

      it('deletes all of a user’s sessions but the one excepted', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const [keep, drop1, drop2] = [sessionRecord(alice.id), sessionRecord(alice.id), sessionRecord(alice.id)] as const;
        for (const r of [keep, drop1, drop2]) await store.sessions.insert(r);
        const deleted = await store.sessions.deleteForUser(alice.id, keep.id);
        assert.deepEqual([...deleted].sort(), [drop1.id, drop2.id].sort());
        assert.deepEqual(await store.sessions.listForUser(alice.id), [keep]);
        assert.deepEqual(await store.sessions.deleteForUser(alice.id, keep.id), []);
      });

      it('deletes sessions past their absolute expiry or idle since before the cut-off', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const now = T0 + 10 * HOUR;
        const idleBefore = now - 30 * MINUTE;
        const expiredExactly = sessionRecord(alice.id, { expiresAt: now, lastSeenAt: now - MINUTE });
        const expiredLongAgo = sessionRecord(alice.id, { expiresAt: now - HOUR, lastSeenAt: now - MINUTE });
        const idle = sessionRecord(alice.id, { expiresAt: now + HOUR, lastSeenAt: idleBefore - 1 });
        const idleAtCutoff = sessionRecord(alice.id, { expiresAt: now + HOUR, lastSeenAt: idleBefore });
        const live = sessionRecord(alice.id, { expiresAt: now + 1, lastSeenAt: now });
        for (const r of [expiredExactly, expiredLongAgo, idle, idleAtCutoff, live]) await store.sessions.insert(r);

        assert.equal(await store.sessions.deleteExpired(now, idleBefore), 3);
        const left = (await store.sessions.listForUser(alice.id)).map((r) => r.id).sort();
        assert.deepEqual(left, [idleAtCutoff.id, live.id].sort());
        assert.equal(await store.sessions.deleteExpired(now, idleBefore), 0);
      });
    });

    describe('api tokens', () => {
      it('inserts and finds a token with every field intact, including the nulls', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const full = apiTokenRecord(alice.id, { createdAt: T0 + 1, expiresAt: T0 + 2, lastUsedAt: T0 + 3, createdBy: 'root' });
        const bare = apiTokenRecord(alice.id, { expiresAt: null, lastUsedAt: null, createdBy: null, name: 'nightly export – ünïcode' });
        await store.apiTokens.insert(full);
        await store.apiTokens.insert(bare);
        assert.deepEqual(await store.apiTokens.findById(full.id), full);
        assert.deepEqual(await store.apiTokens.findById(bare.id), bare);
        assert.equal(await store.apiTokens.findById('no-such-token'), null);
      });

      it('refuses a token for a user that does not exist, and a duplicate id', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        await assert.rejects(store.apiTokens.insert(apiTokenRecord('no-such-user')));
        const record = apiTokenRecord(alice.id);
        await store.apiTokens.insert(record);
        await assert.rejects(store.apiTokens.insert({ ...record, secretHash: 'f'.repeat(64) }));
        assert.deepEqual(await store.apiTokens.findById(record.id), record, 'the first token is kept as it was');
      });

      it('lists one user’s tokens newest first, and everyone’s by username with the username attached', async (t) => {
        const { store } = await fresh(t);
        const carol = await store.users.create({ username: 'carol' });
        const alice = await store.users.create({ username: 'alice' });
        const bob = await store.users.create({ username: 'bob' });
        const aliceOld = apiTokenRecord(alice.id, { createdAt: T0 + 1 * MINUTE });
        const aliceNew = apiTokenRecord(alice.id, { createdAt: T0 + 9 * MINUTE });
        const aliceMid = apiTokenRecord(alice.id, { createdAt: T0 + 5 * MINUTE });
        const carols = apiTokenRecord(carol.id, { createdAt: T0 });
        for (const r of [aliceOld, carols, aliceNew, aliceMid]) await store.apiTokens.insert(r);

        assert.deepEqual(await store.apiTokens.listForUser(alice.id), [aliceNew, aliceMid, aliceOld]);
        assert.deepEqual(await store.apiTokens.listForUser(bob.id), []);
        assert.deepEqual(await store.apiTokens.listForUser('nobody'), []);
        assert.deepEqual(await store.apiTokens.listAll(), [
          { ...aliceNew, username: 'alice' },
          { ...aliceMid, username: 'alice' },
          { ...aliceOld, username: 'alice' },
          { ...carols, username: 'carol' },
        ]);
      });

      it('touches only last_used_at of the one token, and never moves it back', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const a = apiTokenRecord(alice.id);
        const b = apiTokenRecord(alice.id);
        await store.apiTokens.insert(a);
        await store.apiTokens.insert(b);
        await store.apiTokens.touch(a.id, T0 + 7 * MINUTE);
        assert.deepEqual(await store.apiTokens.findById(a.id), { ...a, lastUsedAt: T0 + 7 * MINUTE });
        assert.deepEqual(await store.apiTokens.findById(b.id), b);
        // Another instance's older write arriving late must not undo a newer one.
        await store.apiTokens.touch(a.id, T0 + 3 * MINUTE);
        assert.equal((await store.apiTokens.findById(a.id))?.lastUsedAt, T0 + 7 * MINUTE);
        await store.apiTokens.touch(a.id, T0 + 8 * MINUTE);
        assert.equal((await store.apiTokens.findById(a.id))?.lastUsedAt, T0 + 8 * MINUTE);
        await store.apiTokens.touch('no-such-token', T0);
      });

      it('deletes one token and says whether it existed', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const a = apiTokenRecord(alice.id);
        const b = apiTokenRecord(alice.id);
        await store.apiTokens.insert(a);
        await store.apiTokens.insert(b);
        assert.equal(await store.apiTokens.delete(a.id), true);
        assert.equal(await store.apiTokens.findById(a.id), null);
        assert.equal(await store.apiTokens.delete(a.id), false);
        assert.deepEqual(await store.apiTokens.listForUser(alice.id), [b]);
      });

      it('removing a user removes their tokens, and only theirs', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const bob = await store.users.create({ username: 'bob' });
        const alices = apiTokenRecord(alice.id);
        const bobs = apiTokenRecord(bob.id);
        await store.apiTokens.insert(alices);
        await store.apiTokens.insert(bobs);
        assert.equal(await store.users.remove(alice.id), true);
        assert.equal(await store.apiTokens.findById(alices.id), null);
        assert.deepEqual(await store.apiTokens.listAll(), [{ ...bobs, username: 'bob' }]);
      });
    });

    describe('invites', () => {
      it('inserts and finds an invite, unused', async (t) => {
        const { store } = await fresh(t);
        const invite = inviteRecord({ isAdmin: true });
        const setup = inviteRecord({ purpose: 'setup', email: null, groups: [], createdBy: null });
        await store.invites.insert(invite);
        await store.invites.insert(setup);
        assert.deepEqual(await store.invites.findById(invite.id), { ...invite, usedAt: null, usedBy: null });
        assert.deepEqual(await store.invites.findById(setup.id), { ...setup, usedAt: null, usedBy: null });
        assert.equal(await store.invites.findById('no-such-invite'), null);
      });

      it('is consumed once: the second use fails and the first user is kept', async (t) => {
        const { store } = await fresh(t);
        const invite = inviteRecord();
        await store.invites.insert(invite);
        assert.equal(await store.invites.consume(invite.id, 'alice', T0 + MINUTE), true);
        assert.equal(await store.invites.consume(invite.id, 'mallory', T0 + 2 * MINUTE), false);
        const found = await store.invites.findById(invite.id);
        assert.equal(found?.usedAt, T0 + MINUTE);
        assert.equal(found?.usedBy, 'alice');
      });

      it('cannot be consumed at or after its expiry, nor when unknown', async (t) => {
        const { store } = await fresh(t);
        const atExpiry = inviteRecord();
        const late = inviteRecord();
        const justInTime = inviteRecord();
        for (const i of [atExpiry, late, justInTime]) await store.invites.insert(i);
        assert.equal(await store.invites.consume(atExpiry.id, 'alice', atExpiry.expiresAt), false);
        assert.equal(await store.invites.consume(late.id, 'alice', late.expiresAt + HOUR), false);
        assert.equal((await store.invites.findById(late.id))?.usedAt, null, 'a refused use leaves no mark');
        assert.equal(await store.invites.consume(justInTime.id, 'alice', justInTime.expiresAt - 1), true);
        assert.equal(await store.invites.consume('no-such-invite', 'alice', T0), false);
      });

      it('expires open invites of one purpose only', async (t) => {
        const { store } = await fresh(t);
        const now = T0 + 10 * MINUTE;
        const openSetup = inviteRecord({ purpose: 'setup' });
        const usedSetup = inviteRecord({ purpose: 'setup' });
        const alreadyExpiredSetup = inviteRecord({ purpose: 'setup', expiresAt: T0 + MINUTE });
        const openInvite = inviteRecord({ purpose: 'invite' });
        for (const i of [openSetup, usedSetup, alreadyExpiredSetup, openInvite]) await store.invites.insert(i);
        assert.equal(await store.invites.consume(usedSetup.id, 'root', T0 + 2 * MINUTE), true);

        await store.invites.expireOpen('setup', now);
        assert.equal((await store.invites.findById(openSetup.id))?.expiresAt, now);
        assert.equal(await store.invites.consume(openSetup.id, 'alice', now), false, 'an expired setup link no longer works');
        assert.equal((await store.invites.findById(usedSetup.id))?.expiresAt, usedSetup.expiresAt);
        assert.equal((await store.invites.findById(alreadyExpiredSetup.id))?.expiresAt, T0 + MINUTE, 'an earlier expiry is not moved later');
        assert.equal((await store.invites.findById(openInvite.id))?.expiresAt, openInvite.expiresAt);
        assert.equal(await store.invites.consume(openInvite.id, 'bob', now), true);
      });
    });

    describe('invites: open list and revocation', () => {
      it('lists invitations that can still be used, newest first: not used, not expired, not setup links', async (t) => {
        const { store } = await fresh(t);
        const now = T0 + 10 * MINUTE;
        const older = inviteRecord({ createdAt: T0, email: null, groups: [] });
        const newer = inviteRecord({ createdAt: T0 + MINUTE, isAdmin: true });
        const used = inviteRecord({ createdAt: T0 + 2 * MINUTE });
        const expired = inviteRecord({ createdAt: T0 + 3 * MINUTE, expiresAt: now });
        const setup = inviteRecord({ purpose: 'setup', createdAt: T0 + 4 * MINUTE });
        for (const i of [older, newer, used, expired, setup]) await store.invites.insert(i);
        assert.equal(await store.invites.consume(used.id, 'alice', T0 + 5 * MINUTE), true);
        assert.deepEqual(await store.invites.listOpen(now), [
          { ...newer, usedAt: null, usedBy: null },
          { ...older, usedAt: null, usedBy: null },
        ]);
        assert.deepEqual(await store.invites.listOpen(T0 + 2 * HOUR), [], 'all past their expiry');
      });

      it('revokes an open invitation once: it can then neither be listed nor used', async (t) => {
        const { store } = await fresh(t);
        const invite = inviteRecord();
        const other = inviteRecord();
        await store.invites.insert(invite);
        await store.invites.insert(other);
        const now = T0 + 5 * MINUTE;
        assert.equal(await store.invites.revoke(invite.id, now), true);
        assert.equal((await store.invites.findById(invite.id))?.expiresAt, now);
        assert.equal(await store.invites.consume(invite.id, 'alice', now), false);
        assert.equal(await store.invites.consume(invite.id, 'alice', now + MINUTE), false);
        assert.deepEqual((await store.invites.listOpen(now)).map((i) => i.id), [other.id]);
        assert.equal(await store.invites.revoke(invite.id, now + MINUTE), false, 'already revoked');
        assert.equal((await store.invites.findById(invite.id))?.expiresAt, now, 'a second revoke moves nothing');
      });

      it('does not revoke used, expired, unknown invitations or setup links', async (t) => {
        const { store } = await fresh(t);
        const used = inviteRecord();
        const expired = inviteRecord({ expiresAt: T0 + MINUTE });
        const setup = inviteRecord({ purpose: 'setup' });
        for (const i of [used, expired, setup]) await store.invites.insert(i);
        assert.equal(await store.invites.consume(used.id, 'alice', T0 + MINUTE), true);
        const now = T0 + 2 * MINUTE;
        assert.equal(await store.invites.revoke(used.id, now), false);
        assert.equal(await store.invites.revoke(expired.id, now), false);
        assert.equal(await store.invites.revoke(setup.id, now), false, 'setup links are not invitations');
        assert.equal(await store.invites.revoke('no-such-invite', now), false);
        assert.equal((await store.invites.findById(used.id))?.expiresAt, used.expiresAt);
        assert.equal((await store.invites.findById(expired.id))?.expiresAt, T0 + MINUTE);
        assert.equal(await store.invites.consume(setup.id, 'root', now), true, 'the setup link still works');
      });

      it('is consumed by exactly one of many simultaneous uses', async (t) => {
        const { store } = await fresh(t);
        const invite = inviteRecord();
        await store.invites.insert(invite);
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.invites.consume(invite.id, `user${i}`, T0 + MINUTE)));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal((await store.invites.findById(invite.id))?.usedBy, `user${results.indexOf(true)}`);
      });
    });

    describe('email tokens', () => {
      it('inserts and finds a token with every field intact, including the nulls', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice', email: 'alice@example.com' });
        const reset = emailTokenRecord(alice.id);
        const verify = emailTokenRecord(alice.id, { purpose: 'verify', email: null, expiresAt: T0 + 24 * HOUR });
        await store.emailTokens.insert(reset);
        await store.emailTokens.insert(verify);
        assert.deepEqual(await store.emailTokens.findById(reset.id), { ...reset, usedAt: null });
        assert.deepEqual(await store.emailTokens.findById(verify.id), { ...verify, usedAt: null });
        assert.equal(await store.emailTokens.findById('no-such-token'), null);
      });

      it('refuses a token for a user that does not exist, and a duplicate id', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        await assert.rejects(store.emailTokens.insert(emailTokenRecord('00000000-0000-0000-0000-000000000000')));
        const token = emailTokenRecord(alice.id);
        await store.emailTokens.insert(token);
        await assert.rejects(store.emailTokens.insert({ ...token, tokenHash: 'f'.repeat(64) }));
        assert.equal((await store.emailTokens.findById(token.id))?.tokenHash, token.tokenHash);
      });

      it('is consumed once: the second use fails and the first use time is kept', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const token = emailTokenRecord(alice.id);
        await store.emailTokens.insert(token);
        assert.equal(await store.emailTokens.consume(token.id, T0 + MINUTE), true);
        assert.equal(await store.emailTokens.consume(token.id, T0 + 2 * MINUTE), false);
        assert.equal((await store.emailTokens.findById(token.id))?.usedAt, T0 + MINUTE);
        assert.equal(await store.emailTokens.consume('no-such-token', T0), false);
      });

      it('is consumed by exactly one of many simultaneous uses', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const token = emailTokenRecord(alice.id);
        await store.emailTokens.insert(token);
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.emailTokens.consume(token.id, T0 + MINUTE + i)));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal((await store.emailTokens.findById(token.id))?.usedAt, T0 + MINUTE + results.indexOf(true));
      });

      it('cannot be consumed at or after its expiry', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const [atExpiry, late, justInTime] = [emailTokenRecord(alice.id), emailTokenRecord(alice.id), emailTokenRecord(alice.id)];
        for (const token of [atExpiry, late, justInTime]) await store.emailTokens.insert(token);
        assert.equal(await store.emailTokens.consume(atExpiry.id, atExpiry.expiresAt), false);
        assert.equal(await store.emailTokens.consume(late.id, late.expiresAt + HOUR), false);
        assert.equal((await store.emailTokens.findById(late.id))?.usedAt, null, 'a refused use leaves no mark');
        assert.equal(await store.emailTokens.consume(justInTime.id, justInTime.expiresAt - 1), true);
      });

      it("expires one user's open tokens of one purpose, and nothing else", async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const bob = await store.users.create({ username: 'bob' });
        const now = T0 + 10 * MINUTE;
        const open = emailTokenRecord(alice.id);
        const open2 = emailTokenRecord(alice.id, { createdAt: T0 + MINUTE, expiresAt: T0 + 31 * MINUTE });
        const used = emailTokenRecord(alice.id);
        const alreadyExpired = emailTokenRecord(alice.id, { expiresAt: T0 + MINUTE });
        const verify = emailTokenRecord(alice.id, { purpose: 'verify' });
        const bobs = emailTokenRecord(bob.id);
        for (const token of [open, open2, used, alreadyExpired, verify, bobs]) await store.emailTokens.insert(token);
        assert.equal(await store.emailTokens.consume(used.id, T0 + 2 * MINUTE), true);

        await store.emailTokens.expireOpenForUser('reset', alice.id, now);
        assert.equal((await store.emailTokens.findById(open.id))?.expiresAt, now);
        assert.equal((await store.emailTokens.findById(open2.id))?.expiresAt, now);
        assert.equal(await store.emailTokens.consume(open.id, now), false, 'an expired link no longer works');
        assert.equal(await store.emailTokens.consume(open2.id, now), false);
        assert.deepEqual(await store.emailTokens.findById(used.id), { ...used, usedAt: T0 + 2 * MINUTE }, 'a used token is left as it was');
        assert.equal((await store.emailTokens.findById(alreadyExpired.id))?.expiresAt, T0 + MINUTE, 'an earlier expiry is not moved later');
        assert.equal((await store.emailTokens.findById(verify.id))?.expiresAt, verify.expiresAt, 'another purpose is untouched');
        assert.equal((await store.emailTokens.findById(bobs.id))?.expiresAt, bobs.expiresAt, "another user's token is untouched");
        assert.equal(await store.emailTokens.consume(verify.id, now), true);
        assert.equal(await store.emailTokens.consume(bobs.id, now), true);
      });

      it('tells which users have spent a token of a purpose', async (t) => {
        const { store } = await fresh(t);
        const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((username) => store.users.create({ username })));
        const aliceVerify = emailTokenRecord(alice!.id, { purpose: 'verify' });
        const bobVerify = emailTokenRecord(bob!.id, { purpose: 'verify' });
        const carolReset = emailTokenRecord(carol!.id);
        for (const token of [aliceVerify, bobVerify, carolReset]) await store.emailTokens.insert(token);
        assert.equal(await store.emailTokens.consume(aliceVerify.id, T0 + MINUTE), true);
        assert.equal(await store.emailTokens.consume(carolReset.id, T0 + MINUTE), true);
        assert.deepEqual(await store.emailTokens.usedBy('verify', [alice!.id, bob!.id, carol!.id]), new Set([alice!.id]));
        assert.deepEqual(await store.emailTokens.usedBy('verify', []), new Set());
      });

      it("removing a user removes their tokens, and only theirs", async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const bob = await store.users.create({ username: 'bob' });
        const alices = emailTokenRecord(alice.id);
        const bobs = emailTokenRecord(bob.id);
        await store.emailTokens.insert(alices);
        await store.emailTokens.insert(bobs);
        assert.equal(await store.users.remove(alice.id), true);
        assert.equal(await store.emailTokens.findById(alices.id), null);
        assert.deepEqual(await store.emailTokens.findById(bobs.id), { ...bobs, usedAt: null });
      });
    });

    describe('audit log', () => {
      it('records events at the clock’s time and lists them newest first', async (t) => {
        const { store, clock } = await fresh(t);
        await store.audit.record({ action: 'login.success', actor: 'alice', target: 'alice', ip: '203.0.113.7', detail: { method: 'password', nested: { ok: true, n: 2, list: ['a', null] } } });
        clock.advance(MINUTE);
        await store.audit.record({ action: 'login.failure', actor: 'bob' });
        clock.advance(MINUTE);
        await store.audit.record({ action: 'user.disabled', actor: 'alice', target: 'bob', detail: {} });

        const all = await store.audit.list();
        assert.deepEqual(
          all.map((e) => [e.action, e.at]),
          [
            ['user.disabled', T0 + 2 * MINUTE],
            ['login.failure', T0 + MINUTE],
            ['login.success', T0],
          ],
        );
        assert.ok(all[0]!.id > all[1]!.id && all[1]!.id > all[2]!.id, 'ids grow with time');
        assert.equal(typeof all[0]!.id, 'number');
        const { id: _id, ...first } = all[2]!;
        assert.deepEqual(first, {
          at: T0,
          actor: 'alice',
          action: 'login.success',
          target: 'alice',
          ip: '203.0.113.7',
          detail: { method: 'password', nested: { ok: true, n: 2, list: ['a', null] } },
        });
        assert.deepEqual(all[1], { id: all[1]!.id, at: T0 + MINUTE, actor: 'bob', action: 'login.failure', target: null, ip: null, detail: null });
        assert.deepEqual(all[0]!.detail, {});
      });

      it('filters by action, by actor, by both, and limits', async (t) => {
        const { store, clock } = await fresh(t);
        const events = [
          { action: 'login.failure', actor: 'alice' },
          { action: 'login.success', actor: 'alice' },
          { action: 'login.failure', actor: 'bob' },
          { action: 'login.failure', actor: 'alice' },
        ] as const;
        for (const e of events) {
          await store.audit.record(e);
          clock.advance(1000);
        }
        const summary = (list: { action: string; actor: string | null; at: number }[]) => list.map((e) => `${e.actor}:${e.action}@${e.at - T0}`);
        assert.deepEqual(summary(await store.audit.list({ action: 'login.failure' })), ['alice:login.failure@3000', 'bob:login.failure@2000', 'alice:login.failure@0']);
        assert.deepEqual(summary(await store.audit.list({ actor: 'alice' })), ['alice:login.failure@3000', 'alice:login.success@1000', 'alice:login.failure@0']);
        assert.deepEqual(summary(await store.audit.list({ action: 'login.failure', actor: 'alice' })), ['alice:login.failure@3000', 'alice:login.failure@0']);
        assert.deepEqual(summary(await store.audit.list({ limit: 2 })), ['alice:login.failure@3000', 'bob:login.failure@2000']);
        assert.deepEqual(await store.audit.list({ actor: 'nobody' }), []);
      });
    });

    describe('throttle', () => {
      it('counts failures within a window and reports the state', async (t) => {
        const { store } = await fresh(t);
        const windowStart = T0 - 15 * MINUTE;
        assert.equal(await store.throttle.get('user:alice'), null);
        assert.deepEqual(await store.throttle.addFailure('user:alice', T0, windowStart), { failures: 1, firstFailureAt: T0, lastFailureAt: T0 });
        assert.deepEqual(await store.throttle.addFailure('user:alice', T0 + 1000, windowStart), { failures: 2, firstFailureAt: T0, lastFailureAt: T0 + 1000 });
        assert.deepEqual(await store.throttle.addFailure('user:alice', T0 + 2000, windowStart), { failures: 3, firstFailureAt: T0, lastFailureAt: T0 + 2000 });
        assert.deepEqual(await store.throttle.get('user:alice'), { failures: 3, firstFailureAt: T0, lastFailureAt: T0 + 2000 });
        assert.equal(await store.throttle.get('user:bob'), null, 'keys are independent');
      });

      it('starts a new window at 1 when the last failure is before the window start', async (t) => {
        const { store } = await fresh(t);
        await store.throttle.addFailure('ip:203.0.113.7', T0, T0 - HOUR);
        await store.throttle.addFailure('ip:203.0.113.7', T0 + 1000, T0 - HOUR);
        const later = T0 + HOUR;
        // The last failure (T0 + 1000) sits exactly on the window start: still the same window.
        assert.deepEqual(await store.throttle.addFailure('ip:203.0.113.7', later, T0 + 1000), { failures: 3, firstFailureAt: T0, lastFailureAt: later });
        // One millisecond later it is outside: the count starts again.
        const muchLater = later + HOUR;
        assert.deepEqual(await store.throttle.addFailure('ip:203.0.113.7', muchLater, later + 1), { failures: 1, firstFailureAt: muchLater, lastFailureAt: muchLater });
        assert.deepEqual(await store.throttle.get('ip:203.0.113.7'), { failures: 1, firstFailureAt: muchLater, lastFailureAt: muchLater });
      });

      it('clears one key', async (t) => {
        const { store } = await fresh(t);
        await store.throttle.addFailure('a', T0, T0 - HOUR);
        await store.throttle.addFailure('a', T0, T0 - HOUR);
        await store.throttle.addFailure('b', T0, T0 - HOUR);
        await store.throttle.clear('a');
        assert.equal(await store.throttle.get('a'), null);
        assert.deepEqual(await store.throttle.get('b'), { failures: 1, firstFailureAt: T0, lastFailureAt: T0 });
        assert.equal((await store.throttle.addFailure('a', T0 + 1, T0 - HOUR)).failures, 1);
        await store.throttle.clear('never-seen');
      });
    });

    describe('single sign-on links', () => {
      it('links a subject once, finds it, records each sign-in, and unlinks', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        const bob = await store.users.create({ username: 'bob' });
        assert.equal(await store.sso.find('corp', 'sub-1'), null);
        assert.equal(await store.sso.link({ provider: 'corp', subject: 'sub-1', userId: alice.id, email: 'alice@example.com' }, T0), true);
        assert.equal(await store.sso.link({ provider: 'corp', subject: 'sub-1', userId: bob.id, email: null }, T0 + 1), false, 'a subject is linked to one account only');
        assert.equal(await store.sso.link({ provider: 'other', subject: 'sub-1', userId: bob.id, email: null }, T0), true, 'subjects are per provider');
        assert.deepEqual(await store.sso.find('corp', 'sub-1'), { provider: 'corp', subject: 'sub-1', userId: alice.id, email: 'alice@example.com', syncedGroups: [], createdAt: T0, lastLoginAt: null });
        await store.sso.recordLogin('corp', 'sub-1', { email: 'a@example.com', syncedGroups: ['b', 'a'] }, T0 + 5);
        assert.deepEqual(await store.sso.find('corp', 'sub-1'), { provider: 'corp', subject: 'sub-1', userId: alice.id, email: 'a@example.com', syncedGroups: ['a', 'b'], createdAt: T0, lastLoginAt: T0 + 5 });
        assert.deepEqual(await store.sso.listForUser(alice.id), [{ provider: 'corp', subject: 'sub-1', email: 'a@example.com', lastLoginAt: T0 + 5 }]);
        assert.equal(await store.sso.unlink('corp', bob.id), 0, "unlink only removes the user's own link");
        assert.equal(await store.sso.unlink('corp', alice.id), 1);
        assert.equal(await store.sso.find('corp', 'sub-1'), null);
      });

      it('links and kept ID tokens go with their user and their session', async (t) => {
        const { store } = await fresh(t);
        const alice = await store.users.create({ username: 'alice' });
        await store.sso.link({ provider: 'corp', subject: 'sub-a', userId: alice.id, email: null }, T0);
        const session = sessionRecord(alice.id, { authMethod: 'sso:corp' });
        await store.sessions.insert(session);
        await store.sso.rememberIdToken(session.id, 'corp', 'header.payload.signature');
        assert.deepEqual(await store.sso.idTokenOf(session.id), { provider: 'corp', idToken: 'header.payload.signature' });
        await store.sessions.delete(session.id);
        assert.equal(await store.sso.idTokenOf(session.id), null, 'the ID token ends with its session');
        await store.users.remove(alice.id);
        assert.equal(await store.sso.find('corp', 'sub-a'), null, 'the link ends with its user');
      });
    });

    describe('settings', () => {
      it('keeps the first value: a second insert returns the first', async (t) => {
        const { store } = await fresh(t);
        assert.equal(await store.settings.get('cookie_key'), null);
        assert.equal(await store.settings.getOrInsert('cookie_key', 'first'), 'first');
        assert.equal(await store.settings.getOrInsert('cookie_key', 'second'), 'first');
        assert.equal(await store.settings.get('cookie_key'), 'first');
        assert.equal(await store.settings.getOrInsert('other_key', 'x'), 'x', 'keys are independent');
      });
    });
  });
}

// ── SQLite: a fresh temp data dir per store ──────────────────────────────────────────────────────
const sqliteRoot = mkdtempSync(join(tmpdir(), 'dashgate-store-'));
let sqliteSeq = 0;
defineStoreSuite(
  'sqlite',
  (now) => openStore({ dataDir: join(sqliteRoot, `store-${++sqliteSeq}`), now }),
  async () => rmSync(sqliteRoot, { recursive: true, force: true }),
);

// ── PostgreSQL: a fresh schema per store, dropped when that store closes ─────────────────────────
// Each schema is dropped as soon as its test ends. Regression: schemas side by side must not
// disturb each other's migrations (see 'opens a fresh PostgreSQL schema …' below).
const runId = randomBytes(6).toString('hex').replace(/[0-9]/g, (d) => String.fromCharCode(97 + Number(d)));
const pgSchemas: string[] = [];
async function dropSchemas(schemas: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}
defineStoreSuite(
  'postgres',
  async (now) => {
    const schema = `dg_test_${runId}_${pgSchemas.length + 1}`;
    pgSchemas.push(schema);
    const store = await openStore({ url: POSTGRES_URL, dataDir: sqliteRoot, schema, now });
    return {
      ...store,
      async close() {
        await store.close();
        await dropSchemas([schema]);
      },
    };
  },
  // Whatever a failed open left behind.
  () => dropSchemas(pgSchemas),
);

// ── Migrations: opening an existing database again applies nothing and loses nothing ───────────
describe('migrations are idempotent', () => {
  async function migrationCount(store: Store): Promise<number> {
    const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(store.db);
    return rows.rows.length;
  }

  it('reopens the same SQLite data dir with its data intact', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-reopen-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = await openStore({ dataDir, now: () => T0 });
    const alice = await first.users.create({ username: 'alice', groups: ['finance'] });
    await first.settings.getOrInsert('cookie_key', 'k1');
    const migrations = await migrationCount(first);
    assert.ok(migrations >= 1);
    await first.close();

    const second = await openStore({ dataDir, now: () => T0 });
    t.after(() => second.close());
    assert.equal(second.dialect, 'sqlite');
    assert.deepEqual(await second.users.findById(alice.id), alice);
    assert.equal(await second.settings.get('cookie_key'), 'k1');
    assert.equal(await migrationCount(second), migrations, 'no migration ran twice');
  });

  it('reopens the same PostgreSQL schema with its data intact', async (t) => {
    const schema = `dg_test_${runId}_reopen`;
    t.after(() => dropSchemas([schema]));
    const first = await openStore({ url: POSTGRES_URL, dataDir: sqliteRoot, schema, now: () => T0 });
    const alice = await first.users.create({ username: 'alice', groups: ['finance'] });
    const migrations = await migrationCount(first);
    assert.ok(migrations >= 1);
    await first.close();

    const second = await openStore({ url: POSTGRES_URL, dataDir: sqliteRoot, schema, now: () => T0 });
    t.after(() => second.close());
    assert.equal(second.dialect, 'postgres');
    assert.deepEqual(await second.users.findById(alice.id), alice);
    assert.equal(await migrationCount(second), migrations, 'no migration ran twice');
  });

  // A database made by a version without API tokens: 0002 applies on the next start, data stays.
  for (const dialect of ['sqlite', 'postgres'] as const) {
    it(`upgrades a ${dialect} database made before 0002_api_tokens`, async (t) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-upgrade-'));
      const schema = `dg_test_${runId}_upgrade`;
      t.after(() => rmSync(dataDir, { recursive: true, force: true }));
      if (dialect === 'postgres') t.after(() => dropSchemas([schema]));
      const open = () => (dialect === 'sqlite' ? openStore({ dataDir, now: () => T0 }) : openStore({ url: POSTGRES_URL, dataDir, schema, now: () => T0 }));
      const first = await open();
      const alice = await first.users.create({ username: 'alice' });
      // Everything from 0002 on is undone: tables and indexes dropped, migration rows removed.
      await sql`drop table sso_sessions`.execute(first.db);
      await sql`drop table sso_identities`.execute(first.db);
      await sql`drop index users_email_ci`.execute(first.db);
      await sql`drop table passkeys`.execute(first.db);
      await sql`drop table recovery_codes`.execute(first.db);
      await sql`drop table totp_factors`.execute(first.db);
      await sql`drop table email_tokens`.execute(first.db);
      await sql`drop table api_tokens`.execute(first.db);
      await sql`delete from kysely_migration where name >= '0002'`.execute(first.db);
      await first.close();

      const second = await open();
      t.after(() => second.close());
      assert.deepEqual(await second.users.findById(alice.id), alice);
      const record = apiTokenRecord(alice.id);
      await second.apiTokens.insert(record);
      assert.deepEqual(await second.apiTokens.findById(record.id), record);
      const reset = { id: 'et1', tokenHash: 'h'.repeat(64), purpose: 'reset' as const, userId: alice.id, email: null, createdAt: T0, expiresAt: T0 + 1000 };
      await second.emailTokens.insert(reset);
      assert.deepEqual(await second.emailTokens.findById('et1'), { ...reset, usedAt: null });
    });
  }

  it(
    'opens a fresh PostgreSQL schema while another schema already holds Dashgate tables',
    async (t) => {
      const [a, b] = [`dg_test_${runId}_side_a`, `dg_test_${runId}_side_b`];
      t.after(() => dropSchemas([a, b]));
      const first = await openStore({ url: POSTGRES_URL, dataDir: sqliteRoot, schema: a, now: () => T0 });
      t.after(() => first.close());
      const second = await openStore({ url: POSTGRES_URL, dataDir: sqliteRoot, schema: b, now: () => T0 });
      t.after(() => second.close());
      await second.users.create({ username: 'alice' });
      assert.equal(await second.users.count(), 1);
      assert.equal(await first.users.count(), 0, 'the schemas are isolated');
    },
  );
});
