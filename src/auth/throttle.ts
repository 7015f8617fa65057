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
  constructor(
    private readonly store: Store,
    private readonly settings: ThrottleSettings,
    private readonly now: Clock,
  ) {}

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
