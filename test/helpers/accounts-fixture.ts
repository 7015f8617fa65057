import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createAccounts, type Accounts, type Actor } from '../../src/accounts/accounts.js';
import { ApiTokenManager } from '../../src/auth/api-tokens.js';
import { SessionManager } from '../../src/auth/sessions.js';
import { openStore, type Store } from '../../src/store/store.js';
import type { User } from '../../src/store/types.js';
import { testClock } from './clock.js';

export const T0 = Date.UTC(2026, 2, 1, 9, 0, 0);
export const STRONG = 'a passphrase nobody guesses';
export const ADMIN: Actor = Object.freeze({ name: 'root', ip: '203.0.113.9' });

export interface AccountsFixture {
  store: Store;
  clock: ReturnType<typeof testClock>;
  /** As the gateway builds it: a real SessionManager and ApiTokenManager with an hour-long cache. */
  accounts: Accounts;
  sessions: SessionManager;
  tokens: ApiTokenManager;
  /** As the shell builds it: no session manager, sessions end in the store. */
  shell: Accounts;
  root: User;
  bob: User;
  /** The audit actions recorded so far, oldest first. */
  actions(): Promise<string[]>;
}

/** A real SQLite store in a temporary directory, with root (the only administrator) and bob. */
export async function setupAccounts(t: TestContext): Promise<AccountsFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-accounts-'));
  const clock = testClock(T0);
  const store = await openStore({ dataDir, now: clock.now });
  t.after(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const cache = { cacheTtlMs: 3_600_000, touchIntervalMs: 60_000 };
  const sessions = new SessionManager(store, { ...cache, idleTimeoutMs: 3_600_000, absoluteTimeoutMs: 8 * 3_600_000 }, clock.now);
  const tokens = new ApiTokenManager(store, cache, clock.now);
  const base = { store, now: clock.now, passwordPolicy: { minLength: 8, maxLength: 64 }, appName: 'Sales app' };
  const accounts = createAccounts({ ...base, sessions, caches: [sessions, tokens] });
  return {
    store,
    clock,
    accounts,
    sessions,
    tokens,
    shell: createAccounts(base),
    root: await store.users.create({ username: 'root', isAdmin: true, groups: ['admins'] }),
    bob: await store.users.create({ username: 'bob', groups: ['analysts'] }),
    actions: async () => (await store.audit.list({ limit: 1000 })).map((e) => e.action).reverse(),
  };
}

export const META = { ip: '203.0.113.7', userAgent: 'test', authMethod: 'password' };
