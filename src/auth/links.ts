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

/** A new reset link for a user; older open reset links of that user stop working. */
export async function createResetToken(store: Store, now: Clock, user: User): Promise<{ token: string; expiresAt: number }> {
  const at = now();
  await store.emailTokens.expireOpenForUser('reset', user.id, at);
  const { token, id, secret } = generateToken();
  const expiresAt = at + RESET_LINK_TTL_MS;
  await store.emailTokens.insert({ id, tokenHash: hashSecret(secret), purpose: 'reset', userId: user.id, email: user.email, createdAt: at, expiresAt });
  return { token, expiresAt };
}

/** The open reset token behind a link, or null. */
export async function findResetToken(store: Store, token: unknown, now: Clock): Promise<EmailToken | null> {
  if (typeof token !== 'string') return null;
  const parts = splitToken(token);
  if (!parts) return null;
  const found = await store.emailTokens.findById(parts.id);
  if (!found || found.purpose !== 'reset' || found.usedAt !== null || found.expiresAt <= now()) return null;
  return digestsEqual(found.tokenHash, hashSecret(parts.secret)) ? found : null;
}

/** Absolute link to a gateway page: public_url when configured, else the address the caller used. */
export function gatewayLink(base: string, prefix: string, page: string, token: string): string {
  return `${base.replace(/\/+$/, '')}${prefix}/${page}?token=${encodeURIComponent(token)}`;
}
