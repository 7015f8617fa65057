import type { FastifyInstance, FastifyRequest } from 'fastify';
import { currentActionName, recordedNamesOf } from '../accounts/audit-actions.js';
import { canonicalUsername } from '../auth/usernames.js';
import { createAdminGuard } from './admin-guard.js';
import { registerAdminGroupRoutes } from './admin-group-routes.js';
import { auditCsv, PAGE_SIZE, renderAuditPage, renderSessionsPage, type AuditFilter } from './admin-pages.js';
import { registerAdminUserRoutes } from './admin-user-routes.js';
import type { WebContext } from './context.js';
import { formField } from './context.js';
import { sendPage } from './login-routes.js';

/** An entry shown under today's name of its event (older versions wrote `user.removed`, `password.change`). */
const underCurrentName = <T extends { action: string }>(entry: T): T => ({ ...entry, action: currentActionName(entry.action) });

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

/**
 * `/_dashgate/admin`: users, groups, invitations, sessions and the audit log, for administrators
 * only. Server-rendered, no JavaScript; every change is a POST with the admin session's CSRF token
 * from the same origin, made through accounts/ (which audits it with the admin as actor).
 */
export function registerAdminRoutes(app: FastifyInstance, ctx: WebContext): void {
  const guard = createAdminGuard(ctx);
  const { base, requireAdmin, requireAdminForm, frame } = guard;
  const doneInfo = (request: FastifyRequest) => DONE[String((request.query as Record<string, unknown>).done)];
  const audit = (username: string, request: FastifyRequest, action: 'session.revoked' | 'audit.exported', target: string | null, detail: Record<string, unknown>) =>
    ctx.store.audit.record({ action, actor: username, target, ip: request.scope.clientIp, detail });
  const pageOf = guard.pageOf;

  app.get(base, async function adminHome(request, reply) {
    if (!(await requireAdmin(request, reply))) return reply;
    return reply.redirect(`${base}/users`, 303);
  });

  const { showUsers } = registerAdminUserRoutes(app, ctx, guard, doneInfo);
  registerAdminGroupRoutes(app, ctx, guard, doneInfo, showUsers);

  // ---- sessions -----------------------------------------------------------------------------

  app.get(`${base}/sessions`, async function listSessions(request, reply) {
    const admin = await requireAdmin(request, reply);
    if (!admin) return reply;
    const page = pageOf(request);
    const rows = await ctx.store.sessions.listActive(ctx.now(), PAGE_SIZE + 1, (page - 1) * PAGE_SIZE);
    return sendPage(
      reply,
      200,
      renderSessionsPage(ctx.branding, frame(admin, { info: doneInfo(request) }), { sessions: rows.slice(0, PAGE_SIZE), page, hasNext: rows.length > PAGE_SIZE, currentSessionId: admin.session.id }),
    );
  });

  app.post(`${base}/sessions/revoke`, async function revokeSession(request, reply) {
    const admin = await requireAdminForm(request, reply);
    if (!admin) return reply;
    const record = await ctx.store.sessions.findById(formField(request.body, 'id'));
    if (record && record.id !== admin.session.id) {
      await ctx.sessions.invalidateSession(record.id);
      const owner = await ctx.store.users.findById(record.userId);
      await audit(admin.user.username, request, 'session.revoked', owner?.username ?? null, { session_ip: record.ip, by: 'admin' });
    }
    return reply.redirect(`${base}/sessions?done=sessions`, 303);
  });

  // ---- audit log ----------------------------------------------------------------------------

  function auditQuery(request: FastifyRequest): { filter: AuditFilter; options: { user?: string; action?: string | string[]; from?: number; to?: number } } {
    const q = request.query as Record<string, unknown>;
    const text = (name: string) => String(q[name] ?? '').trim().slice(0, 100);
    const day = (name: string) => (/^\d{4}-\d{2}-\d{2}$/.test(text(name)) ? text(name) : '');
    const filter: AuditFilter = { user: text('user'), action: text('action'), from: day('from'), to: day('to') };
    return {
      filter,
      options: {
        ...(filter.user ? { user: canonicalUsername(filter.user) } : {}),
        // An exact name also finds what older versions recorded for the same event.
        ...(filter.action ? { action: filter.action.endsWith('.') ? filter.action : recordedNamesOf(filter.action) } : {}),
        ...(filter.from ? { from: Date.parse(`${filter.from}T00:00:00Z`) } : {}),
        // "To" includes that whole day.
        ...(filter.to ? { to: Date.parse(`${filter.to}T00:00:00Z`) + 86_400_000 } : {}),
      },
    };
  }

  app.get(`${base}/audit`, async function showAudit(request, reply) {
    const admin = await requireAdmin(request, reply);
    if (!admin) return reply;
    const page = pageOf(request);
    const { filter, options } = auditQuery(request);
    const entries = await ctx.store.audit.list({ ...options, limit: PAGE_SIZE * 2 + 1, offset: (page - 1) * PAGE_SIZE * 2 });
    return sendPage(reply, 200, renderAuditPage(ctx.branding, frame(admin), { entries: entries.slice(0, PAGE_SIZE * 2).map(underCurrentName), filter, page, hasNext: entries.length > PAGE_SIZE * 2 }));
  });

  app.get(`${base}/audit.csv`, async function exportAudit(request, reply) {
    const admin = await requireAdmin(request, reply);
    if (!admin) return reply;
    const { options } = auditQuery(request);
    const entries = await ctx.store.audit.list({ ...options, limit: 100_000 });
    await audit(admin.user.username, request, 'audit.exported', null, { entries: entries.length });
    return reply
      .code(200)
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="dashgate-audit-${new Date(ctx.now()).toISOString().slice(0, 10)}.csv"`)
      .send(auditCsv(entries.map(underCurrentName)));
  });
}
