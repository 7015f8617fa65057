import type { Store } from '../store/store.js';
import type { Clock } from '../store/types.js';
import { KeyedMutex, type KeyedLock } from './keyed-mutex.js';

export interface ThrottleSettings {
  accountFreeFailures: number;
  ipFreeFailures: number;
  maxDelayMs: number;
  windowMs: number;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * What is being guessed. `basic` shares the counters of `password` (the same secret: guesses by
 * HTTP Basic and by the sign-in form share one budget); `second_factor` covers TOTP codes,
 * recovery codes and the passkey of the second step; `passkey` is the usernameless passkey
 * sign-in; `reset_request` and `sign_up` are not credentials but are counted the same way.
 */
export type CredentialKind = 'password' | 'basic' | 'second_factor' | 'passkey' | 'api_token' | 'reset_request' | 'sign_up';

/** Who is guessing: the account the credential names (a username, or the address asked for), and the client's address. */
export interface AttemptKeys {
  account?: string;
  ip: string;
}

/** What a credential check found: the value, or why not (for the caller's audit entry). */
export type Checked<T, F> = { ok: true; value: T } | { ok: false; failure: F };

export type AttemptResult<T, F> = { ok: true; value: T } | { ok: false; throttled: false; failure: F } | { ok: false; throttled: true; retryAfterMs: number };

export const passed = <T>(value: T): Checked<T, never> => ({ ok: true, value });
export const failed = <F>(failure: F): Checked<never, F> => ({ ok: false, failure });

/** The stored counter keys of a kind: unchanged from the hand-assembled copies this replaces, so counters survive an upgrade. */
function keysOf(kind: CredentialKind, keys: AttemptKeys): { account: string; ip: string } {
  const { account, ip } = keys;
  switch (kind) {
    case 'password':
      return { account: `account:${account ?? ''}`, ip: `ip:${ip}` };
    case 'basic':
      // A malformed Basic value names no account: it counts like a bad token from that address.
      return { account: account === undefined ? `account:credential:${ip}` : `account:${account}`, ip: `ip:${ip}` };
    case 'second_factor':
      return { account: `account:mfa:${account ?? ''}`, ip: `ip:${ip}` };
    case 'passkey':
      return { account: `account:passkey:${ip}`, ip: `ip:${ip}` };
    case 'api_token':
      return { account: `account:credential:${ip}`, ip: `ip:${ip}` };
    case 'reset_request':
      // Apart from sign-in failures: asking for resets must not slow down signing in from a shared address.
      return { account: `account:reset:${account ?? ''}`, ip: `ip:reset:${ip}` };
    case 'sign_up':
      return { account: `account:signup:${account ?? ''}`, ip: `ip:signup:${ip}` };
  }
}

/** A success clears the account's counter only where the account is a real one (not an address). */
const CLEARS_ON_SUCCESS: ReadonlySet<CredentialKind> = new Set(['password', 'basic', 'second_factor']);

const MAX_SUSPECTS = 10_000;

/**
 * Throttling per account and per client address with an increasing delay (ASVS 5.0 V6.3.1,
 * NIST SP 800-63B §3.2.2): after the free failures, each further try must wait 1 s, 2 s, 4 s …
 * up to `maxDelayMs`. There is no hard lockout an attacker could trigger at will, and unknown
 * usernames are counted exactly like real ones so the answer reveals nothing.
 *
 * Every credential check is one `attempt`: the counters are checked, the credential verified
 * and the failure recorded while no other attempt on the same account or address runs in this
 * process. Assembled by hand, the steps drifted: 40 parallel guesses got 11 checked where 3 were
 * allowed, and the passkey sign-in never took the lock.
 */
export class SignInThrottle {
  private readonly locks: KeyedLock;
  /** Addresses with a failure seen here recently: only they pay for a counter lookup on an optimistic attempt. */
  private readonly suspects = new Map<string, number>();
  /** Told of every attempt refused before its check ran (metrics count them by kind). */
  onThrottled: ((kind: CredentialKind) => void) | null = null;

  constructor(
    private readonly store: Store,
    private readonly settings: ThrottleSettings,
    private readonly now: Clock,
    /** Within this process by default; across the gateway's worker processes (or instances) when given. */
    lock: KeyedLock = new KeyedMutex(),
  ) {
    this.locks = lock;
  }

