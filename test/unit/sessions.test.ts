/**
 * SessionManager against a real SQLite store, with time from an injected clock: tokens, hashing,
 * idle and absolute timeouts, the memory cache and the throttled last-seen writes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { SessionManager, type SessionSettings } from '../../src/auth/sessions.js';
import { hashSecret } from '../../src/auth/tokens.js';
import { openStore, type Store } from '../../src/store/store.js';
import type { User } from '../../src/store/types.js';
import { testClock as makeTestClock } from '../helpers/clock.js';

const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const SETTINGS: SessionSettings = {
  idleTimeoutMs: 30 * MINUTE,
  absoluteTimeoutMs: 8 * HOUR,
  cacheTtlMs: 10 * SECOND,
  touchIntervalMs: MINUTE,
};

const TOKEN_SHAPE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const META = { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (test)', authMethod: 'password' };

const testClock = (start = T0) => makeTestClock(start);

interface Fixture {
  store: Store;
  clock: ReturnType<typeof testClock>;
  sessions: SessionManager;
  alice: User;
  bob: User;
  /** Another gateway instance on the same store: an empty cache that must ask the store. */
  coldManager(): SessionManager;
}

async function setup(t: TestContext): Promise<Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-sessions-'));
  const clock = testClock();
  const store = await openStore({ dataDir, now: clock.now });
  t.after(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const errors: unknown[] = [];
  // Any failed background write is a test failure, not a silent log line.
  t.after(() => assert.deepEqual(errors, []));
  const make = () => new SessionManager(store, SETTINGS, clock.now, (err) => errors.push(err));
  return {
    store,
    clock,
    sessions: make(),
    alice: await store.users.create({ username: 'alice', groups: ['analysts'] }),
    bob: await store.users.create({ username: 'bob' }),
    coldManager: make,
  };
}

function split(token: string): { id: string; secret: string } {
  const match = TOKEN_SHAPE.exec(token);
  assert.ok(match, `token ${token} has the <22>.<43> shape`);
  return { id: match[1]!, secret: match[2]! };
}

/** Another secret of the right shape, certainly different from `secret`. */
function otherSecret(secret: string): string {
  let candidate = secret;
  while (candidate === secret) candidate = randomBytes(32).toString('base64url');
  return candidate;
}

