import { digestsEqual, generateToken, hashSecret, splitToken } from './tokens.js';
import type { Store } from '../store/store.js';
import type { Clock, Invite } from '../store/types.js';

/** The first-run link lives one hour (ASVS 5.0 V6.4: short-lived, single-use activation secrets). */
export const SETUP_LINK_TTL_MS = 3_600_000;

/**
 * Creates the one-time link that makes the first administrator. Any older open setup link stops
 * working, so only the most recently printed one is valid. Returns the token to put in the URL.
 */
export async function createSetupToken(store: Store, now: Clock): Promise<string> {
  const at = now();
  await store.invites.expireOpen('setup', at);
  const { token, id, secret } = generateToken();
  await store.invites.insert({
    id,
    tokenHash: hashSecret(secret),
    purpose: 'setup',
    email: null,
    groups: [],
    isAdmin: true,
    createdBy: null,
    createdAt: at,
    expiresAt: at + SETUP_LINK_TTL_MS,
  });
  return token;
}

/** The open setup invite behind a token, or null when the token is wrong, used or expired. */
export async function findSetupInvite(store: Store, token: unknown, now: Clock): Promise<Invite | null> {
  if (typeof token !== 'string') return null;
  const parts = splitToken(token);
  if (!parts) return null;
  const invite = await store.invites.findById(parts.id);
  if (!invite || invite.purpose !== 'setup' || invite.usedAt !== null || invite.expiresAt <= now()) return null;
  return digestsEqual(invite.tokenHash, hashSecret(parts.secret)) ? invite : null;
}
