import type { Command } from 'commander';
import { CLI_ACTOR } from '../accounts/accounts.js';
import { AccountError } from '../accounts/errors.js';
import { inviteUser, revokeInvite } from '../accounts/invitations.js';
import { createPasswordResetLink } from '../accounts/passwords.js';
import { gatewayLink } from '../auth/links.js';
import { gatewayBaseUrl } from '../config/base-url.js';
import { parseDuration } from '../config/duration.js';
import { UsageError } from '../errors.js';
import { createLogger } from '../log.js';
import { createMailer } from '../mail/mailer.js';
import { inviteMessage, resetMessage } from '../mail/messages.js';
import { addStoreOptions, requireUser, withAccounts, withStore, type CommonFlags } from './shared-options.js';
import { parseGroups } from './users.js';

/**
 * `dashgate invite create|list|revoke` and `dashgate users reset-link`: single-use links printed
 * for the admin to pass on (and mailed, when an address is given and mail is configured). Links
 * point at server.public_url, else the configured listen address.
 */
export function registerInviteCommands(program: Command, out: (line: string) => void): void {
  const invite = program.command('invite').description('invite people by a single-use link');

  addStoreOptions(invite.command('create').description('create an invitation link (and mail it with --email)'))
    .option('--email <address>', 'the invitee; the invitation is mailed there and their account gets this address')
    .option('--groups <a,b>', 'groups the new account joins')
    .option('--admin', 'the new account is an administrator')
    .option('--expires <duration>', 'how long the link works, e.g. 2d (default: invites.ttl, 7d)')
    .option('--no-mail', 'only print the link, even with --email')
    .action((flags: CommonFlags & { email?: string; groups?: string; admin?: boolean; expires?: string; mail?: boolean }) =>
      withAccounts(flags, async (accounts, config) => {
        const email = flags.email?.trim() || null;
        const ttlMs = flags.expires === undefined ? config.invites.ttl : parseDuration(flags.expires);
        if (ttlMs === null || ttlMs <= 0 || !/[a-z]$/.test(flags.expires ?? 'd')) throw new UsageError(`--expires expects a duration with a unit such as 12h or 7d, got "${flags.expires}"`);
        const groups = parseGroups(flags.groups);
        const { token, invite: created } = await inviteUser(accounts, CLI_ACTOR, { email, groups, isAdmin: flags.admin === true, ttlMs });
        const link = gatewayLink(gatewayBaseUrl(config), config.prefix, 'invite', token);
        out(`invitation ${created.id}${email ? ` for ${email}` : ''}, valid until ${new Date(created.expiresAt).toISOString()}:`);
        out(link);
        if (email && flags.mail !== false) {
          const mailer = createMailer(config, createLogger({ level: 'warn', format: config.log.format }));
          await mailer.send(inviteMessage({ appName: config.branding.app_name, to: email, link, invitedBy: null, expiresAt: created.expiresAt }));
          out(`mailed to ${email} via ${mailer.description}`);
        }
      }),
    );

  addStoreOptions(invite.command('list').description('list invitations that can still be used'))
    .option('--json', 'print JSON')
    .action((flags: CommonFlags & { json?: boolean }) =>
      withStore(flags, async (store) => {
        const open = await store.invites.listOpen(Date.now());
        const rows = open.map((i) => ({ id: i.id, email: i.email, groups: i.groups, admin: i.isAdmin, created_by: i.createdBy, expires: new Date(i.expiresAt).toISOString() }));
        if (flags.json) return out(JSON.stringify(rows, null, 2));
        if (rows.length === 0) return out('no open invitations');
        for (const r of rows) out(`${r.id}  ${r.email ?? '(no email)'}  groups: ${r.groups.join(',') || '-'}${r.admin ? '  admin' : ''}  expires ${r.expires}`);
      }),
    );

  addStoreOptions(invite.command('revoke <id>').description('withdraw an invitation')).action((id: string, flags: CommonFlags) =>
    withAccounts(flags, async (accounts) => {
      await revokeInvite(accounts, CLI_ACTOR, id).catch((err: unknown) => {
        throw err instanceof AccountError && err.code === 'INVITE_NOT_FOUND' ? new UsageError(`no open invitation "${id}"`) : err;
      });
      out(`revoked invitation ${id}`);
    }),
  );

  const users = program.commands.find((c) => c.name() === 'users');
  if (!users) throw new TypeError('register the users commands first');
  addStoreOptions(users.command('reset-link <name>').description('print a single-use password reset link (30 minutes) for a user'))
    .option('--mail', "also mail it to the user's address")
    .action((name: string, flags: CommonFlags & { mail?: boolean }) =>
      withAccounts(flags, async (accounts, config) => {
        const { passwordHash: _omit, ...user } = await requireUser(accounts.store, name);
        if (flags.mail && !user.email && user.status === 'active') throw new UsageError(`"${user.username}" has no email address`);
        const { token, expiresAt } = await createPasswordResetLink(accounts, CLI_ACTOR, user, flags.mail ? { mailed: true } : {});
        const link = gatewayLink(gatewayBaseUrl(config), config.prefix, 'reset', token);
        out(`reset link for ${user.username}, valid until ${new Date(expiresAt).toISOString()}, once:`);
        out(link);
        if (flags.mail) {
          const mailer = createMailer(config, createLogger({ level: 'warn', format: config.log.format }));
          await mailer.send(resetMessage({ appName: config.branding.app_name, to: user.email!, link, username: user.username, expiresAt }));
          out(`mailed to ${user.email} via ${mailer.description}`);
        }
      }),
    );
}
