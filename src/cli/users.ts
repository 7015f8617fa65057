import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CLI_ACTOR } from '../accounts/accounts.js';
import { checkGroupNames, checkGroupsForRole } from '../accounts/groups.js';
import { setPassword } from '../accounts/passwords.js';
import { linkProviderAccountByAdmin, unlinkProviderAccount } from '../accounts/sso-links.js';
import { checkNewEmail, checkNewUsername, createUser, deleteUser, importUsers, setAdministrator, setUserStatus } from '../accounts/users.js';
import { hashPassword } from '../auth/passwords.js';
import { passwordProblem } from '../auth/password-policy.js';
import { canonicalUsername, usernameProblem } from '../auth/usernames.js';
import type { Config } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { readNewPassword } from './prompt.js';
import { addStoreOptions, requireUser, withAccounts, withStore, type CommonFlags } from './shared-options.js';

type Out = (line: string) => void;

/** `dashgate users …`: manage accounts from the shell. */
export function registerUserCommands(program: Command, out: Out): void {
  const users = program.command('users').description('add, list and manage user accounts');

  addStoreOptions(users.command('add <name>').description('create a user (asks for the password)'))
    .option('--email <email>', 'email address')
    .option('--name <display name>', 'name shown in the app')
    .option('--groups <a,b>', 'comma-separated groups')
    .option('--admin', 'make the user an administrator (and so a member of admins)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--no-password', 'no password: a service account that signs in only with API tokens (dashgate tokens create)')
    .action((name: string, flags: CommonFlags & { email?: string; name?: string; groups?: string; admin?: boolean; passwordStdin?: boolean; password?: boolean }) =>
      withAccounts(flags, async (accounts) => {
        if (flags.password === false && flags.passwordStdin) throw new UsageError('--no-password and --password-stdin contradict each other');
        const groups = parseGroups(flags.groups);
        // Everything that can be checked is checked before asking for a password.
        checkGroupsForRole(groups, flags.admin === true);
        await checkNewUsername(accounts, name);
        await checkNewEmail(accounts, flags.email);
        const password = flags.password === false ? null : await readNewPassword(flags.passwordStdin === true);
        const user = await createUser(accounts, CLI_ACTOR, { username: name, email: flags.email ?? null, displayName: flags.name ?? null, password, isAdmin: flags.admin === true, groups });
        out(`created user ${user.username}${user.groups.length ? ` (groups: ${user.groups.join(', ')})` : ''}${password === null ? ', without a password (API tokens only)' : ''}`);
      }),
    );

  for (const [verb, isAdmin, description] of [
    ['grant-admin', true, 'make a user an administrator (the admins group follows the role)'],
    ['revoke-admin', false, 'take the administrator role (and the admins group) from a user'],
  ] as const) {
    addStoreOptions(users.command(`${verb} <name>`).description(description)).action((name: string, flags: CommonFlags) =>
      withAccounts(flags, async (accounts) => {
        const user = await requireUser(accounts.store, name);
        if (user.isAdmin === isAdmin) return out(`${user.username} ${isAdmin ? 'is an administrator already' : 'is not an administrator'}`);
        await setAdministrator(accounts, CLI_ACTOR, user, isAdmin);
        out(`${user.username} ${isAdmin ? 'is now an administrator' : 'is no longer an administrator'}`);
      }),
    );
  }

  addStoreOptions(users.command('list').description('list users'))
    .option('--json', 'print JSON')
    .action((flags: CommonFlags & { json?: boolean }) =>
      withStore(flags, async (store) => {
        const all = await store.users.list();
        if (flags.json) {
          out(JSON.stringify(all.map((u) => ({ username: u.username, email: u.email, name: u.displayName, groups: u.groups, admin: u.isAdmin, status: u.status, created_at: new Date(u.createdAt).toISOString() })), null, 2));
          return;
        }
        if (all.length === 0) return out('no users yet');
        const rows = all.map((u) => [u.username, u.status, u.isAdmin ? 'admin' : '', u.groups.join(','), u.email ?? '']);
        const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['USERNAME', 'STATUS', 'ROLE', 'GROUPS'][i]!.length));
        const line = (r: string[]) => r.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]!) : cell)).join('  ').trimEnd();
        out(line(['USERNAME', 'STATUS', 'ROLE', 'GROUPS', 'EMAIL']));
        for (const row of rows) out(line(row));
      }),
    );

  addStoreOptions(users.command('set-password <name>').description("set a user's password and end their sessions"))
    .option('--password-stdin', 'read the password from standard input')
    .action((name: string, flags: CommonFlags & { passwordStdin?: boolean }) =>
      withAccounts(flags, async (accounts) => {
        const user = await requireUser(accounts.store, name);
        const ended = await setPassword(accounts, CLI_ACTOR, user, await readNewPassword(flags.passwordStdin === true));
        out(`password of ${user.username} changed; ${ended} session(s) ended`);
      }),
    );

  for (const [verb, status, description] of [
    ['disable', 'disabled', 'stop a user from signing in and end their sessions'],
    ['enable', 'active', 'let a disabled user sign in again'],
  ] as const) {
    addStoreOptions(users.command(`${verb} <name>`).description(description)).action((name: string, flags: CommonFlags) =>
      withAccounts(flags, async (accounts) => {
        const user = await requireUser(accounts.store, name);
        const ended = await setUserStatus(accounts, CLI_ACTOR, user, status);
        out(`${user.username} ${verb}d${ended ? `; ${ended} session(s) ended` : ''}`);
      }),
    );
  }

  addStoreOptions(users.command('link <name>').description("link a single sign-on account (provider and subject, as the refused sign-in's audit entry shows them) to this user"))
    .requiredOption('--provider <id>', 'the provider id from sso.providers')
    .requiredOption('--subject <sub>', "the provider's subject (sub claim; the numeric id for GitHub)")
    .action((name: string, flags: CommonFlags & { provider: string; subject: string }) =>
      withAccounts(flags, async (accounts, config) => {
        const user = await requireUser(accounts.store, name);
        if (!config.sso.providers.some((p) => p.id === flags.provider)) throw new UsageError(`no provider "${flags.provider}" in sso.providers`);
        await linkProviderAccountByAdmin(accounts, CLI_ACTOR, user, { provider: flags.provider, subject: flags.subject, email: null });
        out(`${user.username} now signs in with ${flags.provider} account ${flags.subject}`);
      }),
    );

  addStoreOptions(users.command('unlink <name>').description('remove a single sign-on link from this user'))
    .requiredOption('--provider <id>', 'the provider id')
    .action((name: string, flags: CommonFlags & { provider: string }) =>
      withAccounts(flags, async (accounts) => {
        const user = await requireUser(accounts.store, name);
        await unlinkProviderAccount(accounts, CLI_ACTOR, user, flags.provider);
        out(`${user.username} no longer signs in with ${flags.provider}`);
      }),
    );

  addStoreOptions(users.command('remove <name>').description('delete a user and their sessions')).action((name: string, flags: CommonFlags) =>
    withAccounts(flags, async (accounts) => {
      const user = await requireUser(accounts.store, name);
      await deleteUser(accounts, CLI_ACTOR, user);
      out(`removed ${user.username}`);
    }),
  );

  addStoreOptions(users.command('import <file>').description('import users from an htpasswd file (bcrypt) or a dash-auth JSON {"user": "password"} dict'))
    .requiredOption('--format <format>', 'htpasswd or json')
    .option('--groups <a,b>', 'groups for every imported user')
    .option('--allow-weak', 'accept JSON passwords that fail the password policy (not recommended)')
    .action((file: string, flags: CommonFlags & { format: string; groups?: string; allowWeak?: boolean }) =>
      withAccounts(flags, async (accounts, config) => {
        if (flags.format !== 'htpasswd' && flags.format !== 'json') throw new UsageError(`--format must be htpasswd or json, got "${flags.format}"`);
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (err) {
          throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        const entries = flags.format === 'htpasswd' ? parseHtpasswd(text) : await parseJsonUsers(text, config, flags.allowWeak === true);
        const groups = parseGroups(flags.groups);
        const problems = entries.filter((e) => 'problem' in e).map((e) => (e as { problem: string }).problem);
        const valid = entries.flatMap((e) => ('problem' in e ? [] : [{ username: e.username, passwordHash: e.hash }]));
        const { created, skipped } = await importUsers(accounts, CLI_ACTOR, valid, groups, { format: flags.format, invalid: problems.length });
        problems.push(...skipped);
        out(`imported ${created} user(s)${problems.length ? `; skipped ${problems.length}:` : ''}`);
        for (const p of problems) out(`  - ${p}`);
      }),
    );
}

