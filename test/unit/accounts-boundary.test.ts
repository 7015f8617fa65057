import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '../..');

/** Store calls that change users, groups, memberships, invitations or SSO links. */
const ACCOUNT_WRITES = /\bstore\.(users\.(create|setPasswordHash|setStatus|setAdmin|setProfile|setGroups|remove)|groups\.(create|remove|rename|addMember|removeMember)|invites\.(insert|consume|revoke|expireOpen)|sso\.(link|unlink)|factors\.removeAll)\(/g;

function sourcesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/**
 * accounts/ owns every change to an account. A route or command that writes the store itself
 * skips its rules: that is how `dashgate groups grant admins bob` gave bob the admins group
 * without the administrator role while the console refused the same change.
 */
describe('accounts/ is the only way to change an account', () => {
  it('regression: no route, command or SSO code changes users, groups, invitations or links through the store directly', () => {
    const offenders: string[] = [];
    for (const file of [...sourcesUnder('src/web'), ...sourcesUnder('src/cli'), ...sourcesUnder('src/auth/sso')]) {
      for (const match of readFileSync(join(ROOT, file), 'utf8').matchAll(ACCOUNT_WRITES)) offenders.push(`${file}: ${match[0]}`);
    }
    assert.deepEqual(offenders, []);
  });

  it('the pattern finds such a call (the check above can fail)', () => {
    assert.equal('await ctx.store.groups.addMember(group, user.id)'.match(ACCOUNT_WRITES)?.length, 1);
    assert.equal('await accounts.store.users.setStatus(id)'.match(ACCOUNT_WRITES)?.length, 1);
  });
});
