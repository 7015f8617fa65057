import { canonicalUsername } from '../auth/usernames.js';
import type { User } from '../store/types.js';

/** The policy part of a rule as the config schema validated it. */
export interface PolicyInput {
  policy?: 'public' | 'authenticated' | 'groups' | 'users' | 'deny' | undefined;
  groups?: readonly string[] | undefined;
  match?: 'any' | 'all' | undefined;
  users?: readonly string[] | undefined;
}

export type Policy =
  | { kind: 'public' }
  | { kind: 'authenticated' }
  | { kind: 'deny' }
  | { kind: 'groups'; groups: readonly string[]; match: 'any' | 'all' }
  | { kind: 'users'; users: ReadonlySet<string> };

/** What a policy says about one caller. */
export type Verdict = 'allow' | 'login_required' | 'forbidden';

export function compilePolicy(input: PolicyInput): Policy {
  const kind = input.policy ?? (input.groups ? 'groups' : input.users ? 'users' : undefined);
  switch (kind) {
    case 'public':
    case 'authenticated':
    case 'deny':
      return { kind };
    case 'groups':
      return { kind, groups: [...(input.groups ?? [])], match: input.match ?? 'any' };
    case 'users':
      return { kind, users: new Set((input.users ?? []).map(canonicalUsername)) };
    default:
      throw new TypeError('policy without a kind: the config schema should have refused it');
  }
}

/**
 * Applies a policy to a caller (null: anonymous). Anonymous callers are asked to sign in for
 * anything but public and deny; "deny" refuses everyone, since signing in would not help.
 */
export function evaluatePolicy(policy: Policy, user: User | null): Verdict {
  if (policy.kind === 'public') return 'allow';
  if (policy.kind === 'deny') return 'forbidden';
  if (user === null) return 'login_required';
  switch (policy.kind) {
    case 'authenticated':
      return 'allow';
    case 'users':
      return policy.users.has(user.username) ? 'allow' : 'forbidden';
    case 'groups': {
      const has = (group: string) => user.groups.includes(group);
      return (policy.match === 'all' ? policy.groups.every(has) : policy.groups.some(has)) ? 'allow' : 'forbidden';
    }
  }
}

/** A policy in words, for `dashgate access explain` and logs. */
export function describePolicy(policy: Policy): string {
  switch (policy.kind) {
    case 'public':
      return 'public (anyone, signed in or not)';
    case 'authenticated':
      return 'authenticated (any signed-in user)';
    case 'deny':
      return 'deny (nobody)';
    case 'users':
      return `users: ${[...policy.users].join(', ')}`;
    case 'groups':
      return `groups, ${policy.match === 'all' ? 'all of' : 'any of'}: ${policy.groups.join(', ')}`;
  }
}

/** Why a policy gave its verdict for this user, in one sentence. */
export function explainVerdict(policy: Policy, user: User | null, verdict: Verdict): string {
  const who = user ? `"${user.username}"` : 'an anonymous caller';
  if (policy.kind === 'public') return 'the path is public';
  if (policy.kind === 'deny') return 'the rule denies everyone';
  if (user === null) return `${who} must sign in first`;
  if (policy.kind === 'authenticated') return `${who} is signed in`;
  if (policy.kind === 'users') return verdict === 'allow' ? `${who} is listed` : `${who} is not listed`;
  const held = policy.groups.filter((g) => user.groups.includes(g));
  const groupsText = user.groups.length > 0 ? user.groups.join(', ') : 'no groups';
  if (verdict === 'allow') return `${who} is in ${held.join(', ')}`;
  return policy.match === 'all'
    ? `${who} is missing ${policy.groups.filter((g) => !user.groups.includes(g)).join(', ')} (has ${groupsText})`
    : `${who} is in none of them (has ${groupsText})`;
}
