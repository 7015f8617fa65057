import type { Identity } from './identify.js';
import type { RequestScope } from './scope.js';

export type Decision = { allow: true } | { allow: false; reason: 'login_required' | 'forbidden' };

const ALLOW: Decision = Object.freeze({ allow: true });
const LOGIN_REQUIRED: Decision = Object.freeze({ allow: false, reason: 'login_required' });

/**
 * Step 4: may this identity reach this path? Until access rules exist the policy is the safe
 * default of DESIGN.md: every upstream path needs a signed-in, active user.
 */
export function authorize(identity: Identity, _scope: RequestScope): Decision {
  return identity.kind === 'user' ? ALLOW : LOGIN_REQUIRED;
}
