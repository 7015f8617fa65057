import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { currentActionName, recordedNamesOf } from '../accounts/audit-actions.js';
import { canonicalUsername } from '../auth/usernames.js';
import type { AdminGuard } from './admin-guard.js';
import { auditCsv, PAGE_SIZE, renderAuditPage, type AuditFilter } from './admin-pages.js';
import type { WebContext } from './context.js';
import { input, pageNumber, text } from './input.js';
import { sendPage } from './login-routes.js';

/** A day as the date input sends it, or '' (anything else is ignored, as an empty field is). */
const day = () => z.string().regex(/^\d{4}-\d{2}-\d{2}$/).catch('').default('');
const AuditQuery = z.object({ user: text(100), action: text(100), from: day(), to: day(), page: pageNumber() });

/** An entry shown under today's name of its event (older versions wrote `user.removed`, `password.change`). */
const underCurrentName = <T extends { action: string }>(entry: T): T => ({ ...entry, action: currentActionName(entry.action) });

/** The console's audit log: filtered, paged, exported as CSV (the export is itself audited). */
export function registerAdminAuditRoutes(app: FastifyInstance, ctx: WebContext, guard: AdminGuard) {
  const { base, frame, adminOf } = guard;

  function auditQuery(request: FastifyRequest): { filter: AuditFilter; page: number; options: { user?: string; action?: string | string[]; from?: number; to?: number } } {
    const { page, ...filter } = request.query as z.infer<typeof AuditQuery>;
    return {
      filter,
      page,
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

  app.get(`${base}/audit`, { preHandler: [...guard.page, input({ query: AuditQuery })] }, async function showAudit(request, reply) {
    const { filter, page, options } = auditQuery(request);
    const entries = await ctx.store.audit.list({ ...options, limit: PAGE_SIZE * 2 + 1, offset: (page - 1) * PAGE_SIZE * 2 });
    return sendPage(reply, 200, renderAuditPage(ctx.branding, frame(adminOf(request)), { entries: entries.slice(0, PAGE_SIZE * 2).map(underCurrentName), filter, page, hasNext: entries.length > PAGE_SIZE * 2 }));
  });

  app.get(`${base}/audit.csv`, { preHandler: [...guard.page, input({ query: AuditQuery })] }, async function exportAudit(request, reply) {
    const admin = adminOf(request);
    const { options } = auditQuery(request);
    const entries = await ctx.store.audit.list({ ...options, limit: 100_000 });
    await ctx.store.audit.record({ action: 'audit.exported', actor: admin.user.username, target: null, ip: request.scope.clientIp, detail: { entries: entries.length } });
    return reply
      .code(200)
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="dashgate-audit-${new Date(ctx.now()).toISOString().slice(0, 10)}.csv"`)
      .send(auditCsv(entries.map(underCurrentName)));
  });
}
