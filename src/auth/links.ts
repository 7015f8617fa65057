import { digestsEqual, generateToken, hashSecret, splitToken } from './tokens.js';
import type { Store } from '../store/store.js';
import type { Clock, EmailToken, Invite, User } from '../store/types.js';

/** Password-reset links live 30 minutes (the bound; ASVS 5.0 V6.4 asks for short-lived). */
export const RESET_LINK_TTL_MS = 30 * 60_000;

/**
 * Single-use links: invitations (the `invites` table, like the setup link) and password resets
 * (`email_tokens`). The token is `<id>.<secret>`; only SHA-256(secret) is stored and compared in
 * constant time; a link is spent by a conditional UPDATE, so two simultaneous uses cannot both win.
 */
export async function createInvite(store: Store, now: Clock, input: { email: string | null; groups: readonly string[]; isAdmin: boolean; createdBy: string | null; ttlMs: number }): Promise<{ token: string; invite: Invite }> {
  const at = now();
  const { token, id, secret } = generateToken();
  const invite: Invite = {
    id,
    tokenHash: hashSecret(secret),
    purpose: 'invite',
    email: input.email,
    groups: [...input.groups],
    isAdmin: input.isAdmin,
    createdBy: input.createdBy,
    createdAt: at,
    expiresAt: at + input.ttlMs,
    usedAt: null,
    usedBy: null,
  };
  await store.invites.insert(invite);
  return { token, invite };
}

/** The open invite (of `purpose`) behind a token, or null when the token is wrong, used or expired. */
export async function findOpenInvite(store: Store, token: unknown, now: Clock, purpose: Invite['purpose']): Promise<Invite | null> {
  if (typeof token !== 'string') return null;
  const parts = splitToken(token);
  if (!parts) return null;
  const invite = await store.invites.findById(parts.id);
  if (!invite || invite.purpose !== purpose || invite.usedAt !== null || invite.expiresAt <= now()) return null;
  return digestsEqual(invite.tokenHash, hashSecret(parts.secret)) ? invite : null;
}

/** Address-confirmation links of self-service sign-up live a day. */
export const VERIFY_LINK_TTL_MS = 24 * 3_600_000;

/** A new emailed link of a purpose for a user; older open links of that purpose stop working. */
export async function createEmailToken(store: Store, now: Clock, user: User, purpose: EmailToken['purpose']): Promise<{ token: string; expiresAt: number }> {
  const at = now();
  await store.emailTokens.expireOpenForUser(purpose, user.id, at);
  const { token, id, secret } = generateToken();
  const expiresAt = at + (purpose === 'reset' ? RESET_LINK_TTL_MS : VERIFY_LINK_TTL_MS);
  await store.emailTokens.insert({ id, tokenHash: hashSecret(secret), purpose, userId: user.id, email: user.email, createdAt: at, expiresAt });
  return { token, expiresAt };
}

export function createResetToken(store: Store, now: Clock, user: User): Promise<{ token: string; expiresAt: number }> {
  return createEmailToken(store, now, user, 'reset');
}

/** The open emailed token of a purpose behind a link, or null. */
export async function findEmailToken(store: Store, token: unknown, now: Clock, purpose: EmailToken['purpose']): Promise<EmailToken | null> {
  if (typeof token !== 'string') return null;
  const parts = splitToken(token);
  if (!parts) return null;
  const found = await store.emailTokens.findById(parts.id);
  if (!found || found.purpose !== purpose || found.usedAt !== null || found.expiresAt <= now()) return null;
  return digestsEqual(found.tokenHash, hashSecret(parts.secret)) ? found : null;
}

export function findResetToken(store: Store, token: unknown, now: Clock): Promise<EmailToken | null> {
  return findEmailToken(store, token, now, 'reset');
}

/** Absolute link to a gateway page: public_url when configured, else the address the caller used. */
export function gatewayLink(base: string, prefix: string, page: string, token: string): string {
  return `${base.replace(/\/+$/, '')}${prefix}/${page}?token=${encodeURIComponent(token)}`;
}
