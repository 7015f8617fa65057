/**
 * ApiTokenManager against a real SQLite store, with time from an injected clock: the token format,
 * hashing, every way a token is refused, expiry, revocation, the memory cache and the throttled
 * last-used writes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { ApiTokenManager, isApiTokenShaped, type ApiTokenSettings } from '../../src/auth/api-tokens.js';
import { SessionManager } from '../../src/auth/sessions.js';
import { hashSecret } from '../../src/auth/tokens.js';
import { openStore, type Store } from '../../src/store/store.js';
import type { User } from '../../src/store/types.js';
import { testClock as makeTestClock } from '../helpers/clock.js';

const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;

const SETTINGS: ApiTokenSettings = { cacheTtlMs: 10 * SECOND, touchIntervalMs: MINUTE };
const TOKEN_SHAPE = /^dgt_([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const NEW = { name: 'nightly export', expiresAt: T0 + 90 * DAY, createdBy: 'cli' };

interface Fixture {
  store: Store;
  clock: ReturnType<typeof makeTestClock>;
  tokens: ApiTokenManager;
  alice: User;
  bob: User;
  /** Background write failures handed to onError. */
  errors: unknown[];
  /** Another gateway instance on the same store: its own, empty cache. */
  otherInstance(): ApiTokenManager;
  /** How many times the store was asked for a token by id. */
  storeReads(): number;
}

async function setup(t: TestContext, options: { expectErrors?: boolean } = {}): Promise<Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-api-tokens-'));
  const clock = makeTestClock(T0);
  const store = await openStore({ dataDir, now: clock.now });
  t.after(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const errors: unknown[] = [];
  // Unless a test provokes them, a failed background write is a test failure, not a silent log line.
  if (!options.expectErrors) t.after(() => assert.deepEqual(errors, []));
  let reads = 0;
  const findById = store.apiTokens.findById.bind(store.apiTokens);
  store.apiTokens.findById = (id) => {
    reads++;
    return findById(id);
  };
  const make = () => new ApiTokenManager(store, SETTINGS, clock.now, (err) => errors.push(err));
  return {
    store,
    clock,
    tokens: make(),
    alice: await store.users.create({ username: 'alice', groups: ['analysts'] }),
    bob: await store.users.create({ username: 'bob' }),
    errors,
    otherInstance: make,
    storeReads: () => reads,
  };
}

function split(token: string): { id: string; secret: string } {
  const match = TOKEN_SHAPE.exec(token);
  assert.ok(match, `token ${token} has the dgt_<22>.<43> shape`);
  return { id: match[1]!, secret: match[2]! };
}

/** Another value of the same shape as `part`, certainly different from it. */
function otherLike(part: string, bytes: number): string {
  let candidate = part;
  while (candidate === part) candidate = randomBytes(bytes).toString('base64url');
  return candidate;
}

describe('isApiTokenShaped', () => {
  it('recognises the dgt_ prefix and nothing else', () => {
    assert.equal(isApiTokenShaped('dgt_abc.def'), true);
    assert.equal(isApiTokenShaped('dgt_'), true, 'malformed but ours: the gateway judges it, the app never sees it');
    for (const value of [undefined, null, '', 'dgt', 'DGT_abc.def', 'Bearer dgt_abc', `${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}`, 'eyJhbGciOiJIUzI1NiJ9.e30.sig']) {
      assert.equal(isApiTokenShaped(value), false, String(value));
    }
  });
});

