import type { FastifyRequest } from 'fastify';
import { isSameOriginRequest } from '../auth/csrf.js';
import type { Identity } from '../pipeline/identify.js';
import { formField, type WebContext } from './context.js';
import { enrolPath, mustEnrolFirst } from './second-factor-guard.js';
import { WebRefusal } from './web-refusal.js';

export type SignedIn = Extract<Identity, { kind: 'user' }>;

/** Who a guard let through, for the route handler (signedInOf). */
const passed = new WeakMap<FastifyRequest, SignedIn>();

/** The signed-in user a `signedIn` or `admin` guard let through (a route without one has none). */
export function signedInOf(request: FastifyRequest): SignedIn {
  const identity = passed.get(request);
  if (!identity) throw new TypeError('signedInOf: the route has no signedIn or admin guard');
  return identity;
}

/**
 * The guards of the gateway's own pages, as fastify preHandlers that throw coded refusals
 * (WebRefusal) for the one error handler to answer. Listed on each route in the order they run:
 * `{ preHandler: [guards.admin, guards.sessionForm, input(…)] }`.
 */
export function createGuards(ctx: WebContext) {
  const loginUrl = (request: FastifyRequest, fallback: string) =>
    `${ctx.prefix}/login?next=${encodeURIComponent(request.method === 'GET' ? request.url : fallback)}`;

  return {
    /** A session, or LOGIN_REQUIRED (browsers: to the sign-in page, back here afterwards). */
    signedIn: async function signedIn(request: FastifyRequest) {
      const identity = await ctx.identify(request);
      if (identity.kind !== 'user') throw new WebRefusal('LOGIN_REQUIRED', { location: loginUrl(request, `${ctx.prefix}/account`) });
      passed.set(request, identity);
    },

    /**
     * An administrator whose session satisfies `mfa.required`: anonymous → LOGIN_REQUIRED,
     * others → ADMIN_REQUIRED, an administrator without a required factor → SECOND_FACTOR_FIRST
     * (the console's guard once ignored the policy: an admin without a factor kept the console).
     */
    admin: async function admin(request: FastifyRequest) {
      const identity = await ctx.identify(request);
      if (identity.kind !== 'user') throw new WebRefusal('LOGIN_REQUIRED', { location: loginUrl(request, `${ctx.prefix}/admin`) });
      if (!identity.user.isAdmin) throw new WebRefusal('ADMIN_REQUIRED', { identity });
      if (await mustEnrolFirst(ctx, identity)) {
        const navigating = request.method === 'GET' || request.method === 'HEAD';
        throw new WebRefusal('SECOND_FACTOR_FIRST', { identity, ...(navigating ? { location: enrolPath(ctx) } : {}), back: { href: enrolPath(ctx), label: 'Set it up' } });
      }
      passed.set(request, identity);
    },

    /**
     * A form of a signed-in page (after signedIn or admin): same origin, and the CSRF token of
     * this session (ASVS 5.0 V3.5). Refused: CSRF_FAILED, nothing changes.
     */
    sessionForm: async function sessionForm(request: FastifyRequest) {
      const identity = signedInOf(request);
      if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !ctx.csrf.verifySessionToken(formField(request.body, 'csrf'), identity.session.id)) {
        throw new WebRefusal('CSRF_FAILED', { identity, back: { href: request.headers.referer?.startsWith(ctx.expectedOrigin(request.scope)) ? request.headers.referer : `${ctx.prefix}/account`, label: 'Go back' } });
      }
    },
  };
}

export type Guards = ReturnType<typeof createGuards>;
