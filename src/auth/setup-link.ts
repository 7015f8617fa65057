import { findOpenInvite } from './links.js';
import { generateToken, hashSecret } from './tokens.js';
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
export function findSetupInvite(store: Store, token: unknown, now: Clock): Promise<Invite | null> {
  return findOpenInvite(store, token, now, 'setup');
}