  /**
   * One credential check. `check` runs only while the counters allow it; a failure is counted,
   * a success clears the account's counter. `optimistic` (API tokens, checked on every request
   * of a script): from an address with no recent failure here, `check` runs without the lock or
   * a counter lookup, and only a failure then takes the lock to be judged and counted, so a
   * valid token costs nothing extra and simultaneous wrong ones are still answered one by one.
   */
  async attempt<T, F>(kind: CredentialKind, keys: AttemptKeys, check: () => Promise<Checked<T, F>>, options: { optimistic?: boolean } = {}): Promise<AttemptResult<T, F>> {
    const counters = keysOf(kind, keys);
    if (options.optimistic && !this.isSuspect(counters.ip)) {
      const checked = await check();
      if (checked.ok) return checked;
      return this.locks.run([counters.account, counters.ip], async () => {
        const verdict = await this.verdict(counters);
        if (!verdict.allowed) return this.throttled(kind, counters, verdict.retryAfterMs);
        await this.recordFailure(counters);
        return { ok: false, throttled: false, failure: checked.failure };
      });
    }
    return this.locks.run([counters.account, counters.ip], async () => {
      const verdict = await this.verdict(counters);
      if (!verdict.allowed) return this.throttled(kind, counters, verdict.retryAfterMs);
      const checked = await check();
      if (!checked.ok) {
        await this.recordFailure(counters);
        return { ok: false, throttled: false, failure: checked.failure };
      }
      if (CLEARS_ON_SUCCESS.has(kind)) await this.store.throttle.clear(counters.account);
      return checked;
    });
  }

  /** Counts one use of something rate-limited (a reset request, a sign-up) and says whether it was allowed. */
  spend(kind: 'reset_request' | 'sign_up', keys: AttemptKeys): Promise<ThrottleVerdict> {
    const counters = keysOf(kind, keys);
    return this.locks.run([counters.account, counters.ip], async () => {
      const verdict = await this.verdict(counters);
      if (!verdict.allowed) this.onThrottled?.(kind);
      await this.recordFailure(counters);
      return verdict;
    });
  }

  /** Clears an account's failures (its password was just reset by a link only its owner received). */
  async forgive(kind: 'password', account: string): Promise<void> {
    await this.store.throttle.clear(keysOf(kind, { account, ip: '' }).account);
  }

  private async verdict(counters: { account: string; ip: string }): Promise<ThrottleVerdict> {
    const now = this.now();
    let wait = 0;
    for (const [key, free] of [
      [counters.account, this.settings.accountFreeFailures],
      [counters.ip, this.settings.ipFreeFailures],
    ] as const) {
      const state = await this.store.throttle.get(key);
      if (!state || state.lastFailureAt < now - this.settings.windowMs) continue;
      wait = Math.max(wait, state.lastFailureAt + this.delayFor(state.failures, free) - now);
    }
    return wait > 0 ? { allowed: false, retryAfterMs: wait } : { allowed: true };
  }

  private throttled(kind: CredentialKind, counters: { ip: string }, retryAfterMs: number): { ok: false; throttled: true; retryAfterMs: number } {
    this.onThrottled?.(kind);
    this.suspect(counters.ip);
    return { ok: false, throttled: true, retryAfterMs };
  }

  private async recordFailure(counters: { account: string; ip: string }): Promise<void> {
    const now = this.now();
    this.suspect(counters.ip);
    for (const key of [counters.account, counters.ip]) await this.store.throttle.addFailure(key, now, now - this.settings.windowMs);
  }

  private suspect(ipKey: string): void {
    if (this.suspects.size >= MAX_SUSPECTS) this.suspects.clear();
    this.suspects.set(ipKey, this.now());
  }

  private isSuspect(ipKey: string): boolean {
    const since = this.suspects.get(ipKey);
    if (since === undefined) return false;
    if (since >= this.now() - this.settings.windowMs) return true;
    this.suspects.delete(ipKey);
    return false;
  }

  private delayFor(failures: number, free: number): number {
    if (failures < free) return 0;
    return Math.min(this.settings.maxDelayMs, 1000 * 2 ** Math.min(30, failures - free));
  }
}
