import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { addToGroup, setUserGroups } from '../accounts/groups.js';
import { createPasswordResetLink } from '../accounts/passwords.js';
import { unlinkProviderAccount } from '../accounts/sso-links.js';
import { deleteUser, isLastActiveAdmin, resetSecondFactors, setAdministrator, setUserStatus } from '../accounts/users.js';
import { gatewayLink } from '../auth/links.js';
import { canonicalUsername } from '../auth/usernames.js';
import { resetMessage } from '../mail/messages.js';
import type { User } from '../store/types.js';
import { accountRefusal } from './account-refusal.js';
import { listOf, type Admin, type AdminExtra, type AdminGuard } from './admin-guard.js';
import { PAGE_SIZE, renderUserPage, renderUsersPage, type InviteFormValues, type UserListQuery } from './admin-pages.js';
import { mailGoesToOutbox, type WebContext } from './context.js';
import { input, pageNumber, text, UserParams } from './input.js';
import { sendPage } from './login-routes.js';

const UsersQuery = z.object({
  q: text(100),
  status: z.enum(['', 'active', 'disabled', 'pending']).catch(''),
  sort: z.enum(['username', 'email', 'created', 'status']).catch('username'),
  dir: z.enum(['asc', 'desc']).catch('asc'),
  page: pageNumber(),
  done: text(40),
});
const StatusBody = z.object({ status: z.enum(['active', 'disabled']) });
const AdminBody = z.object({ admin: z.enum(['0', '1']) });
const GroupsBody = z.object({ groups: text(2000) });
const ResetLinkBody = z.object({ mail: z.literal('1').optional() });
const UnlinkBody = z.object({ provider: text(100) });
const DeleteBody = z.object({ confirm: text(100) });
/** Bulk actions: the ticked rows arrive as `user:<id>=1` (the form body keeps one value per name). */
const BulkBody = z
  .object({ action: z.enum(['disable', 'enable', 'add_group']), group: text(100) })
  .catchall(z.string().max(200))
  .refine((b) => b.action !== 'add_group' || b.group !== '', { message: 'Name the group to add them to.', path: ['group'] });

const compare = (sort: UserListQuery['sort']) => (a: User, b: User) =>
  sort === 'created' ? a.createdAt - b.createdAt : sort === 'email' ? (a.email ?? '\uffff').localeCompare(b.email ?? '\uffff') : sort === 'status' ? a.status.localeCompare(b.status) : a.username.localeCompare(b.username);

