import type { Command } from 'commander';
import { ApiTokenManager, apiTokenNameProblem, type ApiToken } from '../auth/api-tokens.js';
import type { Config } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { UsageError } from '../errors.js';
import type { Store } from '../store/store.js';
import { addStoreOptions, requireUser, withStore, type CommonFlags } from './shared-options.js';

type Out = (line: string) => void;

const DEFAULT_NAME = 'api token';
const DEFAULT_EXPIRY = '90d';

/**
 * `dashgate tokens …`: personal API tokens for scripts (`Authorization: Bearer dgt_…`). A token
 * is printed once, when it is created; the store keeps only a hash. Running gateways answer from
 * a short memory cache, so a revoked token may keep working there for a few more seconds.
 */
export function registerTokenCommands(program: Command, out: Out): void {
  const tokens = program.command('tokens').description('personal API tokens for scripts (Authorization: Bearer)');

  addStoreOptions(tokens.command('create <user>').description('issue an API token for a user; it is shown only this once'))
    .option('--name <name>', 'what the token is for, shown in lists', DEFAULT_NAME)
    .option('--expires <duration>', 'lifetime such as 30d, 12h, or "never"', DEFAULT_EXPIRY)
    .option('--json', 'print JSON')
    .action((name: string, flags: CommonFlags & { name: string; expires: string; json?: boolean }) =>
      withStore(flags, async (store, config) => {
        const problem = apiTokenNameProblem(flags.name);
        if (problem) throw new UsageError(problem);
        const now = Date.now();
        const expiresAt = parseExpiry(flags.expires, now);
        const user = await requireUser(store, name);
        if (user.status !== 'active') throw new UsageError(`user "${user.username}" is ${user.status}; a token would not work (enable the user first)`);
        const { token, record } = await manager(store).create(user, { name: flags.name, expiresAt, createdBy: 'cli' });
        await store.audit.record({ action: 'token.create', actor: 'cli', target: user.username, detail: { id: record.id, name: record.name, expires_at: record.expiresAt } });
        if (flags.json) {
          out(JSON.stringify({ id: record.id, user: user.username, name: record.name, expires_at: isoOrNull(record.expiresAt), token }, null, 2));
          return;
        }
        out(`created API token ${record.id} "${record.name}" for ${user.username}, ${record.expiresAt === null ? 'never expires' : `expires ${formatTime(record.expiresAt)}`}`);
        out(token);
        out(`copy it now, it is not shown again; use it as: curl -H "Authorization: Bearer <token>" ${appUrl(config)}`);
      }),
    );

  addStoreOptions(tokens.command('list [user]').description("list API tokens (everyone's, or one user's); never shows the tokens themselves"))
    .option('--json', 'print JSON')
    .action((name: string | undefined, flags: CommonFlags & { json?: boolean }) =>
      withStore(flags, async (store) => {
        const user = name === undefined ? null : await requireUser(store, name);
        const listed = await manager(store).list(user?.id);
        if (flags.json) {
          const rows = listed.map((t) => ({ id: t.id, user: t.username, name: t.name, created_at: isoOrNull(t.createdAt), expires_at: isoOrNull(t.expiresAt), last_used_at: isoOrNull(t.lastUsedAt), created_by: t.createdBy }));
          return out(JSON.stringify(rows, null, 2));
        }
        if (listed.length === 0) return out(user ? `no API tokens for ${user.username}` : 'no API tokens');
        const now = Date.now();
        printTable(out, ['ID', 'USER', 'NAME', 'CREATED', 'EXPIRES', 'LAST USED'], listed.map((t) => tableRow(t, now)));
      }),
    );

  addStoreOptions(tokens.command('revoke <id>').description('delete an API token (the ID from "dashgate tokens list")')).action((id: string, flags: CommonFlags) =>
    withStore(flags, async (store) => {
      const revoked = await manager(store).revoke(id);
      if (!revoked) throw new UsageError(`no API token "${id}"`);
      await store.audit.record({ action: 'token.revoke', actor: 'cli', target: revoked.username, detail: { id: revoked.id, name: revoked.name } });
      out(`revoked API token ${revoked.id} "${revoked.name}" of ${revoked.username}`);
    }),
  );
}

/** The command line opens the store for one command: nothing to cache, every use is written. */
function manager(store: Store): ApiTokenManager {
  return new ApiTokenManager(store, { cacheTtlMs: 0, touchIntervalMs: 0 }, Date.now);
}

/**
 * `--expires`: "never", or a duration with a unit. A bare number would mean seconds in the config
 * file's duration syntax; `--expires 90` giving a token that dies in a minute and a half is
 * surely a mistake, so the unit is required here.
 */
function parseExpiry(value: string, now: number): number | null {
  if (value.trim().toLowerCase() === 'never') return null;
  const ms = /[a-z]\s*$/i.test(value) ? parseDuration(value) : null;
  if (ms === null || ms <= 0) throw new UsageError(`--expires must be a duration with a unit such as 90d, 12h or 30m, or "never"; got "${value}"`);
  if (!Number.isSafeInteger(now + ms)) throw new UsageError(`--expires "${value}" is too far away; use "never" for a token that does not expire`);
  return now + ms;
}

function tableRow(t: ApiToken, now: number): string[] {
  const expires = t.expiresAt === null ? 'never' : `${formatTime(t.expiresAt)}${t.expiresAt <= now ? ' (expired)' : ''}`;
  return [t.id, t.username, t.name, formatTime(t.createdAt), expires, t.lastUsedAt === null ? 'never' : formatTime(t.lastUsedAt)];
}

function printTable(out: Out, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i < r.length - 1 ? cell.padEnd(widths[i]!) : cell)).join('  ').trimEnd();
  out(line(header));
  for (const row of rows) out(line(row));
}

/** `2025-01-15 09:00 UTC`: minutes are precise enough for a list, and UTC reads the same on every server. */
function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Where the hint points curl: the configured public address, else a placeholder (the listener may sit behind a proxy). */
function appUrl(config: Config): string {
  return config.server.public_url ? `${config.server.public_url.replace(/\/+$/, '')}/` : '<gateway address>/';
}
