/**
 * Sign-ups, invitations, the setup link, the email check and the audit log's old names, through
 * accounts/ on a real SQLite store.
 */
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { describe, it } from 'node:test';
import { currentActionName, recordedNamesOf } from '../../src/accounts/audit-actions.js';
import { parseEmailAddress } from '../../src/accounts/email-address.js';
import { AccountError } from '../../src/accounts/errors.js';
import { acceptInvite, createFirstAdmin, inviteUser, issueSetupLink, revokeInvite } from '../../src/accounts/invitations.js';
import { approveSignUp, checkSignUp, confirmSignUpAddress, rejectSignUp, signUp } from '../../src/accounts/signups.js';
import { findSetupInvite } from '../../src/auth/setup-link.js';
import { openStore } from '../../src/store/store.js';
import { ADMIN, setupAccounts, STRONG } from '../helpers/accounts-fixture.js';

const refusedWith = (code: string) => (err: unknown) => err instanceof AccountError && err.code === code;

describe('sign-ups', () => {
  it('creates a pending account; an address in use is answered alike but audited as refused, a taken name is USERNAME_TAKEN', async (t) => {
    const { accounts, store } = await setupAccounts(t);
    const user = await signUp(accounts, { username: 'Nia', email: 'Nia@Example.com', password: STRONG, ip: '198.51.100.4' }, { mode: 'open' });
    assert.deepEqual([user?.username, user?.email, user?.status, user?.groups], ['nia', 'nia@example.com', 'pending', []]);
    assert.equal(await signUp(accounts, { username: 'other', email: 'nia@example.com', password: STRONG }), null);
    await assert.rejects(signUp(accounts, { username: 'nia', email: 'new@example.com', password: STRONG }), refusedWith('USERNAME_TAKEN'));
    assert.deepEqual((await store.audit.list()).map((e) => [e.action, e.actor, e.detail]).reverse(), [
      ['signup.created', 'nia', { mode: 'open', email: 'nia@example.com' }],
      ['signup.refused', 'other', { reason: 'email_in_use' }],
    ]);
  });

  it('checks the form before the throttle counts it: the name, the address and its domain, the password', async (t) => {
    const { accounts } = await setupAccounts(t);
    const good = { username: 'nia', email: 'nia@corp.example', password: STRONG };
    assert.deepEqual(await checkSignUp(accounts, good, ['corp.example']), { username: 'nia', email: 'nia@corp.example' });
    await assert.rejects(checkSignUp(accounts, { ...good, email: 'nia@elsewhere.example' }, ['corp.example']), refusedWith('EMAIL_DOMAIN_NOT_ALLOWED'));
    await assert.rejects(checkSignUp(accounts, { ...good, email: 'nia' }, null), refusedWith('EMAIL_INVALID'));
    await assert.rejects(checkSignUp(accounts, { ...good, username: '-x' }, null), refusedWith('USERNAME_INVALID'));
    await assert.rejects(checkSignUp(accounts, { ...good, password: 'nia@corp.example' }, null), refusedWith('PASSWORD_REJECTED'));
  });

  it('a confirmed address activates the account unless an administrator approves; approved or rejected once only', async (t) => {
    const { accounts, store } = await setupAccounts(t);
    const auto = (await signUp(accounts, { username: 'auto', email: 'auto@example.com', password: STRONG }))!;
    assert.equal(await confirmSignUpAddress(accounts, auto, { needsApproval: false }), true);
    assert.equal((await store.users.findById(auto.id))!.status, 'active');
    const waits = (await signUp(accounts, { username: 'waits', email: 'waits@example.com', password: STRONG }))!;
    assert.equal(await confirmSignUpAddress(accounts, waits, { needsApproval: true }), false);
    await approveSignUp(accounts, ADMIN, waits);
    await assert.rejects(approveSignUp(accounts, ADMIN, (await store.users.findById(waits.id))!), refusedWith('SIGNUP_DECIDED'));
    const no = (await signUp(accounts, { username: 'no', email: 'no@example.com', password: STRONG }))!;
    await rejectSignUp(accounts, ADMIN, no);
    assert.equal(await store.users.findById(no.id), null);
    assert.deepEqual((await store.audit.list({ action: 'signup.approved' })).map((e) => e.actor), ['root', 'auto']);
  });
});

