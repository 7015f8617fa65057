import type { Command } from 'commander';
import { CLI_ACTOR } from '../accounts/accounts.js';
import { addToGroup, createGroup, deleteGroup, removeFromGroup } from '../accounts/groups.js';
import { UsageError } from '../errors.js';
import { addStoreOptions, requireUser, withAccounts, withStore, type CommonFlags } from './shared-options.js';

/** `dashgate groups …`: groups and memberships from the shell. Running gateways see changes within session.cache_ttl. */
export function registerGroupCommands(program: Command, out: (line: string) => void): void {
  const groups = program.command('groups').description('create groups and manage who is in them (admins follows the administrator role: dashgate users grant-admin)');

  addStoreOptions(groups.command('list').description('list groups with their member counts'))
    .option('--json', 'print JSON')
    .action((flags: CommonFlags & { json?: boolean }) =>
      withStore(flags, async (store) => {
        const all = await store.groups.list();
        if (flags.json) return out(JSON.stringify(all.map((g) => ({ name: g.name, members: g.members })), null, 2));
        if (all.length === 0) return out('no groups yet');
        for (const g of all) out(`${g.name}  (${g.members} member${g.members === 1 ? '' : 's'})`);
      }),
    );

  addStoreOptions(groups.command('add <name>').description('create a group')).action((name: string, flags: CommonFlags) =>
    withAccounts(flags, async (accounts) => {
      await createGroup(accounts, CLI_ACTOR, name);
      out(`created group ${name}`);
    }),
  );

  addStoreOptions(groups.command('remove <name>').description('delete a group (its members stay, without it)')).action((name: string, flags: CommonFlags) =>
    withAccounts(flags, async (accounts) => {
      await deleteGroup(accounts, CLI_ACTOR, name);
      out(`removed group ${name}`);
    }),
  );

  addStoreOptions(groups.command('members <name>').description('list the members of a group'))
    .option('--json', 'print JSON')
    .action((name: string, flags: CommonFlags & { json?: boolean }) =>
      withStore(flags, async (store) => {
        const members = await store.groups.members(name);
        if (members === null) throw new UsageError(`no group "${name}"`);
        if (flags.json) return out(JSON.stringify(members));
        out(members.length ? members.join('\n') : `group ${name} has no members`);
      }),
    );

  for (const [verb, description] of [
    ['grant', 'add users to a group (created if missing)'],
    ['revoke', 'take users out of a group'],
  ] as const) {
    addStoreOptions(groups.command(`${verb} <group> <users...>`).description(description)).action((group: string, users: string[], flags: CommonFlags) =>
      withAccounts(flags, async (accounts) => {
        for (const name of users) {
          const user = await requireUser(accounts.store, name);
          const changed = verb === 'grant' ? await addToGroup(accounts, CLI_ACTOR, group, user) : await removeFromGroup(accounts, CLI_ACTOR, group, user);
          out(`${user.username}: ${changed ? (verb === 'grant' ? `added to ${group}` : `removed from ${group}`) : verb === 'grant' ? `already in ${group}` : `was not in ${group}`}`);
        }
      }),
    );
  }
}
