import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { addToGroup, createGroup, deleteGroup, removeFromGroup, renameGroup } from '../accounts/groups.js';
import { canonicalUsername } from '../auth/usernames.js';
import { accountRefusal } from './account-refusal.js';
import type { Admin, AdminExtra, AdminGuard } from './admin-guard.js';
import { renderGroupPage, renderGroupsPage } from './admin-pages.js';
import type { WebContext } from './context.js';
import { input, text } from './input.js';
import { sendPage } from './login-routes.js';

const GroupParams = z.object({ name: z.string().max(200) });
const Done = z.object({ done: text(40) });

/** The console's groups: the list, one group's members, and their changes, all through accounts/; a refused change is shown with its reason. */
export function registerAdminGroupRoutes(app: FastifyInstance, ctx: WebContext, guard: AdminGuard, doneInfo: (done: string) => string | undefined) {
  const { base, frame, actor, adminOf } = guard;

  const showGroups = async (reply: FastifyReply, admin: Admin, status: number, extra: AdminExtra = {}) =>
    sendPage(reply, status, renderGroupsPage(ctx.branding, frame(admin, extra), { groups: await ctx.store.groups.list() }));

  async function showGroup(reply: FastifyReply, admin: Admin, name: string, status: number, extra: AdminExtra = {}) {
    const members = await ctx.store.groups.members(name);
    if (members === null) throw guard.notFound(admin, 'No such group', `There is no group “${name}”.`, { href: `${base}/groups`, label: 'All groups' });
    return sendPage(reply, status, renderGroupPage(ctx.branding, frame(admin, extra), { name, members }));
  }

  /** A groups POST: guards and schema, then `change`; an AccountError is shown by `show`. */
  function groupPost<S extends z.ZodType>(path: string, body: S, show: (request: FastifyRequest, reply: FastifyReply, admin: Admin, status: number, extra: AdminExtra) => Promise<unknown>, change: (request: FastifyRequest, reply: FastifyReply, admin: Admin, body: z.infer<S>) => Promise<unknown>) {
    app.post(path, { preHandler: [...guard.form, input({ body, ...(path.includes(':name') ? { params: GroupParams } : {}) })] }, async (request, reply) => {
      const admin = adminOf(request);
      try {
        return await change(request, reply, admin, request.body as z.infer<S>);
      } catch (err) {
        const refusal = accountRefusal(err);
        return show(request, reply, admin, refusal.status, { error: refusal.message });
      }
    });
  }
  const onGroups = (_request: FastifyRequest, reply: FastifyReply, admin: Admin, status: number, extra: AdminExtra) => showGroups(reply, admin, status, extra);
  const groupOf = (request: FastifyRequest) => (request.params as z.infer<typeof GroupParams>).name;
  const onGroup = (request: FastifyRequest, reply: FastifyReply, admin: Admin, status: number, extra: AdminExtra) => showGroup(reply, admin, groupOf(request), status, extra);

  app.get(`${base}/groups`, { preHandler: [...guard.page, input({ query: Done })] }, async function listGroups(request, reply) {
    return showGroups(reply, adminOf(request), 200, { info: doneInfo((request.query as z.infer<typeof Done>).done) });
  });

  groupPost(`${base}/groups`, z.object({ name: text(100) }), onGroups, async (request, reply, admin, body) => {
    await createGroup(ctx.accounts, actor(admin, request), body.name);
    return reply.redirect(`${base}/groups?done=group`, 303);
  });

  groupPost(`${base}/groups/rename`, z.object({ from: z.string().max(200).default(''), to: text(100) }), onGroups, async (request, reply, admin, body) => {
    await renameGroup(ctx.accounts, actor(admin, request), body.from, body.to);
    return reply.redirect(`${base}/groups?done=group`, 303);
  });

  groupPost(`${base}/groups/delete`, z.object({ name: z.string().max(200).default('') }), onGroups, async (request, reply, admin, body) => {
    await deleteGroup(ctx.accounts, actor(admin, request), body.name);
    return reply.redirect(`${base}/groups?done=group`, 303);
  });

  app.get(`${base}/groups/:name`, { preHandler: [...guard.page, input({ params: GroupParams, query: Done })] }, async function showOneGroup(request, reply) {
    return showGroup(reply, adminOf(request), groupOf(request), 200, { info: doneInfo((request.query as z.infer<typeof Done>).done) });
  });

  for (const verb of ['add', 'remove'] as const) {
    groupPost(`${base}/groups/:name/members${verb === 'remove' ? '/remove' : ''}`, z.object({ username: text(100) }), onGroup, async (request, reply, admin, body) => {
      const group = groupOf(request);
      if ((await ctx.store.groups.members(group)) === null) return showGroup(reply, admin, group, 404);
      const user = await ctx.store.users.findByUsername(canonicalUsername(body.username));
      if (!user) return showGroup(reply, admin, group, 404, { error: 'No such user.' });
      await (verb === 'add' ? addToGroup : removeFromGroup)(ctx.accounts, actor(admin, request), group, user);
      return reply.redirect(`${base}/groups/${encodeURIComponent(group)}?done=group`, 303);
    });
  }
}
