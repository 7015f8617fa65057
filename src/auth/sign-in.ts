import { canonicalUsername } from './usernames.js';
import { hashPassword, needsRehash, verifyAgainstDummy, verifyPassword } from './passwords.js';
import type { SignInThrottle } from './throttle.js';
import type { Store } from '../store/store.js';
import type { User, UserWithCredentials } from '../store/types.js';

export type SignInResult =
  | { ok: true; user: User }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'throttled'; retryAfterMs: number };

/**
 * Checks a username and password. Every failure looks the same from outside (unknown user,
 * wrong password, disabled account: "invalid"), takes about the same time, and is throttled
 * and audited with its real reason kept internal.
 */
export async function verifyCredentials(
  deps: { store: Store; throttle: SignInThrottle; onRehashError?: (err: unknown) => void },
  input: { username: string; password: string; ip: string },
): Promise<SignInResult> {
  const { store, throttle } = deps;
  const username = canonicalUsername(input.username).slice(0, 256);
  const checked = await throttle.exclusive(username, input.ip, () => checkPassword(deps, username, input));
  if (!checked.ok) return checked;
  const user = checked.user;
  if (user.passwordHash && needsRehash(user.passwordHash)) {
    // Legacy (htpasswd bcrypt) or weaker hashes become argon2id at first successful sign-in.
    try {
      await store.users.setPasswordHash(user.id, await hashPassword(input.password));
      await store.audit.record({ action: 'password.rehash', actor: user.username, target: user.username, ip: input.ip });
    } catch (err) {
      deps.onRehashError?.(err);
    }
  }
  const { passwordHash: _omit, ...plain } = user;
  return { ok: true, user: plain };
}

/** Throttle check, password verification and the throttle's bookkeeping: one attempt, run exclusively. */
async function checkPassword(
  deps: { store: Store; throttle: SignInThrottle },
  username: string,
  input: { password: string; ip: string },
): Promise<{ ok: true; user: UserWithCredentials } | Exclude<SignInResult, { ok: true }>> {
  const { store, throttle } = deps;
  const verdict = await throttle.check(username, input.ip);
  if (!verdict.allowed) {
    await store.audit.record({ action: 'login.throttled', actor: username, ip: input.ip });
    return { ok: false, reason: 'throttled', retryAfterMs: verdict.retryAfterMs };
  }
  const user = username ? await store.users.findByUsername(username) : null;
  const passwordOk = user?.passwordHash ? await verifyPassword(user.passwordHash, input.password) : await verifyAgainstDummy(input.password);
  const why = !user ? 'unknown_user' : !passwordOk ? 'wrong_password' : user.status !== 'active' ? `status_${user.status}` : null;
  if (why !== null || !user) {
    await throttle.recordFailure(username, input.ip);
    await store.audit.record({ action: 'login.failure', actor: username || null, ip: input.ip, detail: { reason: why } });
    return { ok: false, reason: 'invalid' };
  }
  await throttle.recordSuccess(username);
  return { ok: true, user };
}