describe('invitations and the setup link', () => {
  it('an invitation works once; a refused form (weak password, taken name) leaves it usable', async (t) => {
    const { accounts, store } = await setupAccounts(t);
    const { invite } = await inviteUser(accounts, ADMIN, { email: 'ivy@example.com', groups: ['finance'], isAdmin: false, ttlMs: 60_000 });
    await assert.rejects(acceptInvite(accounts, invite, { username: 'ivy', password: 'short' }), refusedWith('PASSWORD_REJECTED'));
    await assert.rejects(acceptInvite(accounts, invite, { username: 'bob', password: STRONG }), refusedWith('USERNAME_TAKEN'));
    const user = await acceptInvite(accounts, invite, { username: 'ivy', password: STRONG });
    assert.deepEqual([user.email, user.groups], ['ivy@example.com', ['finance']]);
    await assert.rejects(acceptInvite(accounts, invite, { username: 'ivy2', password: STRONG }), refusedWith('EMAIL_TAKEN'));
    const open = await inviteUser(accounts, ADMIN, { email: null, groups: [], isAdmin: false, ttlMs: 60_000 });
    await acceptInvite(accounts, open.invite, { username: 'first', password: STRONG });
    await assert.rejects(acceptInvite(accounts, open.invite, { username: 'second', password: STRONG }), refusedWith('LINK_UNUSABLE'));
    assert.equal(await store.users.findByUsername('second'), null);
  });

  it('refuses an invitation for a bad or taken address, and revokes an open one once', async (t) => {
    const { accounts } = await setupAccounts(t);
    await assert.rejects(inviteUser(accounts, ADMIN, { email: 'not an email', groups: [], isAdmin: false, ttlMs: 1 }), refusedWith('EMAIL_INVALID'));
    await inviteUser(accounts, ADMIN, { email: 'x@example.com', groups: [], isAdmin: false, ttlMs: 60_000 }).then(({ invite }) => acceptInvite(accounts, invite, { username: 'x', password: STRONG }));
    await assert.rejects(inviteUser(accounts, ADMIN, { email: 'X@example.com', groups: [], isAdmin: false, ttlMs: 60_000 }), refusedWith('EMAIL_TAKEN'));
    const { invite } = await inviteUser(accounts, ADMIN, { email: null, groups: [], isAdmin: false, ttlMs: 60_000 });
    await revokeInvite(accounts, ADMIN, invite.id);
    await assert.rejects(revokeInvite(accounts, ADMIN, invite.id), refusedWith('INVITE_NOT_FOUND'));
  });

  it('the setup link makes an administrator in admins; an invitation link is not a setup link', async (t) => {
    const { accounts, store, clock } = await setupAccounts(t);
    const token = await issueSetupLink(accounts);
    const setup = (await findSetupInvite(store, token, clock.now))!;
    const { invite } = await inviteUser(accounts, ADMIN, { email: null, groups: [], isAdmin: false, ttlMs: 60_000 });
    await assert.rejects(createFirstAdmin(accounts, invite, { username: 'sneaky', email: null, password: STRONG }), refusedWith('LINK_UNUSABLE'));
    const admin = await createFirstAdmin(accounts, setup, { username: 'owner', email: 'owner@example.com', password: STRONG });
    assert.deepEqual([admin.isAdmin, admin.groups], [true, ['admins']]);
    assert.deepEqual((await store.audit.list({ action: 'setup.admin_created' })).map((e) => e.actor), ['owner']);
  });
});

describe('one email check', () => {
  it('accepts addresses with a dotted domain, lower-cases the domain, and refuses the rest', () => {
    assert.deepEqual(parseEmailAddress('  Ann@Example.COM '), { address: 'Ann@Example.COM', domain: 'example.com' });
    for (const bad of ['', 'ann', 'ann@', '@example.com', 'a@b', 'a b@example.com', 'a@exa mple.com', '"a"@example.com', 'a<b@example.com', `${'a'.repeat(250)}@example.com`]) {
      assert.equal(parseEmailAddress(bad), null, bad);
    }
  });
});

describe('the audit log’s old names', () => {
  it('regression: entries older versions recorded as user.removed and password.change are found and shown as user.deleted and password.changed', async (t) => {
    const { store } = await setupAccounts(t);
    for (const action of ['user.removed', 'password.change']) await sql`insert into audit_log (at, actor, action) values (1, 'cli', ${action})`.execute(store.db);
    await store.audit.record({ action: 'user.deleted', actor: 'root' });
    const deleted = await store.audit.list({ action: recordedNamesOf('user.deleted') });
    assert.deepEqual(deleted.map((e) => currentActionName(e.action)), ['user.deleted', 'user.deleted']);
    assert.deepEqual((await store.audit.list({ action: recordedNamesOf('password.changed') })).map((e) => e.action), ['password.change']);
    assert.equal(currentActionName('login.success'), 'login.success');
  });
});

describe('migration 0008', () => {
  it('regression: takes the admins group from users who got it without the role (dashgate groups grant admins, console invitations)', async (t) => {
    const { store, root, bob } = await setupAccounts(t);
    await store.groups.addMember('admins', bob.id);
    await sql`delete from kysely_migration where name = '0008_admins_follow_role'`.execute(store.db);
    const dataDir = (await sql<{ file: string }>`select file from pragma_database_list where name = 'main'`.execute(store.db)).rows[0]!.file.replace(/\/dashgate\.db$/, '');
    const reopened = await openStore({ dataDir });
    t.after(() => reopened.close());
    assert.deepEqual((await reopened.users.findById(bob.id))!.groups, ['analysts']);
    assert.deepEqual((await reopened.users.findById(root.id))!.groups, ['admins']);
  });
});
