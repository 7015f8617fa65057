import type { RuleMatch } from '../access/rules.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../store/types.js';
import type { Identity } from './identify.js';

/** What stands between a signed-in caller and the app: set up a factor, use it now, or no way at all. */
export type FactorNeed = 'enrol' | 'step_up' | 'forbidden' | null;

/** Whether a session's sign-in used a second factor ("password+totp", "password+recovery"). */
export function usedSecondFactor(authMethod: string): boolean {
  // A passkey with user verification is itself two factors (the device, and its PIN or biometric).
  // "mfa": the identity provider said it used more than one factor (amr, RFC 8176).
  return authMethod.split('+').some((m) => m === 'totp' || m === 'recovery' || m === 'passkey' || m === 'mfa');
}

/**
 * Step 4½: `mfa.required` (none | admins | all) and rules with `mfa: true` (step-up). A user the
 * policy covers who has no factor is sent to set one up; a session that signed in without its
 * factor is asked for a code before a step-up path. HTTP Basic (a password alone) never satisfies
 * either; API tokens satisfy `mfa.required` but not step-up rules. Whether a user has a factor is
 * remembered for `cacheTtlMs`; the account and admin pages forget it when it changes.
 */
export function createSecondFactorGate(options: { store: Store; required: 'none' | 'admins' | 'all'; cacheTtlMs: number; now: Clock; onForget?: (userId: string) => void }) {
  const known = new Map<string, { has: boolean; until: number }>();

  async function hasFactor(userId: string): Promise<boolean> {
    const now = options.now();
    const cached = known.get(userId);
    if (cached && cached.until > now) return cached.has;
    const has = (await options.store.factors.totp(userId))?.confirmedAt != null || (await options.store.factors.passkeysOf(userId)).length > 0;
    if (known.size > 100_000) known.clear();
    known.set(userId, { has, until: now + options.cacheTtlMs });
    return has;
  }

  return {
    /** The user's factors changed here: forget what was known (and tell other gateway processes, through `onForget`). */
    forget(userId: string): void {
      known.delete(userId);
      options.onForget?.(userId);
    },
    /** Another gateway process saw the user's factors change. */
    forgetElsewhere(userId: string): void {
      known.delete(userId);
    },
    async need(identity: Identity, rule: RuleMatch): Promise<FactorNeed> {
      if (identity.kind !== 'user' && identity.kind !== 'credential') return null;
      const { user } = identity;
      const required = options.required === 'all' || (options.required === 'admins' && user.isAdmin);
      if (!required && !rule.mfa) return null;
      if (identity.kind === 'credential') return rule.mfa || identity.method === 'basic' ? 'forbidden' : null;
      if (usedSecondFactor(identity.session.authMethod)) return null;
      if (!(await hasFactor(user.id))) return 'enrol';
      return rule.mfa ? 'step_up' : null;
    },
  };
}

export type SecondFactorGate = ReturnType<typeof createSecondFactorGate>;
