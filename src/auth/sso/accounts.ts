import type { Accounts } from '../../accounts/accounts.js';
import { emailDomain } from '../../accounts/email-address.js';
import { AccountError } from '../../accounts/errors.js';
import { ADMINS_GROUP, applyProviderGroups } from '../../accounts/groups.js';
import { linkProviderAccount } from '../../accounts/sso-links.js';
import { createUser, updateProfile } from '../../accounts/users.js';
import { groupNameProblem } from '../../store/groups.js';
import type { User } from '../../store/types.js';
import { canonicalUsername, usernameProblem } from '../usernames.js';
import type { SsoProfile } from './client.js';
import type { SsoProvider } from './presets.js';

export type AccountOutcome =
  | { ok: true; user: User; created: boolean; linked: boolean }
  | { ok: false; reason: 'domain_not_allowed' | 'group_not_allowed' | 'no_account' | 'account_inactive' | 'username_taken' | 'email_taken' | 'no_username' | 'link_refused'; message: string };

/**
 * The Dashgate groups a provider's groups become: through groups_map, or as they are when valid
 * names. Never "admins" (it follows the administrator role, which only Dashgate grants). GitHub
 * organisation names are a namespace anyone can register in, so GitHub gives groups only through
 * a map.
 */
export function mapGroups(provider: SsoProvider, groups: readonly string[]): string[] {
  const out = new Set<string>();
  for (const group of groups) {
    if (provider.groupsMap) for (const mapped of provider.groupsMap.get(group) ?? []) out.add(mapped);
    else if (provider.kind !== 'github' && groupNameProblem(group) === null) out.add(group);
  }
  out.delete(ADMINS_GROUP);
  return [...out].sort();
}

/**
 * Turns a verified provider profile into a Dashgate account, or says why not. In order: the
 * allowlists (checked at every sign-in, so someone removed from the domain or group is out at
 * their next sign-in); the account linked to this provider + subject; else, only when the
 * provider vouches for the email and the admin turned on link_existing, the local account with
 * that email; else a new account when auto_create is on. Then name, email and the groups this
 * provider manages are brought up to date; groups granted in Dashgate stay.
 */
export async function resolveAccount(accounts: Accounts, provider: SsoProvider, profile: SsoProfile, ip: string | null = null): Promise<AccountOutcome> {
  const { store } = accounts;
  const actor = { name: `sso:${provider.id}`, ip };
  const verifiedEmail = profile.email !== null && profile.emailVerified ? profile.email.toLowerCase() : null;
  if (provider.allowedDomains.length > 0 && (verifiedEmail === null || !provider.allowedDomains.includes(emailDomain(verifiedEmail)))) {
    return { ok: false, reason: 'domain_not_allowed', message: `${provider.name} accounts from ${verifiedEmail ? emailDomain(verifiedEmail) : 'an unverified or missing email address'} may not sign in here.` };
  }
  const providerGroups = profile.groups ?? [];
  if (provider.allowedGroups.length > 0 && !providerGroups.some((g) => provider.allowedGroups.includes(g))) {
    return { ok: false, reason: 'group_not_allowed', message: `Your ${provider.name} account is not in a group that may sign in here.` };
  }
  const managedGroups = mapGroups(provider, providerGroups);

  let created = false;
  let linked = false;
  let user: User | null = null;
  const identity = await store.sso.find(provider.id, profile.subject);
  if (identity) {
    user = await store.users.findById(identity.userId);
  } else {
    if (provider.linkExisting && verifiedEmail) {
      const existing = await store.users.findByEmail(verifiedEmail);
      // Only an ordinary, active account whose address is known to be its owner's is linked by
      // email. An administrator's account, a pending one, or a sign-up that never confirmed its
      // address (the address is then only the sign-up's claim) would hand the account to whoever
      // the provider says has that address: an administrator links those (dashgate users link).
      const unproven = existing ? await store.emailTokens.addressEvidence(existing.id).then((e) => e.verifyIssued && !e.proven) : false;
      if (existing && (existing.isAdmin || existing.status !== 'active' || unproven)) {
        return { ok: false, reason: 'link_refused', message: `An account with the email ${verifiedEmail} exists here but cannot be linked automatically. Ask an administrator to link it to ${provider.name}.` };
      }
      if (existing) {
        user = existing;
        linked = true;
      }
    }
    if (!user) {
      if (!provider.autoCreate) return { ok: false, reason: 'no_account', message: `There is no account here for your ${provider.name} sign-in. Ask an administrator for an invitation.` };
      const raw = profile.username ?? verifiedEmail;
      if (raw === null || usernameProblem(raw) !== null) {
        return { ok: false, reason: 'no_username', message: `${provider.name} did not give a name that can be used as a username${raw ? ` ("${raw}")` : ''}.` };
      }
      const username = canonicalUsername(raw);
      if (await store.users.findByUsername(username)) {
        return { ok: false, reason: 'username_taken', message: `An account named "${username}" already exists here. An administrator can link it to ${provider.name}.` };
      }
      if (verifiedEmail && (await store.users.findByEmail(verifiedEmail))) {
        return { ok: false, reason: 'email_taken', message: `An account with the email ${verifiedEmail} already exists here. An administrator can link it to ${provider.name}.` };
      }
      try {
        user = await createUser(accounts, actor, { username, displayName: profile.name, email: verifiedEmail, groups: provider.syncsGroups ? managedGroups : [] }, { provider: provider.id });
      } catch (err) {
        // Another sign-in created the name or email a moment ago.
        if (!(err instanceof AccountError) && !(await store.users.findByUsername(username))) throw err;
        return { ok: false, reason: 'username_taken', message: `An account named "${username}" already exists here. An administrator can link it to ${provider.name}.` };
      }
      created = true;
    }
    if (!(await linkProviderAccount(accounts, actor, user, { provider: provider.id, subject: profile.subject, email: verifiedEmail }, linked ? 'verified_email' : null))) {
      // The same subject was linked by a simultaneous first sign-in: use that link.
      const winner = await store.sso.find(provider.id, profile.subject);
      user = winner ? await store.users.findById(winner.userId) : null;
    }
  }
  if (!user || user.status !== 'active') {
    return { ok: false, reason: 'account_inactive', message: user?.status === 'pending' ? 'Your account is waiting for an administrator to approve it.' : 'Your account here is disabled. Ask an administrator.' };
  }

  // Keep name, email and provider-managed groups current.
  const displayName = profile.name ?? user.displayName;
  const email = verifiedEmail ?? user.email;
  await updateProfile(accounts, user, { displayName, email });
  // A group counts as the provider's only if the provider added it: it gave it before and still
  // does, or the account did not have it. Groups granted in Dashgate are never taken away here.
  let givenByProvider: string[] = [];
  if (provider.syncsGroups) {
    const previous = new Set(created ? managedGroups : (identity?.syncedGroups ?? []));
    const had = new Set(user.groups);
    givenByProvider = managedGroups.filter((g) => previous.has(g) || !had.has(g));
    const next = [...user.groups.filter((g) => !previous.has(g) || g === ADMINS_GROUP), ...managedGroups];
    if ([...new Set(next)].sort().join('\n') !== [...user.groups].sort().join('\n')) await applyProviderGroups(accounts, user, next);
  }
  await store.sso.recordLogin(provider.id, profile.subject, { email: verifiedEmail, syncedGroups: givenByProvider }, accounts.now());
  const fresh = await store.users.findById(user.id);
  if (!fresh) return { ok: false, reason: 'account_inactive', message: 'Your account here was removed. Ask an administrator.' };
  return { ok: true, user: fresh, created, linked };
}
