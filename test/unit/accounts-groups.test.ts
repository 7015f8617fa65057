/**
 * accounts/groups.ts and the administrator role: "admins" follows the role, whichever way a
 * change comes in (the shell, the console, an invitation, a provider). A real SQLite store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccountError } from '../../src/accounts/errors.js';
import { acceptInvite, inviteUser } from '../../src/accounts/invitations.js';
import { addToGroup, applyProviderGroups, createGroup, deleteGroup, removeFromGroup, renameGroup, setUserGroups } from '../../src/accounts/groups.js';
import { createUser, importUsers, setAdministrator } from '../../src/accounts/users.js';
import { createInvite } from '../../src/auth/links.js';
import { ADMIN, setupAccounts, STRONG } from '../helpers/accounts-fixture.js';

const refusedWith = (code: string) => (err: unknown) => err instanceof AccountError && err.code === code;

describe('the admins group follows the administrator role', () => {
  describe('from the shell', () => {
    it('regression: `dashgate groups grant admins bob` does not put a non-administrator in admins (the app received X-Forwarded-Groups: admins for him)', async (t) => {
      const { shell, store, bob } = await setupAccounts(t);
      await assert.rejects(addToGroup(shell, ADMIN, 'admins', bob), refusedWith('ADMINS_GROUP_FOLLOWS_ROLE'));
      assert.deepEqual((await store.users.findById(bob.id))!.groups, ['analysts']);
      assert.equal((await store.audit.list({ action: 'group.grant' })).length, 0);
    });

    it('regression: `dashgate groups revoke admins root` does not leave an administrator outside admins', async (t) => {
      const { shell, store, root } = await setupAccounts(t);
      await assert.rejects(removeFromGroup(shell, ADMIN, 'admins', root), refusedWith('ADMINS_GROUP_FOLLOWS_ROLE'));
      assert.deepEqual((await store.users.findById(root.id))!.groups, ['admins']);
    });

    it('regression: `dashgate users add carol --groups admins` without --admin does not create a non-administrator in admins', async (t) => {
      const { shell, store } = await setupAccounts(t);
      await assert.rejects(createUser(shell, ADMIN, { username: 'carol', groups: ['admins'] }), refusedWith('ADMINS_GROUP_FOLLOWS_ROLE'));
      assert.equal(await store.users.findByUsername('carol'), null);
      const admin = await createUser(shell, ADMIN, { username: 'dora', isAdmin: true, groups: ['ops'] });
      assert.deepEqual(admin.groups, ['admins', 'ops'], '--admin gives the role and the group');
    });

    it('regression: `dashgate users import --groups admins` does not import non-administrators into admins', async (t) => {
      const { shell, store } = await setupAccounts(t);
      await assert.rejects(importUsers(shell, ADMIN, [{ username: 'eve', passwordHash: '$2y$10$' + 'a'.repeat(53) }], ['admins']), refusedWith('ADMINS_GROUP_FOLLOWS_ROLE'));
      assert.equal(await store.users.findByUsername('eve'), null);
    });

    it('`users grant-admin` and `revoke-admin` change the role, and the group follows', async (t) => {
      const { shell, store, bob } = await setupAccounts(t);
      await setAdministrator(shell, ADMIN, bob, true);
      assert.deepEqual(await store.users.findById(bob.id).then((u) => [u!.isAdmin, u!.groups]), [true, ['admins', 'analysts']]);
      await setAdministrator(shell, ADMIN, (await store.users.findById(bob.id))!, false);
      assert.deepEqual(await store.users.findById(bob.id).then((u) => [u!.isAdmin, u!.groups]), [false, ['analysts']]);
    });
  });

  describe('from the console', () => {
    it('regression: the group field of a user page does not give admins to a non-administrator', async (t) => {
      const { accounts, store, bob } = await setupAccounts(t);
      await assert.rejects(setUserGroups(accounts, ADMIN, bob, ['analysts', 'admins']), refusedWith('ADMINS_GROUP_FOLLOWS_ROLE'));
      assert.deepEqual((await store.users.findById(bob.id))!.groups, ['analysts']);
    });

    it('regression: leaving admins out of an administrator’s group field does not take it away (the role decides)', async (t) => {
      const { accounts, store, root } = await setupAccounts(t);
      assert.deepEqual(await setUserGroups(accounts, ADMIN, root, ['ops']), ['admins', 'ops']);
      assert.deepEqual((await store.users.findById(root.id))!.groups, ['admins', 'ops']);
    });

    it('regression: a group cannot be renamed to admins, nor admins renamed or deleted (members would gain or lose it without the role)', async (t) => {
      const { accounts, store, bob } = await setupAccounts(t);
      await assert.rejects(renameGroup(accounts, ADMIN, 'analysts', 'admins'), refusedWith('ADMINS_GROUP_FOLLOWS_ROLE'));
      await assert.rejects(renameGroup(accounts, ADMIN, 'admins', 'staff'), refusedWith('GROUP_PROTECTED'));
      await assert.rejects(deleteGroup(accounts, ADMIN, 'admins'), refusedWith('GROUP_PROTECTED'));
      assert.deepEqual((await store.users.findById(bob.id))!.groups, ['analysts']);
    });

    it('creates, renames and deletes other groups, refusing bad names and duplicates with their codes', async (t) => {
      const { accounts, store, bob, actions } = await setupAccounts(t);
      await createGroup(accounts, ADMIN, 'hr');
      await assert.rejects(createGroup(accounts, ADMIN, 'hr'), refusedWith('GROUP_EXISTS'));
      await assert.rejects(createGroup(accounts, ADMIN, 'not ok'), refusedWith('GROUP_NAME_INVALID'));
      assert.equal(await addToGroup(accounts, ADMIN, 'hr', bob), true);
      assert.equal(await addToGroup(accounts, ADMIN, 'hr', bob), false, 'already a member: nothing changes, nothing is audited');
      await renameGroup(accounts, ADMIN, 'hr', 'people');
      assert.deepEqual((await store.users.findById(bob.id))!.groups, ['analysts', 'people']);
      await deleteGroup(accounts, ADMIN, 'people');
      await assert.rejects(deleteGroup(accounts, ADMIN, 'people'), refusedWith('GROUP_NOT_FOUND'));
      assert.deepEqual(await actions(), ['group.created', 'group.grant', 'group.renamed', 'group.removed']);
    });
  });

  describe('from invitations', () => {
    it('regression: an invitation that is not an administrator’s cannot carry the admins group (the console kept it and the invitation page created the user with it)', async (t) => {
      const { accounts, store } = await setupAccounts(t);
      await assert.rejects(inviteUser(accounts, ADMIN, { email: null, groups: ['admins', 'finance'], isAdmin: false, ttlMs: 60_000 }), refusedWith('ADMINS_GROUP_FOLLOWS_ROLE'));
      assert.deepEqual(await store.invites.listOpen(Date.now()), []);
    });

    it('regression: an invitation stored with admins but without the role (by an older version) creates the user without admins', async (t) => {
      const { accounts, store, clock } = await setupAccounts(t);
      const { invite } = await createInvite(store, clock.now, { email: null, groups: ['admins', 'finance'], isAdmin: false, createdBy: 'root', ttlMs: 60_000 });
      const user = await acceptInvite(accounts, invite, { username: 'ivy', password: STRONG });
      assert.deepEqual([user.isAdmin, user.groups], [false, ['finance']]);
      const [used] = await store.audit.list({ action: 'invite.used' });
      assert.deepEqual(used!.detail, { invite: invite.id, invited_by: 'root', groups: ['finance'], admin: false });
    });

    it('an administrator’s invitation gives the role, and with it the group', async (t) => {
      const { accounts, store } = await setupAccounts(t);
      const { invite } = await inviteUser(accounts, ADMIN, { email: 'ada@example.com', groups: ['finance'], isAdmin: true, ttlMs: 60_000 });
      assert.deepEqual(invite.groups, ['finance'], 'stored without admins: the role decides it when used');
      const user = await acceptInvite(accounts, (await store.invites.findById(invite.id))!, { username: 'ada', password: STRONG });
      assert.deepEqual([user.isAdmin, user.groups, user.email], [true, ['admins', 'finance'], 'ada@example.com']);
    });
  });

  describe('from a provider', () => {
    it('regression: provider groups neither give admins to a user nor take it from an administrator', async (t) => {
      const { accounts, store, bob, root } = await setupAccounts(t);
      await applyProviderGroups(accounts, bob, ['admins', 'sales']);
      assert.deepEqual((await store.users.findById(bob.id))!.groups, ['sales']);
      await applyProviderGroups(accounts, root, ['sales']);
      assert.deepEqual((await store.users.findById(root.id))!.groups, ['admins', 'sales']);
    });
  });
});
