/**
 * accounts/users.ts and passwords.ts on a real SQLite store: the last active administrator,
 * sessions and cached credentials ending when an account is disabled, deleted or its password
 * changes, and one audit name per event whoever caused it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLI_ACTOR } from '../../src/accounts/accounts.js';
import { AccountError } from '../../src/accounts/errors.js';
import { createPasswordResetLink, setPassword } from '../../src/accounts/passwords.js';
import { linkProviderAccountByAdmin, unlinkProviderAccount } from '../../src/accounts/sso-links.js';
import { checkNewEmail, createUser, deleteUser, resetSecondFactors, setAdministrator, setUserStatus, updateProfile } from '../../src/accounts/users.js';
import { verifyPassword } from '../../src/auth/passwords.js';
import { ADMIN, META, setupAccounts, STRONG } from '../helpers/accounts-fixture.js';

const refusedWith = (code: string) => (err: unknown) => err instanceof AccountError && err.code === code;

describe('the last active administrator', () => {
  it('regression: cannot be disabled, demoted or deleted, from the console or the shell (nobody could administer the gateway)', async (t) => {
    const { accounts, shell, store, root } = await setupAccounts(t);
    for (const via of [accounts, shell]) {
      await assert.rejects(setUserStatus(via, ADMIN, root, 'disabled'), refusedWith('LAST_ACTIVE_ADMIN'));
      await assert.rejects(setAdministrator(via, ADMIN, root, false), refusedWith('LAST_ACTIVE_ADMIN'));
      await assert.rejects(deleteUser(via, ADMIN, root), refusedWith('LAST_ACTIVE_ADMIN'));
    }
    const still = await store.users.findById(root.id);
    assert.deepEqual([still!.status, still!.isAdmin], ['active', true]);
    assert.deepEqual(await store.audit.list(), [], 'nothing was audited');
  });

  it('a disabled second administrator does not count; an active one does', async (t) => {
    const { accounts, store, root, bob } = await setupAccounts(t);
    await setAdministrator(accounts, ADMIN, bob, true);
    await setUserStatus(accounts, ADMIN, (await store.users.findById(bob.id))!, 'disabled');
    await assert.rejects(setUserStatus(accounts, ADMIN, root, 'disabled'), refusedWith('LAST_ACTIVE_ADMIN'));
    await setUserStatus(accounts, ADMIN, (await store.users.findById(bob.id))!, 'active');
    await setAdministrator(accounts, ADMIN, root, false);
    assert.equal((await store.users.findById(root.id))!.isAdmin, false);
  });
});

describe('ending sessions and cached credentials', () => {
  it('regression: disabling a user ends their sessions and API tokens at once, despite the hour-long cache', async (t) => {
    const { accounts, sessions, tokens, bob } = await setupAccounts(t);
    const { token } = await sessions.createSession(bob, META);
    const api = await tokens.create(bob, { name: 'script', expiresAt: null, createdBy: 'bob' });
    assert.ok(await sessions.validateSessionToken(token));
    assert.ok(await tokens.verify(api.token), 'both cached now');
    assert.equal(await setUserStatus(accounts, ADMIN, bob, 'disabled'), 1);
    assert.equal(await sessions.validateSessionToken(token), null);
    assert.equal(await tokens.verify(api.token), null);
  });

  it('regression: deleting a user ends their sessions in memory, not only their rows', async (t) => {
    const { accounts, sessions, store, bob } = await setupAccounts(t);
    const { token } = await sessions.createSession(bob, META);
    assert.ok(await sessions.validateSessionToken(token));
    await deleteUser(accounts, ADMIN, bob);
    assert.equal(await sessions.validateSessionToken(token), null);
    assert.equal(await store.users.findById(bob.id), null);
  });

  it('a password change ends every other session and keeps the one it came from; the shell ends them in the store', async (t) => {
    const { accounts, shell, sessions, store, bob } = await setupAccounts(t);
    const here = await sessions.createSession(bob, META);
    const there = await sessions.createSession(bob, META);
    assert.equal(await setPassword(accounts, { name: 'bob' }, bob, STRONG, { keepSessionId: here.session.id }), 1);
    assert.ok(await sessions.validateSessionToken(here.token));
    assert.equal(await sessions.validateSessionToken(there.token), null);
    assert.ok(await verifyPassword((await store.users.findByUsername('bob'))!.passwordHash!, STRONG));
    assert.equal(await setPassword(shell, CLI_ACTOR, bob, `${STRONG} again`), 1, 'the shell ends the remaining one');
    assert.deepEqual(await store.sessions.listForUser(bob.id), []);
  });

  it('refuses a password the policy refuses (PASSWORD_REJECTED), changing nothing', async (t) => {
    const { accounts, sessions, store, bob } = await setupAccounts(t);
    const { token } = await sessions.createSession(bob, META);
    for (const weak of ['short', 'password', 'bob', 'Sales app']) await assert.rejects(setPassword(accounts, ADMIN, bob, weak), refusedWith('PASSWORD_REJECTED'), weak);
    assert.ok(await sessions.validateSessionToken(token));
    assert.equal((await store.users.findByUsername('bob'))!.passwordHash, null);
  });

  it('a reset link is spent only after the new password is accepted, and a spent one changes nothing (LINK_UNUSABLE)', async (t) => {
    const { accounts, store, bob } = await setupAccounts(t);
    let spent = 0;
    await assert.rejects(setPassword(accounts, { name: 'bob' }, bob, 'short', { via: 'reset_link', beforeWrite: async () => ++spent > 0 }), refusedWith('PASSWORD_REJECTED'));
    assert.equal(spent, 0);
    await assert.rejects(setPassword(accounts, { name: 'bob' }, bob, STRONG, { via: 'reset_link', beforeWrite: async () => false }), refusedWith('LINK_UNUSABLE'));
    assert.equal((await store.users.findByUsername('bob'))!.passwordHash, null);
    await setPassword(accounts, { name: 'bob' }, bob, STRONG, { via: 'reset_link', beforeWrite: async () => true });
    assert.deepEqual((await store.audit.list()).map((e) => e.action), ['password.reset']);
  });

  it('a reset link is made only for an active account (USER_INACTIVE)', async (t) => {
    const { accounts, store, bob } = await setupAccounts(t);
    await setUserStatus(accounts, ADMIN, bob, 'disabled');
    await assert.rejects(createPasswordResetLink(accounts, ADMIN, (await store.users.findById(bob.id))!), refusedWith('USER_INACTIVE'));
    const { token } = await createPasswordResetLink(accounts, ADMIN, bob);
    assert.match(token, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
  });
});

describe('one audit name per event', () => {
  it('regression: deleting a user is user.deleted from the console and the shell alike (the shell wrote user.removed)', async (t) => {
    const { accounts, shell, store } = await setupAccounts(t);
    await deleteUser(accounts, ADMIN, await createUser(accounts, ADMIN, { username: 'one' }));
    await deleteUser(shell, CLI_ACTOR, await createUser(shell, CLI_ACTOR, { username: 'two' }));
    assert.deepEqual((await store.audit.list({ action: 'user.' })).map((e) => [e.action, e.actor, e.target]), [
      ['user.deleted', 'cli', 'two'],
      ['user.created', 'cli', 'two'],
      ['user.deleted', 'root', 'one'],
      ['user.created', 'root', 'one'],
    ]);
  });

  it('regression: a password change is password.changed from the account page and the shell alike (the page wrote password.change)', async (t) => {
    const { accounts, shell, store, bob } = await setupAccounts(t);
    await setPassword(accounts, { name: 'bob', ip: '198.51.100.1' }, bob, STRONG);
    await setPassword(shell, CLI_ACTOR, bob, `${STRONG} two`);
    assert.deepEqual((await store.audit.list()).map((e) => [e.action, e.actor, e.ip]), [
      ['password.changed', 'cli', null],
      ['password.changed', 'bob', '198.51.100.1'],
    ]);
  });

  it('records the actor and address of every change, and nothing for a change that did not happen', async (t) => {
    const { accounts, store, bob } = await setupAccounts(t);
    await setUserStatus(accounts, ADMIN, bob, 'disabled');
    await setUserStatus(accounts, ADMIN, bob, 'active');
    await setAdministrator(accounts, ADMIN, bob, true);
    await resetSecondFactors(accounts, ADMIN, bob);
    await updateProfile(accounts, bob, { displayName: bob.displayName, email: bob.email });
    assert.deepEqual((await store.audit.list()).map((e) => [e.action, e.actor, e.ip, e.target]).reverse(), [
      ['user.disabled', 'root', '203.0.113.9', 'bob'],
      ['user.enabled', 'root', '203.0.113.9', 'bob'],
      ['user.admin_granted', 'root', '203.0.113.9', 'bob'],
      ['mfa.reset', 'root', '203.0.113.9', 'bob'],
    ]);
  });
});

describe('names, addresses and links', () => {
  it('refuses a taken name in any spelling, a bad name, a bad or taken address, each with its code', async (t) => {
    const { accounts } = await setupAccounts(t);
    await createUser(accounts, ADMIN, { username: 'Carol', email: 'carol@example.com' });
    await assert.rejects(createUser(accounts, ADMIN, { username: 'ＣＡＲＯＬ' }), refusedWith('USERNAME_TAKEN'));
    await assert.rejects(createUser(accounts, ADMIN, { username: 'b c' }), refusedWith('USERNAME_INVALID'));
    await assert.rejects(createUser(accounts, ADMIN, { username: 'dan', email: 'CAROL@example.com' }), refusedWith('EMAIL_TAKEN'));
    for (const bad of ['not-an-email', 'a@b', 'two words@example.com', 'x<y@example.com']) await assert.rejects(checkNewEmail(accounts, bad), refusedWith('EMAIL_INVALID'), bad);
    assert.equal(await checkNewEmail(accounts, '  '), null, 'no address is allowed');
  });

  it('a provider never takes an address another account has', async (t) => {
    const { accounts, store, bob } = await setupAccounts(t);
    await createUser(accounts, ADMIN, { username: 'carol', email: 'carol@example.com' });
    await updateProfile(accounts, bob, { displayName: 'Bob', email: 'carol@example.com' });
    assert.deepEqual(await store.users.findById(bob.id).then((u) => [u!.displayName, u!.email]), ['Bob', null]);
  });

  it('links a provider account once (SSO_LINK_EXISTS for a second user) and unlinks it (SSO_LINK_NOT_FOUND after)', async (t) => {
    const { accounts, bob, root, actions } = await setupAccounts(t);
    const link = { provider: 'corp', subject: 's-1', email: null };
    await linkProviderAccountByAdmin(accounts, ADMIN, bob, link);
    await assert.rejects(linkProviderAccountByAdmin(accounts, ADMIN, root, link), refusedWith('SSO_LINK_EXISTS'));
    await unlinkProviderAccount(accounts, ADMIN, bob, 'corp');
    await assert.rejects(unlinkProviderAccount(accounts, ADMIN, bob, 'corp'), refusedWith('SSO_LINK_NOT_FOUND'));
    assert.deepEqual(await actions(), ['sso.linked', 'sso.unlinked']);
  });
});
