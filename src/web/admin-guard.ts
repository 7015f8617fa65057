import type { FastifyRequest } from 'fastify';
import type { Actor } from '../accounts/accounts.js';
import type { AdminFrame } from './admin-pages.js';
import type { WebContext } from './context.js';
import { createGuards, signedInOf, type SignedIn } from './guards.js';
import { WebRefusal } from './web-refusal.js';

export type Admin = SignedIn;
export type AdminExtra = Omit<Partial<AdminFrame>, 'csrf' | 'admin' | 'now'>;

/** What the admin console's route files share: the guards every route lists and the frame every page gets. */
export function createAdminGuard(ctx: WebContext) {
  const base = `${ctx.prefix}/admin`;
  const guards = createGuards(ctx);

  return {
    base,
    /** preHandlers of a console page. */
    page: [guards.admin],
    /** preHandlers of a console form: the admin, then the session's CSRF token from the same origin. */
    form: [guards.admin, guards.sessionForm],
    /** The admin the guards let through. */
    adminOf: (request: FastifyRequest): Admin => signedInOf(request),
    frame: (admin: Admin, extra: AdminExtra = {}): AdminFrame => ({ csrf: ctx.csrf.tokenForSession(admin.session.id), admin: admin.user, now: ctx.now(), ...extra }),
    /** The admin as the audit log names them. */
    actor: (admin: Admin, request: FastifyRequest): Actor => ({ name: admin.user.username, ip: request.scope.clientIp }),
    /** NOT_FOUND for something the console links to that is gone. */
    notFound: (admin: Admin, title: string, message: string, back: { href: string; label: string }) => new WebRefusal('NOT_FOUND', { identity: admin, title, message, back }),
  };
}

export type AdminGuard = ReturnType<typeof createAdminGuard>;

/** Comma-separated names, trimmed, distinct. */
export function listOf(value: string): string[] {
  return [...new Set(value.split(',').map((g) => g.trim()).filter(Boolean))];
}
