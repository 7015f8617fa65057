import { availableParallelism } from 'node:os';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { verify as bcryptVerify } from '@node-rs/bcrypt';
import { GatewayError } from '../errors.js';

/**
 * How much CPU password hashing may take. A hash is ~20 ms of one core; libuv runs four at once,
 * so a sign-in storm (20 clients, 77 sign-ins/s) took 1.3 of the 2 cores from the app and
 * tripled the proxied p99. At most `maxConcurrent` hashes run at once (default: half the cores),
 * `maxQueued` more wait; beyond that a sign-in is refused with 503 SIGN_IN_BUSY and Retry-After,
 * and proxied traffic keeps its cores. One budget per process.
 */
const hashing = { maxConcurrent: Math.max(1, Math.floor(availableParallelism() / 2)), maxQueued: 64, running: 0, waiting: [] as Array<() => void> };

/** Sets the hashing budget (password.max_concurrent_hashes, password.hash_queue). */
export function configurePasswordHashing(options: { maxConcurrent?: number | undefined; maxQueued?: number | undefined }): void {
  if (options.maxConcurrent !== undefined) hashing.maxConcurrent = options.maxConcurrent;
  if (options.maxQueued !== undefined) hashing.maxQueued = options.maxQueued;
}

/** The hashing budget as it is now: for metrics and tests. */
export function passwordHashingLoad(): { running: number; queued: number; maxConcurrent: number; maxQueued: number } {
  return { running: hashing.running, queued: hashing.waiting.length, maxConcurrent: hashing.maxConcurrent, maxQueued: hashing.maxQueued };
}

async function withHashSlot<T>(work: () => Promise<T>): Promise<T> {
  if (hashing.running >= hashing.maxConcurrent) {
    if (hashing.waiting.length >= hashing.maxQueued) throw new GatewayError('SIGN_IN_BUSY');
    await new Promise<void>((resolve) => hashing.waiting.push(resolve));
  } else {
    hashing.running++;
  }
  try {
    return await work();
  } finally {
    // The slot passes straight to the next waiter, or is given back.
    const next = hashing.waiting.shift();
    if (next) next();
    else hashing.running--;
  }
}

/**
 * argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1). @node-rs/argon2 runs in libuv's
 * thread pool, so hashing never blocks proxied traffic on the event loop. argon2id is its default
 * algorithm (the `Algorithm` enum is type-only and cannot be passed at run time).
 */
const ARGON2_OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`). Never truncates. */
export function hashPassword(password: string): Promise<string> {
  return withHashSlot(() => argon2Hash(password.normalize('NFKC'), ARGON2_OPTIONS));
}

/** True when `stored` (argon2 PHC or a legacy bcrypt `$2y$` hash from htpasswd) matches. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  const normalized = password.normalize('NFKC');
  return withHashSlot(async () => {
    try {
      if (stored.startsWith('$argon2')) return await argon2Verify(stored, normalized);
      // bcrypt silently ignores bytes past 72; a longer password must not match a shorter prefix.
      if (/^\$2[abxy]\$/.test(stored)) return Buffer.byteLength(password) <= 72 && (await bcryptVerify(password, stored));
    } catch {
      return false;
    }
    return false;
  });
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
  const dummy = await dummyHash;
  await withHashSlot(() => argon2Verify(dummy, password.normalize('NFKC')).catch(() => false));
  return false;
}
