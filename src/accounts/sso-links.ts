import type { User } from '../store/types.js';
import { recordAccountEvent, type Accounts, type Actor } from './accounts.js';
import { AccountError } from './errors.js';

export interface ProviderAccount {
  provider: string;
  subject: string;
  email: string | null;
}

/**
 * Ties a provider's subject to an account, so that provider account signs in as this user.
 * `by` says who decided (`sso.linked`): an administrator (`dashgate users link`), or the
 * provider's verified email under `link_existing`. A link made while creating the account at its
 * first sign-in is part of `user.created` (`by: null`, no entry of its own). False when the
 * subject was linked already (a simultaneous first sign-in won).
 */
export async function linkProviderAccount(accounts: Accounts, actor: Actor, user: User, link: ProviderAccount, by: 'admin' | 'verified_email' | null): Promise<boolean> {
  if (!(await accounts.store.sso.link({ ...link, userId: user.id }, accounts.now()))) return false;
  if (by !== null) {
    await recordAccountEvent(accounts, actor, { action: 'sso.linked', target: user.username, detail: { provider: link.provider, ...(by === 'admin' ? { subject: link.subject } : {}), by } });
  }
  return true;
}

/** Like linkProviderAccount by an administrator, but SSO_LINK_EXISTS when that provider account is someone's already. */
export async function linkProviderAccountByAdmin(accounts: Accounts, actor: Actor, user: User, link: ProviderAccount): Promise<void> {
  const existing = await accounts.store.sso.find(link.provider, link.subject);
  if (existing || !(await linkProviderAccount(accounts, actor, user, link, 'admin'))) {
    throw new AccountError('SSO_LINK_EXISTS', `That ${link.provider} account is already linked${existing?.userId === user.id ? ` to ${user.username}` : ' to another user'}.`);
  }
}

/** Removes a user's link to a provider (`sso.unlinked`), or SSO_LINK_NOT_FOUND. */
export async function unlinkProviderAccount(accounts: Accounts, actor: Actor, user: User, provider: string): Promise<void> {
  if ((await accounts.store.sso.unlink(provider, user.id)) === 0) throw new AccountError('SSO_LINK_NOT_FOUND', `${user.username} has no ${provider} link.`);
  await recordAccountEvent(accounts, actor, { action: 'sso.unlinked', target: user.username, detail: { provider } });
}
