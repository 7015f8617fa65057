import type { RuleMatch } from '../access/rules.js';
import type { Identity } from '../pipeline/identify.js';
import type { WebContext } from './context.js';

/**
 * The gateway's own signed-in pages, judged by `mfa.required` as the app is judged (no step-up:
 * no access rule reaches them). Without this the console and the token form answered a session
 * the policy sends to enrol: an administrator without a factor kept the whole console, and a
 * password-only user minted an API token that reached the app with no factor at all.
 */
const OWN_PAGES: RuleMatch = Object.freeze({ index: -1, label: 'gateway pages', policy: Object.freeze({ kind: 'authenticated' as const }), allowBasic: false, mfa: false });

/** Where enrolment happens; the account page itself stays open so the user can get there. */
export function enrolPath(ctx: Pick<WebContext, 'prefix'>): string {
  return `${ctx.prefix}/account?enrol=1`;
}

/** Whether `mfa.required` covers this session's user and they have no factor yet. */
export async function mustEnrolFirst(ctx: Pick<WebContext, 'secondFactor'>, identity: Extract<Identity, { kind: 'user' }>): Promise<boolean> {
  return (await ctx.secondFactor.need(identity, OWN_PAGES)) !== null;
}
