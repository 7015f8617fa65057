import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AdminGuard } from './admin-guard.js';
import { PAGE_SIZE, renderSessionsPage } from './admin-pages.js';
import type { WebContext } from './context.js';
import { input, pageNumber, text } from './input.js';
import { sendPage } from './login-routes.js';

const SessionsQuery = z.object({ page: pageNumber(), done: text(40) });
const RevokeBody = z.object({ id: z.string().max(200).default('') });

/** The console's active sessions: every signed-in browser, and signing one out. */
export function registerAdminSessionRoutes(app: FastifyInstance, ctx: WebContext, guard: AdminGuard, doneInfo: (done: string) => string | undefined) {
  const { base, frame, adminOf } = guard;

  app.get(`${base}/sessions`, { preHandler: [...guard.page, input({ query: SessionsQuery })] }, async function listSessions(request, reply) {
    const admin = adminOf(request);
    const { page, done } = request.query as z.infer<typeof SessionsQuery>;
    const rows = await ctx.store.sessions.listActive(ctx.now(), PAGE_SIZE + 1, (page - 1) * PAGE_SIZE);
    return sendPage(reply, 200, renderSessionsPage(ctx.branding, frame(admin, { info: doneInfo(done) }), { sessions: rows.slice(0, PAGE_SIZE), page, hasNext: rows.length > PAGE_SIZE, currentSessionId: admin.session.id }));
  });

  app.post(`${base}/sessions/revoke`, { preHandler: [...guard.form, input({ body: RevokeBody })] }, async function revokeSession(request, reply) {
    const admin = adminOf(request);
    const record = await ctx.store.sessions.findById((request.body as z.infer<typeof RevokeBody>).id);
    if (record && record.id !== admin.session.id) {
      await ctx.sessions.invalidateSession(record.id);
      const owner = await ctx.store.users.findById(record.userId);
      await ctx.store.audit.record({ action: 'session.revoked', actor: admin.user.username, target: owner?.username ?? null, ip: request.scope.clientIp, detail: { session_ip: record.ip, by: 'admin' } });
    }
    return reply.redirect(`${base}/sessions?done=sessions`, 303);
  });
}