/** The console's users: the list (search, filter, sort, bulk actions, the invitation form) and one user's page and its actions. */
export function registerAdminUserRoutes(app: FastifyInstance, ctx: WebContext, guard: AdminGuard, doneInfo: (done: string) => string | undefined) {
  const { base, frame, actor, adminOf } = guard;

  async function showUsers(request: FastifyRequest, reply: FastifyReply, admin: Admin, status: number, extra: AdminExtra = {}, invite?: InviteFormValues) {
    const query = UsersQuery.parse(request.query ?? {});
    const needle = query.q.toLowerCase();
    const all = (await ctx.store.users.list())
      .filter((u) => !query.status || u.status === query.status)
      .filter((u) => !needle || u.username.includes(needle) || (u.email ?? '').toLowerCase().includes(needle) || (u.displayName ?? '').toLowerCase().includes(needle) || u.groups.some((g) => g.toLowerCase() === needle))
      .sort(compare(query.sort));
    if (query.dir === 'desc') all.reverse();
    const users = all.slice((query.page - 1) * PAGE_SIZE, query.page * PAGE_SIZE);
    const groups = (await ctx.store.groups.list()).map((g) => g.name);
    return sendPage(
      reply,
      status,
      renderUsersPage(ctx.branding, frame(admin, { info: doneInfo(query.done), ...extra }), {
        users,
        query,
        groups,
        hasNext: all.length > query.page * PAGE_SIZE,
        total: all.length,
        mailGoesToOutbox: mailGoesToOutbox(ctx.mailer),
        ...(invite ? { invite } : {}),
      }),
    );
  }

  app.get(`${base}/users`, { preHandler: guard.page }, async function listUsers(request, reply) {
    return showUsers(request, reply, adminOf(request), 200);
  });

  app.post(`${base}/users/bulk`, { preHandler: [...guard.form, input({ body: BulkBody })] }, async function bulkChange(request, reply) {
    const admin = adminOf(request);
    const body = request.body as z.infer<typeof BulkBody>;
    const ids = Object.keys(body).filter((k) => k.startsWith('user:') && body[k] === '1').map((k) => k.slice(5));
    if (ids.length === 0) return showUsers(request, reply, admin, 400, { error: 'Tick the users to change first.' });
    const refused: string[] = [];
    let changed = 0;
    for (const userId of ids.slice(0, 500)) {
      const user = /^[0-9a-f-]{36}$/.test(userId) ? await ctx.store.users.findById(userId) : null;
      if (!user) continue;
      if (body.action !== 'add_group' && user.id === admin.user.id) {
        refused.push(`${user.username}: not your own account (use its page)`);
        continue;
      }
      try {
        // Each user through accounts/, as one at a time would: the last active admin stays, the admins group follows the role.
        if (body.action === 'add_group') await addToGroup(ctx.accounts, actor(admin, request), body.group, user);
        else await setUserStatus(ctx.accounts, actor(admin, request), user, body.action === 'disable' ? 'disabled' : 'active');
        changed++;
      } catch (err) {
        refused.push(`${user.username}: ${accountRefusal(err).message}`);
      }
    }
    const verb = body.action === 'add_group' ? `added to ${body.group}` : body.action === 'disable' ? 'disabled' : 'enabled';
    return showUsers(request, reply, admin, refused.length && !changed ? 400 : 200, {
      info: `${changed} user${changed === 1 ? '' : 's'} ${verb}.`,
      ...(refused.length ? { error: `Not changed: ${refused.join('; ')}` } : {}),
    });
  });

  async function findUser(admin: Admin, request: FastifyRequest): Promise<User> {
    const user = await ctx.store.users.findById((request.params as z.infer<typeof UserParams>).id);
    if (!user) throw guard.notFound(admin, 'No such user', 'The user does not exist (any more).', { href: `${base}/users`, label: 'All users' });
    return user;
  }

  async function showUser(reply: FastifyReply, admin: Admin, user: User, status: number, extra: AdminExtra = {}) {
    const now = ctx.now();
    const sessions = (await ctx.store.sessions.listForUser(user.id)).filter((s) => s.expiresAt > now).sort((a, b) => b.lastSeenAt - a.lastSeenAt);
    const twoFactor = (await ctx.store.factors.totp(user.id))?.confirmedAt != null;
    const ssoLinks = await ctx.store.sso.listForUser(user.id);
    const passkeys = await ctx.store.factors.passkeysOf(user.id);
    const tokens = await ctx.apiTokens.list(user.id);
    const audit = await ctx.store.audit.list({ user: user.username, limit: 10 });
    return sendPage(
      reply,
      status,
      renderUserPage(ctx.branding, frame(admin, extra), { user, sessions, twoFactor, passkeys, tokens, audit, ssoLinks, lastAdmin: await isLastActiveAdmin(ctx.store, user.id) }),
    );
  }

  app.get(`${base}/users/:id`, { preHandler: [...guard.page, input({ params: UserParams, query: z.object({ done: text(40) }) })] }, async function showOneUser(request, reply) {
    const admin = adminOf(request);
    return showUser(reply, admin, await findUser(admin, request), 200, { info: doneInfo((request.query as { done: string }).done) });
  });

  /**
   * Registers a POST on one user: guards, the body's schema, the user (404 otherwise), then
   * `change`; a change accounts/ refuses is shown on the user's page with its reason.
   */
  function userAction<S extends z.ZodType>(path: string, body: S, change: (request: FastifyRequest, reply: FastifyReply, admin: Admin, user: User, body: z.infer<S>) => Promise<unknown>) {
    app.post(`${base}/users/:id${path}`, { preHandler: [...guard.form, input({ params: UserParams, body })] }, async (request, reply) => {
      const admin = adminOf(request);
      const user = await findUser(admin, request);
      try {
        return await change(request, reply, admin, user, request.body as z.infer<S>);
      } catch (err) {
        const refusal = accountRefusal(err);
        return showUser(reply, admin, user, refusal.status, { error: refusal.message });
      }
    });
  }
  const backToUser = (reply: FastifyReply, user: User, done: string) => reply.redirect(`${base}/users/${user.id}?done=${done}`, 303);

  userAction('/status', StatusBody, async (request, reply, admin, user, body) => {
    await setUserStatus(ctx.accounts, actor(admin, request), user, body.status);
    return backToUser(reply, user, 'status');
  });

  userAction('/admin', AdminBody, async (request, reply, admin, user, body) => {
    await setAdministrator(ctx.accounts, actor(admin, request), user, body.admin === '1');
    return backToUser(reply, user, 'admin');
  });

  userAction('/groups', GroupsBody, async (request, reply, admin, user, body) => {
    // The field shows "admins" for an administrator; the role, not the field, decides it.
    await setUserGroups(ctx.accounts, actor(admin, request), user, listOf(body.groups));
    return backToUser(reply, user, 'groups');
  });

  userAction('/reset-link', ResetLinkBody, async (request, reply, admin, user, body) => {
    const mail = body.mail === '1';
    if (mail && !user.email && user.status === 'active') return showUser(reply, admin, user, 400, { error: 'This user has no email address.' });
    const { token, expiresAt } = await createPasswordResetLink(ctx.accounts, actor(admin, request), user, { mailed: mail });
    const link = gatewayLink(ctx.linkBase(), ctx.prefix, 'reset', token);
    if (mail) {
      await ctx.mailer.send(resetMessage({ appName: ctx.branding.appName, to: user.email!, link, username: user.username, expiresAt }));
      if (mailGoesToOutbox(ctx.mailer)) {
        return showUser(reply, admin, user, 200, { info: 'No mail server is configured: the message was written to the outbox, not sent.', link: { label: `Password reset link for ${user.username}, valid 30 minutes.`, url: link } });
      }
      return showUser(reply, admin, user, 200, { info: `A reset link was sent to ${user.email}. It works once, for 30 minutes.` });
    }
    return showUser(reply, admin, user, 200, { link: { label: `Password reset link for ${user.username}, valid 30 minutes.`, url: link } });
  });

  userAction('/mfa-reset', z.object({}), async (request, reply, admin, user) => {
    await resetSecondFactors(ctx.accounts, actor(admin, request), user);
    return backToUser(reply, user, 'mfa');
  });

  userAction('/sso/unlink', UnlinkBody, async (request, reply, admin, user, body) => {
    await unlinkProviderAccount(ctx.accounts, actor(admin, request), user, body.provider);
    return backToUser(reply, user, 'sso_unlinked');
  });

  userAction('/sessions/revoke', z.object({}), async (request, reply, admin, user) => {
    const ended = await ctx.sessions.invalidateUserSessions(user.id, user.id === admin.user.id ? admin.session.id : undefined);
    await ctx.store.audit.record({ action: 'session.revoked', actor: admin.user.username, target: user.username, ip: request.scope.clientIp, detail: { count: ended, by: 'admin' } });
    return backToUser(reply, user, 'sessions');
  });

  userAction('/delete', DeleteBody, async (request, reply, admin, user, body) => {
    if (canonicalUsername(body.confirm) !== user.username) return showUser(reply, admin, user, 400, { error: `Type “${user.username}” to confirm.` });
    await deleteUser(ctx.accounts, actor(admin, request), user);
    return reply.redirect(`${base}/users?done=deleted`, 303);
  });

  return { showUsers };
}
