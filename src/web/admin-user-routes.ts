import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { setUserGroups } from '../accounts/groups.js';
import { createPasswordResetLink } from '../accounts/passwords.js';
import { unlinkProviderAccount } from '../accounts/sso-links.js';
import { deleteUser, isLastActiveAdmin, resetSecondFactors, setAdministrator, setUserStatus } from '../accounts/users.js';
import { gatewayLink } from '../auth/links.js';
import { canonicalUsername } from '../auth/usernames.js';
import { resetMessage } from '../mail/messages.js';
import type { User } from '../store/types.js';
import { accountRefusal } from './account-refusal.js';
import { listField, type Admin, type AdminExtra, type AdminGuard } from './admin-guard.js';
import { PAGE_SIZE, renderUserPage, renderUsersPage, type InviteFormValues } from './admin-pages.js';
import { formField, mailGoesToOutbox, type WebContext } from './context.js';
import { sendPage } from './login-routes.js';

/** The console's users: the list (with the invitation form) and one user's page and its actions. */
export function registerAdminUserRoutes(app: FastifyInstance, ctx: WebContext, guard: AdminGuard, doneInfo: (request: FastifyRequest) => string | undefined) {
  const { base, requireAdmin, requireAdminForm, frame, actor } = guard;

  async function showUsers(request: FastifyRequest, reply: FastifyReply, admin: Admin, status: number, extra: AdminExtra = {}, invite?: InviteFormValues) {
    const q = String((request.query as Record<string, unknown>).q ?? '').trim().slice(0, 100);
    const page = guard.pageOf(request);
    const needle = q.toLowerCase();
    const all = (await ctx.store.users.list()).filter(
      (u) => !needle || u.username.includes(needle) || (u.email ?? '').toLowerCase().includes(needle) || (u.displayName ?? '').toLowerCase().includes(needle) || u.groups.some((g) => g.toLowerCase() === needle),
    );
    const users = all.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
    return sendPage(reply, status, renderUsersPage(ctx.branding, frame(admin, { info: doneInfo(request), ...extra }), { users, q, page, hasNext: all.length > page * PAGE_SIZE, total: all.length, mailGoesToOutbox: mailGoesToOutbox(ctx.mailer), ...(invite ? { invite } : {}) }));
  }

  app.get(`${base}/users`, async function listUsers(request, reply) {
    const admin = await requireAdmin(request, reply);
    return admin ? showUsers(request, reply, admin, 200) : reply;
  });

  async function findUser(request: FastifyRequest): Promise<User | null> {
    const id = (request.params as { id?: string }).id ?? '';
    return /^[0-9a-f-]{36}$/.test(id) ? ctx.store.users.findById(id) : null;
  }
  const noSuchUser = (reply: FastifyReply) => guard.notFound(reply, 'No such user', 'The user does not exist (any more).', { href: `${base}/users`, label: 'All users' });

  async function showUser(reply: FastifyReply, admin: Admin, user: User, status: number, extra: AdminExtra = {}) {
    const now = ctx.now();
    const sessions = (await ctx.store.sessions.listForUser(user.id)).filter((s) => s.expiresAt > now);
    const twoFactor = (await ctx.store.factors.totp(user.id))?.confirmedAt != null;
    const ssoLinks = await ctx.store.sso.listForUser(user.id);
    return sendPage(reply, status, renderUserPage(ctx.branding, frame(admin, extra), { user, sessions, twoFactor, ssoLinks, lastAdmin: await isLastActiveAdmin(ctx.store, user.id) }));
  }

  app.get(`${base}/users/:id`, async function showOneUser(request, reply) {
    const admin = await requireAdmin(request, reply);
    if (!admin) return reply;
    const user = await findUser(request);
    return user ? showUser(reply, admin, user, 200, { info: doneInfo(request) }) : noSuchUser(reply);
  });

  /**
   * Registers a POST on one user: finds the user (404 otherwise) and runs `change`; a change
   * accounts/ refuses is shown on the user's page with its reason.
   */
  function userAction(path: string, change: (request: FastifyRequest, reply: FastifyReply, admin: Admin, user: User) => Promise<unknown>) {
    app.post(`${base}/users/:id${path}`, async (request, reply) => {
      const admin = await requireAdminForm(request, reply);
      if (!admin) return reply;
      const user = await findUser(request);
      if (!user) return noSuchUser(reply);
      try {
        return await change(request, reply, admin, user);
      } catch (err) {
        const refusal = accountRefusal(err);
        return showUser(reply, admin, user, refusal.status, { error: refusal.message });
      }
    });
  }
  const backToUser = (reply: FastifyReply, user: User, done: string) => reply.redirect(`${base}/users/${user.id}?done=${done}`, 303);

  userAction('/status', async (request, reply, admin, user) => {
    const status = formField(request.body, 'status');
    if (status !== 'active' && status !== 'disabled') return showUser(reply, admin, user, 400, { error: 'Unknown status.' });
    await setUserStatus(ctx.accounts, actor(admin, request), user, status);
    return backToUser(reply, user, 'status');
  });

  userAction('/admin', async (request, reply, admin, user) => {
    await setAdministrator(ctx.accounts, actor(admin, request), user, formField(request.body, 'admin') === '1');
    return backToUser(reply, user, 'admin');
  });

  userAction('/groups', async (request, reply, admin, user) => {
    // The field shows "admins" for an administrator; the role, not the field, decides it.
    await setUserGroups(ctx.accounts, actor(admin, request), user, listField(request.body, 'groups'));
    return backToUser(reply, user, 'groups');
  });

  userAction('/reset-link', async (request, reply, admin, user) => {
    const mail = formField(request.body, 'mail') === '1';
    if (mail && !user.email && user.status === 'active') return showUser(reply, admin, user, 400, { error: 'This user has no email address.' });
    const { token, expiresAt } = await createPasswordResetLink(ctx.accounts, actor(admin, request), user, { mailed: mail });
    const link = gatewayLink(ctx.linkBase(), ctx.prefix, 'reset', token);
    if (mail) {
      await ctx.mailer.send(resetMessage({ appName: ctx.branding.appName, to: user.email!, link, username: user.username, expiresAt }));
      return showUser(reply, admin, user, 200, { info: `A reset link was sent to ${user.email}. It works once, for 30 minutes.` });
    }
    return showUser(reply, admin, user, 200, { link: { label: `Password reset link for ${user.username}, valid 30 minutes.`, url: link } });
  });

  userAction('/mfa-reset', async (request, reply, admin, user) => {
    await resetSecondFactors(ctx.accounts, actor(admin, request), user);
    return backToUser(reply, user, 'mfa');
  });

  userAction('/sso/unlink', async (request, reply, admin, user) => {
    await unlinkProviderAccount(ctx.accounts, actor(admin, request), user, formField(request.body, 'provider'));
    return backToUser(reply, user, 'sso_unlinked');
  });

  userAction('/sessions/revoke', async (request, reply, admin, user) => {
    const ended = await ctx.sessions.invalidateUserSessions(user.id, user.id === admin.user.id ? admin.session.id : undefined);
    await ctx.store.audit.record({ action: 'session.revoked', actor: admin.user.username, target: user.username, ip: request.scope.clientIp, detail: { count: ended, by: 'admin' } });
    return backToUser(reply, user, 'sessions');
  });

  userAction('/delete', async (request, reply, admin, user) => {
    if (canonicalUsername(formField(request.body, 'confirm')) !== user.username) return showUser(reply, admin, user, 400, { error: `Type “${user.username}” to confirm.` });
    await deleteUser(ctx.accounts, actor(admin, request), user);
    return reply.redirect(`${base}/users?done=deleted`, 303);
  });

  return { showUsers };
}
