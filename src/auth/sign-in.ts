import { canonicalUsername } from './usernames.js';
import { hashPassword, needsRehash, verifyAgainstDummy, verifyPassword } from './passwords.js';
import { failed, passed, type Checked, type SignInThrottle } from './throttle.js';
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
  input: { username: string; password: string; ip: string; kind?: 'password' | 'basic' },
): Promise<SignInResult> {
  const { store, throttle } = deps;
  const username = canonicalUsername(input.username).slice(0, 256);
  const checked = await throttle.attempt(input.kind ?? 'password', { account: username, ip: input.ip }, () => checkPassword(store, username, input));
  if (!checked.ok) {
    if (!checked.throttled) return { ok: false, reason: 'invalid' };
    await store.audit.record({ action: 'login.throttled', actor: username, ip: input.ip });
    return { ok: false, reason: 'throttled', retryAfterMs: checked.retryAfterMs };
  }
  const user = checked.value;
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

/** The password check itself; its failure is audited with the real reason, which stays internal. */
async function checkPassword(store: Store, username: string, input: { password: string; ip: string }): Promise<Checked<UserWithCredentials, string>> {
  const user = username ? await store.users.findByUsername(username) : null;
  const passwordOk = user?.passwordHash ? await verifyPassword(user.passwordHash, input.password) : await verifyAgainstDummy(input.password);
  const why = !user ? 'unknown_user' : !passwordOk ? 'wrong_password' : user.status !== 'active' ? `status_${user.status}` : null;
  if (why !== null || !user) {
    await store.audit.record({ action: 'login.failure', actor: username || null, ip: input.ip, detail: { reason: why } });
    return failed(why ?? 'unknown_user');
  }
  return passed(user);
}