type ImportEntry = { username: string; hash: string } | { problem: string };

/** htpasswd lines `user:hash`; only bcrypt ($2a$/$2b$/$2y$) can be verified safely, others are refused. */
export function parseHtpasswd(text: string): ImportEntry[] {
  const entries: ImportEntry[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const colon = line.indexOf(':');
    const username = canonicalUsername(colon === -1 ? line : line.slice(0, colon));
    const hash = colon === -1 ? '' : line.slice(colon + 1).trim();
    const problem = colon === -1 ? 'no ":" separator' : usernameProblem(username) ?? (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash) ? null : 'not a bcrypt hash (re-create it with "htpasswd -B"); MD5, SHA1 and crypt hashes are too weak to import');
    entries.push(problem ? { problem: `line ${index + 1}${username ? ` (${username})` : ''}: ${problem}` } : { username, hash });
  });
  return entries;
}

async function parseJsonUsers(text: string, config: Config, allowWeak: boolean): Promise<ImportEntry[]> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`not valid JSON: ${(err as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError('expected a JSON object {"username": "password", …}');
  const entries: ImportEntry[] = [];
  for (const [rawName, password] of Object.entries(data)) {
    const username = canonicalUsername(rawName);
    const problem =
      usernameProblem(username) ??
      (typeof password !== 'string' ? 'password must be a string' : allowWeak ? null : await passwordProblem(password, policyOf(config), [username]));
    entries.push(problem ? { problem: `${rawName}: ${problem}` } : { username, hash: await hashPassword(password as string) });
  }
  return entries;
}

function policyOf(config: Config) {
  return { minLength: config.password.min_length, maxLength: config.password.max_length };
}

/** A comma-separated --groups value; every name must be usable in X-Forwarded-Groups. */
export function parseGroups(value: string | undefined): string[] {
  const groups = (value ?? '').split(',').map((g) => g.trim()).filter(Boolean);
  checkGroupNames(groups);
  return groups;
}
