import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { groupNameProblem } from '../store/groups.js';
import { addStoreOptions, requireUser, withStore, type CommonFlags } from './shared-options.js';

/** `dashgate groups …`: groups and memberships from the shell. Running gateways see changes within session.cache_ttl. */
export function registerGroupCommands(program: Command, out: (line: string) => void): void {
  const groups = program.command('groups').description('create groups and manage who is in them');
  const checkName = (name: string) => {
    const problem = groupNameProblem(name);
    if (problem) throw new UsageError(problem);
  };

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
    withStore(flags, async (store) => {
      checkName(name);
      if (!(await store.groups.create(name))) throw new UsageError(`group "${name}" already exists`);
      await store.audit.record({ action: 'group.created', actor: 'cli', target: name });
      out(`created group ${name}`);
    }),
  );

  addStoreOptions(groups.command('remove <name>').description('delete a group (its members stay, without it)')).action((name: string, flags: CommonFlags) =>
    withStore(flags, async (store) => {
      if (name === 'admins') throw new UsageError('the admins group cannot be removed');
      if (!(await store.groups.remove(name))) throw new UsageError(`no group "${name}"`);
      await store.audit.record({ action: 'group.removed', actor: 'cli', target: name });
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
      withStore(flags, async (store) => {
        checkName(group);
        for (const name of users) {
          const user = await requireUser(store, name);
          const changed = verb === 'grant' ? await store.groups.addMember(group, user.id) : await store.groups.removeMember(group, user.id);
          if (changed) await store.audit.record({ action: `group.${verb}`, actor: 'cli', target: user.username, detail: { group } });
          out(`${user.username}: ${changed ? (verb === 'grant' ? `added to ${group}` : `removed from ${group}`) : verb === 'grant' ? `already in ${group}` : `was not in ${group}`}`);
        }
      }),
    );
  }
}
