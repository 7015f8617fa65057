import type { Store } from '../store/store.js';
import type { Clock } from '../store/types.js';

export interface ThrottleSettings {
  accountFreeFailures: number;
  ipFreeFailures: number;
  maxDelayMs: number;
  windowMs: number;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Sign-in throttling per account and per client address with an increasing delay (ASVS 5.0
 * V6.3.1, NIST SP 800-63B §3.2.2): after the free failures, each further try must wait 1 s, 2 s,
 * 4 s … up to `maxDelayMs`. There is no hard lockout an attacker could trigger at will, and
 * unknown usernames are counted exactly like real ones so the answer reveals nothing.
 */
export class SignInThrottle {
  private readonly locks = new KeyedMutex();

  constructor(
    private readonly store: Store,
    private readonly settings: ThrottleSettings,
    private readonly now: Clock,
  ) {}

  /**
   * Runs one sign-in attempt (check, verify, record) while no other attempt for the same account
   * or address runs in this process. Without it, concurrent attempts all pass `check` before any
   * failure is recorded: 40 parallel guesses got 11 checked where 3 were allowed.
   */
  exclusive<T>(username: string, ip: string, attempt: () => Promise<T>): Promise<T> {
    return this.locks.run(this.keys(username, ip).map(([key]) => key), attempt);
  }

  async check(username: string, ip: string): Promise<ThrottleVerdict> {
    const now = this.now();
    let wait = 0;
    for (const [key, free] of this.keys(username, ip)) {
      const state = await this.store.throttle.get(key);
      if (!state || state.lastFailureAt < now - this.settings.windowMs) continue;
      wait = Math.max(wait, state.lastFailureAt + this.delayFor(state.failures, free) - now);
    }
    return wait > 0 ? { allowed: false, retryAfterMs: wait } : { allowed: true };
  }

  async recordFailure(username: string, ip: string): Promise<void> {
    const now = this.now();
    for (const [key] of this.keys(username, ip)) await this.store.throttle.addFailure(key, now, now - this.settings.windowMs);
  }

  /** A correct password clears the account's counter (not the address's: one address may try many accounts). */
  async recordSuccess(username: string): Promise<void> {
    await this.store.throttle.clear(`account:${username}`);
  }

  private keys(username: string, ip: string): Array<[string, number]> {
    return [
      [`account:${username}`, this.settings.accountFreeFailures],
      [`ip:${ip}`, this.settings.ipFreeFailures],
    ];
  }

  private delayFor(failures: number, free: number): number {
    if (failures < free) return 0;
    return Math.min(this.settings.maxDelayMs, 1000 * 2 ** Math.min(30, failures - free));
  }
}

/** Async mutual exclusion per key; keys are taken in sorted order so two holders never deadlock. */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    const releases: Array<() => void> = [];
    for (const key of [...new Set(keys)].sort()) {
      const previous = this.tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((resolve) => (release = resolve));
      const tail = previous.then(() => mine);
      this.tails.set(key, tail);
      await previous;
      releases.push(() => {
        release();
        if (this.tails.get(key) === tail) this.tails.delete(key);
      });
    }
    try {
      return await work();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }
}