describe('ApiTokenManager', () => {
  describe('create', () => {
    it('issues a dgt_<id>.<secret> token and stores only the SHA-256 of the secret', async (t) => {
      const { store, tokens, alice } = await setup(t);
      const { token, record } = await tokens.create(alice, NEW);
      const { id, secret } = split(token);
      assert.deepEqual(record, { id, userId: alice.id, username: 'alice', name: 'nightly export', createdAt: T0, expiresAt: T0 + 90 * DAY, lastUsedAt: null, createdBy: 'cli' });
      assert.equal('secretHash' in record, false, 'the hash stays inside the store and the manager');
      const row = await store.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(row.secret_hash, hashSecret(secret));
      for (const value of Object.values(row)) assert.ok(typeof value !== 'string' || (!value.includes(secret) && !value.includes(token)), `column value ${value} holds no secret`);
      const second = await tokens.create(alice, NEW);
      assert.notEqual(split(second.token).id, id);
      assert.notEqual(split(second.token).secret, secret);
    });

    it('never issues an id that starts with "-" (it would read as an option in `dashgate tokens revoke <id>`)', async (t) => {
      const { tokens, alice } = await setup(t);
      // Without the rule, 1 in 64 ids would: 300 tokens pass by chance less than 1% of the time.
      for (let i = 0; i < 300; i++) {
        const { record } = await tokens.create(alice, NEW);
        assert.equal(record.id.startsWith('-'), false, record.id);
      }
    });

    it('refuses a bad name or an expiry that is not in the future, with TypeError naming the argument', async (t) => {
      const { store, tokens, alice } = await setup(t);
      for (const name of ['', '   ', 'x'.repeat(101), 'line\nbreak', 'bell\u0007']) {
        await assert.rejects(tokens.create(alice, { ...NEW, name }), (err: Error) => err instanceof TypeError && err.message.startsWith('name: '), JSON.stringify(name));
      }
      for (const expiresAt of [T0, T0 - 1, Number.NaN, Number.POSITIVE_INFINITY, T0 + 0.5 * DAY + 0.5]) {
        await assert.rejects(tokens.create(alice, { ...NEW, expiresAt }), (err: Error) => err instanceof TypeError && err.message.startsWith('expiresAt'), String(expiresAt));
      }
      assert.deepEqual(await store.apiTokens.listAll(), [], 'nothing was stored');
    });
  });

  describe('verify', () => {
    it('accepts a valid token and returns its user and token', async (t) => {
      const { tokens, alice, otherInstance } = await setup(t);
      const { token, record } = await tokens.create(alice, NEW);
      const found = await tokens.verify(token);
      assert.deepEqual(found?.user, alice);
      assert.deepEqual(found?.token, { ...record, lastUsedAt: T0 });
      // Another instance, relying on the store alone, agrees.
      assert.equal((await otherInstance().verify(token))?.user.id, alice.id);
    });

    it('refuses a tampered secret, also from a warm cache, and keeps the right one working', async (t) => {
      const { tokens, alice, otherInstance } = await setup(t);
      const { token } = await tokens.create(alice, NEW);
      const { id, secret } = split(token);
      const flipped = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
      for (const manager of [otherInstance(), tokens]) {
        assert.equal(await manager.verify(`dgt_${id}.${otherLike(secret, 32)}`), null);
        assert.equal(await manager.verify(`dgt_${id}.${flipped}`), null);
        assert.notEqual(await manager.verify(token), null);
        assert.equal(await manager.verify(`dgt_${id}.${flipped}`), null, 'a cached token still checks the secret');
      }
    });

    it('refuses an unknown id and malformed values', async (t) => {
      const { tokens, alice } = await setup(t);
      const { token } = await tokens.create(alice, NEW);
      const { id, secret } = split(token);
      for (const value of [
        `dgt_${otherLike(id, 16)}.${secret}`,
        `${id}.${secret}`,
        `dgt_${id}${secret}`,
        `dgt_${id}.${secret}x`,
        `dgt_${id}.${secret.slice(1)}`,
        ` ${token}`,
        `${token}\n`,
        'dgt_',
        '',
        undefined,
        null,
      ]) {
        assert.equal(await tokens.verify(value), null, JSON.stringify(value));
      }
    });

    it('refuses a session token: API tokens and sessions are separate credentials', async (t) => {
      const { store, clock, tokens, alice } = await setup(t);
      const sessions = new SessionManager(store, { idleTimeoutMs: DAY, absoluteTimeoutMs: DAY, cacheTtlMs: 0, touchIntervalMs: 0 }, clock.now);
      const { token } = await sessions.createSession(alice, { ip: null, userAgent: null, authMethod: 'password' });
      assert.equal(await tokens.verify(token), null);
      assert.equal(await tokens.verify(`dgt_${token}`), null, 'the session id is not a token id');
    });

    it('works until its expiry and not from that millisecond on; a token without expiry keeps working', async (t) => {
      const { clock, tokens, alice } = await setup(t);
      const expiring = await tokens.create(alice, NEW);
      const forever = await tokens.create(alice, { ...NEW, expiresAt: null });
      clock.set(NEW.expiresAt - 1);
      assert.notEqual(await tokens.verify(expiring.token), null, 'one millisecond before expiry');
      clock.set(NEW.expiresAt);
      assert.equal(await tokens.verify(expiring.token), null, 'expired, even though memory held it a moment ago');
      clock.set(T0 + 10 * 365 * DAY);
      assert.equal(await tokens.verify(expiring.token), null);
      assert.notEqual(await tokens.verify(forever.token), null);
    });

    it('refuses a token whose user is disabled or pending once the cache TTL passes, or at once after forgetUser', async (t) => {
      const { store, clock, tokens, alice, bob } = await setup(t);
      const alices = await tokens.create(alice, NEW);
      const bobs = await tokens.create(bob, NEW);
      assert.notEqual(await tokens.verify(alices.token), null);
      await store.users.setStatus(alice.id, 'disabled');
      clock.set(T0 + SETTINGS.cacheTtlMs - 1);
      assert.notEqual(await tokens.verify(alices.token), null, 'by design: memory answers within the TTL');
      clock.set(T0 + SETTINGS.cacheTtlMs);
      assert.equal(await tokens.verify(alices.token), null);
      assert.notEqual(await tokens.verify(bobs.token), null, 'other users are untouched');

      await store.users.setStatus(alice.id, 'active');
      clock.advance(SETTINGS.cacheTtlMs);
      assert.notEqual(await tokens.verify(alices.token), null, 'enabled again: the token works again');
      await store.users.setStatus(alice.id, 'pending');
      tokens.forgetUser(alice.id);
      assert.equal(await tokens.verify(alices.token), null, 'no TTL grace after forgetUser');
      assert.notEqual(await tokens.verify(bobs.token), null);
    });

    // Regression: only the session cache guarded against a store read in flight while a user was
    // disabled. A token check that had read the user as active just before the console disabled
    // them cached that copy, and the disabled user's script kept working for cacheTtlMs.
    it('regression: a check in flight while the user is disabled does not bring the user back', async (t) => {
      const { store, clock, tokens, alice } = await setup(t);
      const { token } = await tokens.create(alice, NEW);
      assert.notEqual(await tokens.verify(token), null);
      clock.advance(SETTINGS.cacheTtlMs); // the next check reads the store again
      const findById = store.users.findById.bind(store.users);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let held = false;
      store.users.findById = async (id: string) => {
        const user = await findById(id);
        if (!held) {
          held = true;
          await gate; // the user row, read while still active, is held back
        }
        return user;
      };
      t.after(() => {
        store.users.findById = findById;
      });
      const inFlight = tokens.verify(token);
      while (!held) await new Promise((done) => setImmediate(done));
      await store.users.setStatus(alice.id, 'disabled');
      tokens.forgetUser(alice.id);
      release();
      assert.equal(await inFlight, null, 'the copy read before the disable is not trusted');
      assert.equal(await tokens.verify(token), null, 'nor cached');
    });

    it('refuses the token of a removed user', async (t) => {
      const { store, clock, tokens, alice } = await setup(t);
      const { token } = await tokens.create(alice, NEW);
      assert.notEqual(await tokens.verify(token), null);
      await store.users.remove(alice.id);
      clock.advance(SETTINGS.cacheTtlMs);
      assert.equal(await tokens.verify(token), null);
    });
  });

  describe('revoke', () => {
    it('ends a token at once on this instance, and on others within the cache TTL', async (t) => {
      const { store, clock, tokens, alice, otherInstance } = await setup(t);
      const doomed = await tokens.create(alice, NEW);
      const kept = await tokens.create(alice, NEW);
      const other = otherInstance();
      assert.notEqual(await tokens.verify(doomed.token), null);
      assert.notEqual(await other.verify(doomed.token), null);

      const revoked = await tokens.revoke(doomed.record.id);
      assert.equal(revoked?.id, doomed.record.id);
      assert.equal(revoked?.username, 'alice');
      assert.equal(await tokens.verify(doomed.token), null, 'no TTL grace on the instance that revoked it');
      assert.equal(await store.apiTokens.findById(doomed.record.id), null);
      assert.notEqual(await other.verify(doomed.token), null, 'by design: another instance answers from memory within the TTL');
      clock.advance(SETTINGS.cacheTtlMs);
      assert.equal(await other.verify(doomed.token), null);
      assert.notEqual(await tokens.verify(kept.token), null, 'other tokens are untouched');
      assert.equal(await tokens.revoke(doomed.record.id), null, 'revoking twice revokes nothing');
      assert.equal(await tokens.revoke('no-such-token'), null);
    });

    it('with userId, revokes only a token that user owns', async (t) => {
      const { tokens, alice, bob } = await setup(t);
      const alices = await tokens.create(alice, NEW);
      assert.equal(await tokens.revoke(alices.record.id, { userId: bob.id }), null);
      assert.notEqual(await tokens.verify(alices.token), null, "bob cannot revoke alice's token");
      assert.equal((await tokens.revoke(alices.record.id, { userId: alice.id }))?.id, alices.record.id);
      assert.equal(await tokens.verify(alices.token), null);
    });

    it('is not undone by a verification that was reading the store at the same moment', async (t) => {
      const { clock, tokens, alice } = await setup(t);
      const { token, record } = await tokens.create(alice, NEW);
      clock.advance(SETTINGS.cacheTtlMs); // nothing cached: the verification below reads the store
      const [, revoked] = await Promise.all([tokens.verify(token), tokens.revoke(record.id)]);
      assert.equal(revoked?.id, record.id);
      assert.equal(await tokens.verify(token), null, 'the row read before the delete was not cached');
    });
  });

  describe('cache', () => {
    it("answers a script's burst from memory: the store is asked once per cacheTtlMs", async (t) => {
      const { clock, tokens, alice, storeReads } = await setup(t);
      const { token } = await tokens.create(alice, NEW);
      const before = storeReads();
      for (let i = 0; i < 100; i++) {
        clock.set(T0 + i * 50); // 100 requests in 5 s, inside one TTL
        assert.notEqual(await tokens.verify(token), null);
      }
      assert.equal(storeReads() - before, 1);
      clock.set(T0 + 50 + SETTINGS.cacheTtlMs);
      assert.notEqual(await tokens.verify(token), null);
      assert.equal(storeReads() - before, 2, 'asked again once the TTL passed');
    });

    it('answers from memory until cacheTtlMs, then asks the store again (row deleted behind its back)', async (t) => {
      const { store, clock, tokens, alice } = await setup(t);
      const { token, record } = await tokens.create(alice, NEW);
      assert.notEqual(await tokens.verify(token), null);
      assert.equal(await store.apiTokens.delete(record.id), true);
      clock.set(T0 + SETTINGS.cacheTtlMs - 1);
      assert.notEqual(await tokens.verify(token), null, 'by design: still valid from memory within the TTL');
      clock.set(T0 + SETTINGS.cacheTtlMs);
      assert.equal(await tokens.verify(token), null, 'the store is consulted after the TTL');
      clock.advance(SECOND);
      assert.equal(await tokens.verify(token), null);
    });

    it('picks up changed groups after cacheTtlMs', async (t) => {
      const { store, clock, tokens, alice } = await setup(t);
      const { token } = await tokens.create(alice, NEW);
      assert.deepEqual((await tokens.verify(token))?.user.groups, ['analysts']);
      await store.users.setGroups(alice.id, ['finance']);
      clock.set(T0 + SETTINGS.cacheTtlMs - 1);
      assert.deepEqual((await tokens.verify(token))?.user.groups, ['analysts']);
      clock.set(T0 + SETTINGS.cacheTtlMs);
      assert.deepEqual((await tokens.verify(token))?.user.groups, ['finance']);
    });

    it('answers simultaneous verifications after the TTL consistently, with one store read', async (t) => {
      const { clock, tokens, alice, storeReads } = await setup(t);
      const { token, record } = await tokens.create(alice, NEW);
      clock.set(T0 + SETTINGS.cacheTtlMs);
      const before = storeReads();
      const results = await Promise.all(Array.from({ length: 8 }, () => tokens.verify(token)));
      for (const result of results) assert.equal(result?.token.id, record.id);
      assert.equal(storeReads() - before, 1);
    });
  });

  describe('last used', () => {
    it('writes last_used_at at most once per touchIntervalMs however often the token is used', async (t) => {
      const { store, clock, tokens, alice } = await setup(t);
      const { token, record } = await tokens.create(alice, NEW);
      const stored: Array<number | null> = [(await store.apiTokens.findById(record.id))!.lastUsedAt];
      for (let i = 1; i <= 150; i++) {
        clock.set(T0 + i * SECOND);
        assert.equal((await tokens.verify(token))?.token.lastUsedAt, clock.now(), 'memory always knows the latest use');
        const lastUsedAt = (await store.apiTokens.findById(record.id))!.lastUsedAt;
        if (stored.at(-1) !== lastUsedAt) stored.push(lastUsedAt);
      }
      assert.deepEqual(
        stored.map((at) => (at === null ? null : at - T0)),
        [null, 1 * SECOND, 61 * SECOND, 121 * SECOND],
        'written on the first use, then once a minute',
      );
    });

    it('hands a failed write to onError and still answers', async (t) => {
      const { store, tokens, alice, errors } = await setup(t, { expectErrors: true });
      const { token } = await tokens.create(alice, NEW);
      const failure = new Error('disk full');
      store.apiTokens.touch = () => Promise.reject(failure);
      assert.notEqual(await tokens.verify(token), null);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(errors, [failure]);
    });
  });

  describe('list', () => {
    it("lists one user's tokens or everyone's, with the latest use seen in memory, never a secret or hash", async (t) => {
      const { clock, tokens, alice, bob } = await setup(t);
      const a1 = await tokens.create(alice, { ...NEW, name: 'first' });
      clock.advance(MINUTE);
      const a2 = await tokens.create(alice, { ...NEW, name: 'second', expiresAt: null, createdBy: 'alice' });
      const b1 = await tokens.create(bob, NEW);
      clock.advance(SECOND);
      await tokens.verify(a1.token); // written: the first use
      clock.advance(SECOND);
      await tokens.verify(a1.token); // seen in memory only, inside the touch interval

      const mine = await tokens.list(alice.id);
      assert.deepEqual(
        mine.map((x) => [x.id, x.name, x.lastUsedAt]),
        [
          [a2.record.id, 'second', null],
          [a1.record.id, 'first', clock.now()],
        ],
      );
      assert.deepEqual(mine[0], a2.record);
      assert.deepEqual((await tokens.list()).map((x) => [x.username, x.id]), [
        ['alice', a2.record.id],
        ['alice', a1.record.id],
        ['bob', b1.record.id],
      ]);
      assert.deepEqual(await tokens.list('no-such-user'), []);
      for (const listed of await tokens.list()) assert.deepEqual(Object.keys(listed).sort(), ['createdAt', 'createdBy', 'expiresAt', 'id', 'lastUsedAt', 'name', 'userId', 'username']);
    });
  });
});
