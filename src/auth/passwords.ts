import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { verify as bcryptVerify } from '@node-rs/bcrypt';

/**
 * argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1). @node-rs/argon2 runs in libuv's
 * thread pool, so hashing never blocks proxied traffic on the event loop. argon2id is its default
 * algorithm (the `Algorithm` enum is type-only and cannot be passed at run time).
 */
const ARGON2_OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`). Never truncates. */
export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password.normalize('NFKC'), ARGON2_OPTIONS);
}

/** True when `stored` (argon2 PHC or a legacy bcrypt `$2y$` hash from htpasswd) matches. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  const normalized = password.normalize('NFKC');
  try {
    if (stored.startsWith('$argon2')) return await argon2Verify(stored, normalized);
    // bcrypt silently ignores bytes past 72; a longer password must not match a shorter prefix.
    if (/^\$2[abxy]\$/.test(stored)) return Buffer.byteLength(password) <= 72 && (await bcryptVerify(password, stored));
  } catch {
    return false;
  }
  return false;
}

/** Whether a hash that just verified should be replaced by a fresh argon2id one. */
export function needsRehash(stored: string): boolean {
  if (!stored.startsWith('$argon2id$')) return true;
  const params = /\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
  if (!params) return true;
  return Number(params[1]) < ARGON2_OPTIONS.memoryCost || Number(params[2]) < ARGON2_OPTIONS.timeCost;
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the same work as a real check for a user who does not exist, so the response time
 * does not reveal which usernames exist (ASVS 5.0 V6.3.8).
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummyHash ??= hashPassword('dashgate-timing-equaliser');
  await argon2Verify(await dummyHash, password.normalize('NFKC')).catch(() => false);
  return false;
}
