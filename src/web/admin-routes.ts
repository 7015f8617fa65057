import type { FastifyInstance } from 'fastify';
import { createAdminGuard } from './admin-guard.js';
import { registerAdminAuditRoutes } from './admin-audit-routes.js';
import { registerAdminGroupRoutes } from './admin-group-routes.js';
import { registerAdminInviteRoutes } from './admin-invite-routes.js';
import { registerAdminSessionRoutes } from './admin-session-routes.js';
import { registerAdminUserRoutes } from './admin-user-routes.js';
import { renderDashboardPage, SIGN_IN_FAILURES } from './dashboard-page.js';
import type { WebContext } from './context.js';
import { sendPage } from './login-routes.js';

const DONE: Record<string, string> = {
  status: 'Status changed. A disabled user is signed out everywhere.',
  admin: 'Role changed.',
  groups: 'Groups saved. They apply to the user’s next request.',
  sessions: 'Signed out.',
  mfa: 'Two-factor sign-in was reset: the user signs in with the password alone and can enrol again.',
  deleted: 'User deleted.',
  sso_unlinked: 'The single sign-on link was removed: that provider account no longer signs in as this user (a new link follows the provider’s rules at its next sign-in).',
  group: 'Group saved.',
  revoked: 'Invitation revoked.',
  approved: 'Approved: the account can sign in now.',
  rejected: 'Rejected: the account is deleted.',
};
const doneInfo = (done: string) => DONE[done];

/** Days the dashboard's chart covers. */
const CHART_DAYS = 14;

/**
 * `/_dashgate/admin`: a dashboard, users, groups, invitations and sign-ups, sessions and the
 * audit log, for administrators only; one route file per area. Server-rendered, no JavaScript;
 * every route lists its guards (admin; for a POST also the session's CSRF token from the same
 * origin) and declares its input with zod; every change goes through accounts/.
 */
export function registerAdminRoutes(app: FastifyInstance, ctx: WebContext): void {
  const guard = createAdminGuard(ctx);

  app.get(guard.base, { preHandler: guard.page }, async function showDashboard(request, reply) {
    const now = ctx.now();
    const today = Math.floor(now / 86_400_000);
    const users = await ctx.store.users.list();
    const counts = await ctx.store.audit.countByDay(['login.success', ...SIGN_IN_FAILURES], (today - CHART_DAYS + 1) * 86_400_000);
    const days = Array.from({ length: CHART_DAYS }, (_, i) => {
      const day = today - CHART_DAYS + 1 + i;
      const of = (actions: readonly string[]) => counts.filter((c) => c.day === day && actions.includes(c.action)).reduce((sum, c) => sum + c.count, 0);
      return { day, signIns: of(['login.success']), failures: of(SIGN_IN_FAILURES) };
    });
    return sendPage(
      reply,
      200,
      renderDashboardPage(ctx.branding, guard.frame(guard.adminOf(request)), {
        users: { total: users.length, active: users.filter((u) => u.status === 'active').length, pending: users.filter((u) => u.status === 'pending').length, admins: users.filter((u) => u.isAdmin).length },
        activeSessions: await ctx.store.sessions.countActive(now),
        openInvites: (await ctx.store.invites.listOpen(now)).length,
        days,
      }),
    );
  });

  const { showUsers } = registerAdminUserRoutes(app, ctx, guard, doneInfo);
  registerAdminGroupRoutes(app, ctx, guard, doneInfo);
  registerAdminInviteRoutes(app, ctx, guard, doneInfo, showUsers);
  registerAdminSessionRoutes(app, ctx, guard, doneInfo);
  registerAdminAuditRoutes(app, ctx, guard);
}