describe('SessionManager', () => {
  describe('createSession', () => {
    it('returns an <id>.<secret> token and stores only the SHA-256 hex of the secret', async (t) => {
      const { store, sessions, alice } = await setup(t);
      const { token, session } = await sessions.createSession(alice, META);
      const { id, secret } = split(token);
      assert.equal(session.id, id);

      const record = await store.sessions.findById(id);
      assert.ok(record);
      assert.notEqual(record.secretHash, secret);
      assert.equal(record.secretHash, hashSecret(secret));
      assert.match(record.secretHash, /^[0-9a-f]{64}$/);
      const row = await store.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.ok(!JSON.stringify(row).includes(secret), 'the secret itself is nowhere in the stored row');

      assert.deepEqual(record, {
        id,
        secretHash: hashSecret(secret),
        userId: alice.id,
        createdAt: T0,
        lastSeenAt: T0,
        expiresAt: T0 + SETTINGS.absoluteTimeoutMs,
        ip: META.ip,
        userAgent: META.userAgent,
        authMethod: 'password',
      });
      assert.deepEqual(session, { id, userId: alice.id, createdAt: T0, expiresAt: T0 + SETTINGS.absoluteTimeoutMs, lastSeenAt: T0, authMethod: 'password' });
    });

    it('stores at most 512 characters of the user agent, and no user agent as null', async (t) => {
      const { store, sessions, alice } = await setup(t);
      const long = await sessions.createSession(alice, { ...META, userAgent: 'x'.repeat(2000) });
      assert.equal((await store.sessions.findById(long.session.id))?.userAgent, 'x'.repeat(512));
      const none = await sessions.createSession(alice, { ip: null, userAgent: null, authMethod: 'password' });
      const record = await store.sessions.findById(none.session.id);
      assert.equal(record?.userAgent, null);
      assert.equal(record?.ip, null);
    });

    it('gives a new id and secret every time (no fixation), each session independent', async (t) => {
      const { sessions, alice } = await setup(t);
      const first = await sessions.createSession(alice, META);
      const second = await sessions.createSession(alice, META);
      assert.notEqual(first.session.id, second.session.id);
      assert.notEqual(split(first.token).secret, split(second.token).secret);
      assert.equal((await sessions.validateSessionToken(first.token))?.session.id, first.session.id);
      assert.equal((await sessions.validateSessionToken(second.token))?.session.id, second.session.id);
      await sessions.invalidateSession(first.session.id);
      assert.equal(await sessions.validateSessionToken(first.token), null);
      assert.equal((await sessions.validateSessionToken(second.token))?.session.id, second.session.id);
    });
  });

  describe('validateSessionToken', () => {
    it('returns the session and user for the right token, from memory and from the store', async (t) => {
      const { clock, sessions, alice, coldManager } = await setup(t);
      const { token, session } = await sessions.createSession(alice, META);
      clock.advance(SECOND);
      const hot = await sessions.validateSessionToken(token);
      assert.deepEqual(hot?.user, alice);
      assert.deepEqual(hot?.session, { ...session, lastSeenAt: T0 + SECOND });

      const cold = await coldManager().validateSessionToken(token);
      assert.deepEqual(cold?.user, alice);
      assert.equal(cold?.session.id, session.id);
    });

    it('refuses a wrong secret with the right id, without ending the real session', async (t) => {
      const { sessions, alice, coldManager } = await setup(t);
      const { token } = await sessions.createSession(alice, META);
      const { id, secret } = split(token);
      const forged = `${id}.${otherSecret(secret)}`;
      assert.equal(await sessions.validateSessionToken(forged), null, 'cached session, wrong secret');
      const cold = coldManager();
      assert.equal(await cold.validateSessionToken(forged), null, 'session read from the store, wrong secret');
      // A guess must not log the real user out.
      assert.notEqual(await sessions.validateSessionToken(token), null);
      assert.notEqual(await cold.validateSessionToken(token), null);
    });

    it('answers null for missing, empty, malformed and unknown tokens', async (t) => {
      const { sessions, alice } = await setup(t);
      const { token } = await sessions.createSession(alice, META);
      const { id, secret } = split(token);
      const unknown = `${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
      const bad: (string | undefined)[] = [
        undefined,
        '',
        'garbage',
        `${token}x`,
        `${token}\n`,
        ` ${token}`,
        `${id}${secret}`,
        `${id}.`,
        `.${secret}`,
        `${id}.${secret.slice(1)}`,
        `${id}.${secret.slice(0, -1)}+`,
        `${id}.${secret}.${secret}`,
        id,
        secret,
        unknown,
      ];
      for (const value of bad) assert.equal(await sessions.validateSessionToken(value), null, `token ${JSON.stringify(value)}`);
      assert.notEqual(await sessions.validateSessionToken(token), null, 'the real token still works');
    });
  });

  describe('timeouts', () => {
    it('ends a session idle for idleTimeoutMs and deletes its row', async (t) => {
      const { store, clock, sessions, alice } = await setup(t);
      const idle = await sessions.createSession(alice, META);
      const active = await sessions.createSession(alice, META);

      clock.set(T0 + SETTINGS.idleTimeoutMs - 1);
      assert.notEqual(await sessions.validateSessionToken(active.token), null, 'one millisecond before the idle limit');
      clock.set(T0 + SETTINGS.idleTimeoutMs);
      assert.equal(await sessions.validateSessionToken(idle.token), null);
      assert.equal(await store.sessions.findById(idle.session.id), null, 'the idle session is deleted');
      assert.notEqual(await sessions.validateSessionToken(active.token), null, 'the other session was seen a moment ago');
    });

    it('ends an idle session when read from the store by another instance, too', async (t) => {
      const { store, clock, sessions, alice, coldManager } = await setup(t);
      const { token, session } = await sessions.createSession(alice, META);
      clock.advance(SETTINGS.idleTimeoutMs + HOUR);
      assert.equal(await coldManager().validateSessionToken(token), null);
      assert.equal(await store.sessions.findById(session.id), null);
    });

    it('keeps an active session alive well beyond the idle timeout, and writes the activity to the store', async (t) => {
      const { store, clock, sessions, alice, coldManager } = await setup(t);
      const { token, session } = await sessions.createSession(alice, META);
      const step = 20 * MINUTE; // shorter than the 30-minute idle timeout
      const end = T0 + 3 * HOUR;
      while (clock.now() < end) {
        clock.advance(step);
        const found = await sessions.validateSessionToken(token);
        assert.equal(found?.session.id, session.id, `valid at +${(clock.now() - T0) / MINUTE} min`);
        assert.equal(found?.session.lastSeenAt, clock.now());
      }
      assert.equal((await store.sessions.findById(session.id))?.lastSeenAt, end, 'the last activity reached the store');
      // Another instance, relying on the store alone, also sees a live session.
      clock.advance(step);
      assert.notEqual(await coldManager().validateSessionToken(token), null);
    });

    it('counts activity this instance saw but has not yet written when it re-reads the store', async (t) => {
      const { store, clock, sessions, alice } = await setup(t);
      const { token, session } = await sessions.createSession(alice, META);
      // Seen at +59 s: inside the touch interval, so the store still says T0.
      clock.set(T0 + SETTINGS.touchIntervalMs - SECOND);
      assert.notEqual(await sessions.validateSessionToken(token), null);
      assert.equal((await store.sessions.findById(session.id))?.lastSeenAt, T0);
      // Idle by the store's copy, not by what this instance saw; the cache TTL has long passed.
      clock.set(T0 + SETTINGS.idleTimeoutMs + SECOND);
      assert.notEqual(await sessions.validateSessionToken(token), null);
    });

    it('ends a session at its absolute timeout even with steady activity', async (t) => {
      const { store, clock, sessions, alice } = await setup(t);
      const { token, session } = await sessions.createSession(alice, META);
      const expiresAt = T0 + SETTINGS.absoluteTimeoutMs;
      assert.equal(session.expiresAt, expiresAt);
      for (clock.advance(20 * MINUTE); clock.now() < expiresAt; clock.advance(20 * MINUTE)) {
        assert.notEqual(await sessions.validateSessionToken(token), null, `valid at +${(clock.now() - T0) / MINUTE} min`);
      }
      clock.set(expiresAt - 1);
      assert.notEqual(await sessions.validateSessionToken(token), null, 'one millisecond before the absolute limit');
      clock.set(expiresAt);
      assert.equal(await sessions.validateSessionToken(token), null);
      assert.equal(await store.sessions.findById(session.id), null, 'the expired session is deleted');
    });

    it('sweepExpired deletes idle and expired sessions from the store, and only those', async (t) => {
      const { store, clock, sessions, alice, bob } = await setup(t);
      const early = await sessions.createSession(alice, META);
      clock.set(T0 + SETTINGS.absoluteTimeoutMs - 10 * MINUTE);
      const late = await sessions.createSession(bob, META);
      clock.set(T0 + SETTINGS.absoluteTimeoutMs - 5 * MINUTE);
      // `early` has been idle for hours; `late` for five minutes.
      assert.equal(await sessions.sweepExpired(), 1);
      assert.equal(await store.sessions.findById(early.session.id), null);
      assert.notEqual(await store.sessions.findById(late.session.id), null);
    });
  });

  describe('last-seen writes', () => {
    it('writes last-seen at most once per touchIntervalMs however often the session is used', async (t) => {
      const { store, clock, sessions, alice } = await setup(t);
      const { token, session } = await sessions.createSession(alice, META);
      const stored: number[] = [];
      // One validation a second for 150 s: 150 uses, spanning the cache TTL many times over.
      for (let i = 1; i <= 150; i++) {
        clock.set(T0 + i * SECOND);
        const found = await sessions.validateSessionToken(token);
        assert.equal(found?.session.lastSeenAt, clock.now(), 'memory always knows the latest use');
        const lastSeenAt = (await store.sessions.findById(session.id))?.lastSeenAt;
        assert.ok(lastSeenAt !== undefined);
        if (stored.at(-1) !== lastSeenAt) stored.push(lastSeenAt);
      }
      assert.deepEqual(
        stored.map((at) => at - T0),
        [0, 60 * SECOND, 120 * SECOND],
        'the store was written once per minute, not on every use',
      );
    });
  });

  describe('cache', () => {
    it('a session ended while a store read is in flight does not come back from that read (regression)', async (t) => {
      const { store, sessions, coldManager, alice } = await setup(t);
      const { token, session } = await sessions.createSession(alice, META);
      const cold = coldManager();
      // Hold the cold instance's read of the row until the session has been ended.
      const findById = store.sessions.findById.bind(store.sessions);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let first = true;
      store.sessions.findById = async (id: string) => {
        const row = await findById(id);
        if (first) {
          first = false;
          await gate;
        }
        return row;
      };
      t.after(() => {
        store.sessions.findById = findById;
      });
      const inFlight = cold.validateSessionToken(token);
      await new Promise((done) => setImmediate(done));
      await cold.invalidateSession(session.id);
      release();
      assert.equal(await inFlight, null, 'the read from before the end is not trusted');
      assert.equal(await cold.validateSessionToken(token), null, 'nor cached');
    });

    it('answers from memory until cacheTtlMs, then asks the store again (row deleted behind its back)', async (t) => {
      const { store, clock, sessions, alice } = await setup(t);
      const { token, session } = await sessions.createSession(alice, META);
      assert.equal(await store.sessions.delete(session.id), true);
      clock.set(T0 + SETTINGS.cacheTtlMs - 1);
      assert.notEqual(await sessions.validateSessionToken(token), null, 'by design: still valid from memory within the TTL');
      clock.set(T0 + SETTINGS.cacheTtlMs);
      assert.equal(await sessions.validateSessionToken(token), null, 'the store is consulted after the TTL');
      clock.advance(SECOND);
      assert.equal(await sessions.validateSessionToken(token), null);
    });

    it('picks up changed groups after cacheTtlMs', async (t) => {
      const { store, clock, sessions, alice } = await setup(t);
      const { token } = await sessions.createSession(alice, META);
      await store.users.setGroups(alice.id, ['finance', 'ops']);
      clock.set(T0 + SETTINGS.cacheTtlMs - 1);
      assert.deepEqual((await sessions.validateSessionToken(token))?.user.groups, ['analysts']);
      clock.set(T0 + SETTINGS.cacheTtlMs);
      assert.deepEqual((await sessions.validateSessionToken(token))?.user.groups, ['finance', 'ops']);
    });

    it('answers simultaneous validations after the TTL consistently', async (t) => {
      const { clock, sessions, alice } = await setup(t);
      const { token, session } = await sessions.createSession(alice, META);
      clock.set(T0 + SETTINGS.cacheTtlMs);
      const results = await Promise.all(Array.from({ length: 8 }, () => sessions.validateSessionToken(token)));
      for (const result of results) assert.equal(result?.session.id, session.id);
    });
  });

  describe('ending sessions', () => {
    it('invalidateSession ends one session at once, in memory and in the store', async (t) => {
      const { store, sessions, alice } = await setup(t);
      const doomed = await sessions.createSession(alice, META);
      const other = await sessions.createSession(alice, META);
      assert.notEqual(await sessions.validateSessionToken(doomed.token), null);
      await sessions.invalidateSession(doomed.session.id);
      assert.equal(await sessions.validateSessionToken(doomed.token), null, 'no TTL grace for an explicit sign-out');
      assert.equal(await store.sessions.findById(doomed.session.id), null);
      assert.notEqual(await sessions.validateSessionToken(other.token), null);
    });

    it('invalidateUserSessions ends every session of the user but the one excepted', async (t) => {
      const { store, sessions, alice, bob } = await setup(t);
      const [a1, a2, a3] = [await sessions.createSession(alice, META), await sessions.createSession(alice, META), await sessions.createSession(alice, META)];
      const b1 = await sessions.createSession(bob, META);
      for (const s of [a1, a2, a3, b1]) assert.notEqual(await sessions.validateSessionToken(s.token), null);

      assert.equal(await sessions.invalidateUserSessions(alice.id, a2.session.id), 2);
      assert.equal(await sessions.validateSessionToken(a1.token), null);
      assert.equal(await sessions.validateSessionToken(a3.token), null);
      assert.notEqual(await sessions.validateSessionToken(a2.token), null, 'the excepted session lives on');
      assert.notEqual(await sessions.validateSessionToken(b1.token), null, 'other users are untouched');
      assert.deepEqual((await store.sessions.listForUser(alice.id)).map((r) => r.id), [a2.session.id]);

      assert.equal(await sessions.invalidateUserSessions(alice.id), 1);
      assert.equal(await sessions.validateSessionToken(a2.token), null);
      assert.deepEqual(await store.sessions.listForUser(alice.id), []);
      assert.notEqual(await sessions.validateSessionToken(b1.token), null);
    });

    it('invalidateUserSessions also drops cached sessions whose rows another instance already deleted', async (t) => {
      const { store, sessions, alice } = await setup(t);
      const mine = await sessions.createSession(alice, META);
      assert.deepEqual(await store.sessions.deleteForUser(alice.id), [mine.session.id]);
      assert.equal(await sessions.invalidateUserSessions(alice.id), 0, 'nothing left in the store to delete');
      assert.equal(await sessions.validateSessionToken(mine.token), null, 'and nothing left in memory either');
    });

    it('refuses a disabled user once the cache TTL passes', async (t) => {
      const { store, clock, sessions, alice, bob } = await setup(t);
      const mine = await sessions.createSession(alice, META);
      const bobs = await sessions.createSession(bob, META);
      await store.users.setStatus(alice.id, 'disabled');
      clock.set(T0 + SETTINGS.cacheTtlMs - 1);
      assert.notEqual(await sessions.validateSessionToken(mine.token), null, 'by design: memory answers within the TTL');
      clock.set(T0 + SETTINGS.cacheTtlMs);
      assert.equal(await sessions.validateSessionToken(mine.token), null);
      assert.notEqual(await sessions.validateSessionToken(bobs.token), null);
    });

    it('refuses a disabled user immediately after forgetUser', async (t) => {
      const { store, sessions, alice, bob } = await setup(t);
      const mine = await sessions.createSession(alice, META);
      const bobs = await sessions.createSession(bob, META);
      await store.users.setStatus(alice.id, 'disabled');
      sessions.forgetUser(alice.id);
      assert.equal(await sessions.validateSessionToken(mine.token), null);
      assert.notEqual(await sessions.validateSessionToken(bobs.token), null, 'other users stay cached and valid');
    });

    it('refuses a user who is not active for any reason (pending)', async (t) => {
      const { store, sessions, alice } = await setup(t);
      const mine = await sessions.createSession(alice, META);
      await store.users.setStatus(alice.id, 'pending');
      sessions.forgetUser(alice.id);
      assert.equal(await sessions.validateSessionToken(mine.token), null);
    });
  });
});

describe('checking without touching', () => {
  it('touch: false validates but does not count as activity (an open WebSocket does not keep an idle user in)', async (t) => {
    const { sessions, clock, alice } = await setup(t);
    const { token } = await sessions.createSession(alice, META);
    for (let i = 0; i < 5; i++) {
      clock.advance(5 * MINUTE);
      assert.notEqual(await sessions.validateSessionToken(token, { touch: false }), null);
    }
    clock.advance(5 * MINUTE + 1);
    assert.equal(await sessions.validateSessionToken(token, { touch: false }), null, '30 minutes without real activity');
  });
});
