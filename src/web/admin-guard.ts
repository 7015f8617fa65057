import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../accounts/accounts.js';
import { isSameOriginRequest } from '../auth/csrf.js';
import type { Identity } from '../pipeline/identify.js';
import type { AdminFrame } from './admin-pages.js';
import { formField, type WebContext } from './context.js';
import { sendPage } from './login-routes.js';
import { renderMessagePage } from './pages.js';
import { renderRefusalPage } from './refusal-page.js';
import { enrolPath, mustEnrolFirst } from './second-factor-guard.js';

export type Admin = Extract<Identity, { kind: 'user' }>;
export type AdminExtra = Omit<Partial<AdminFrame>, 'csrf' | 'admin' | 'now'>;

/** What the admin console's route files share: who may use it and the frame every page gets. */
export function createAdminGuard(ctx: WebContext) {
  const base = `${ctx.prefix}/admin`;

  /** The signed-in admin, or null after answering: anonymous → sign in, others → 403, without a required factor → set one up. */
  async function requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<Admin | null> {
    const identity = await ctx.identify(request);
    if (identity.kind !== 'user') {
      const next = request.method === 'GET' ? request.url : base;
      await reply.redirect(`${ctx.prefix}/login?next=${encodeURIComponent(next)}`, 303);
      return null;
    }
    if (!identity.user.isAdmin) {
      reply.header('x-dashgate', 'admin-required');
      await sendPage(reply, 403, renderRefusalPage(ctx.branding, { title: 'Administrators only', message: 'This part of the gateway is for administrators.', code: 'admin-required', status: 403, at: { user: identity.user, path: request.method === 'GET' ? request.url : base } }));
      return null;
    }
    if (await mustEnrolFirst(ctx, identity)) {
      // The policy covers this administrator and they have no factor: the console waits until they set one up.
      if (request.method === 'GET' || request.method === 'HEAD') await reply.redirect(enrolPath(ctx), 303);
      else await sendPage(reply, 403, renderMessagePage(ctx.branding, { title: 'Set up two-factor sign-in first', message: 'Two-factor sign-in is required for administrators here. Set it up on your account page, then come back.', action: { href: enrolPath(ctx), label: 'Set it up' } }));
      return null;
    }
    return identity;
  }

  /** requireAdmin plus CSRF and same-origin checks, for every POST. */
  async function requireAdminForm(request: FastifyRequest, reply: FastifyReply): Promise<Admin | null> {
    const admin = await requireAdmin(request, reply);
    if (!admin) return null;
    if (isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) && ctx.csrf.verifySessionToken(formField(request.body, 'csrf'), admin.session.id)) return admin;
    await sendPage(reply, 403, renderMessagePage(ctx.branding, { title: 'Request refused', message: 'The form expired or came from another site. Go back, reload the page and try again.', action: { href: base, label: 'Back to the admin console' } }));
    return null;
  }

  return {
    base,
    requireAdmin,
    requireAdminForm,
    frame: (admin: Admin, extra: AdminExtra = {}): AdminFrame => ({ csrf: ctx.csrf.tokenForSession(admin.session.id), admin: admin.user, now: ctx.now(), ...extra }),
    /** The admin as the audit log names them. */
    actor: (admin: Admin, request: FastifyRequest): Actor => ({ name: admin.user.username, ip: request.scope.clientIp }),
    pageOf: (request: FastifyRequest) => Math.max(1, Math.min(10_000, Number.parseInt(String((request.query as Record<string, unknown>).page ?? '1'), 10) || 1)),
    notFound: (reply: FastifyReply, title: string, message: string, back: { href: string; label: string }) => sendPage(reply, 404, renderMessagePage(ctx.branding, { title, message, action: back })),
  };
}

export type AdminGuard = ReturnType<typeof createAdminGuard>;

/** Comma-separated names from a form field, trimmed, distinct. */
export function listField(body: unknown, name: string): string[] {
  return [...new Set(formField(body, name).split(',').map((g) => g.trim()).filter(Boolean))];
}
