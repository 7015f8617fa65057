import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { addToGroup, createGroup, deleteGroup, removeFromGroup, renameGroup } from '../accounts/groups.js';
import { inviteUser, revokeInvite } from '../accounts/invitations.js';
import { approveSignUp, rejectSignUp } from '../accounts/signups.js';
import { gatewayLink } from '../auth/links.js';
import { canonicalUsername } from '../auth/usernames.js';
import { parseDuration } from '../config/duration.js';
import { inviteMessage } from '../mail/messages.js';
import { accountRefusal } from './account-refusal.js';
import { listField, type Admin, type AdminExtra, type AdminGuard } from './admin-guard.js';
import { renderGroupPage, renderGroupsPage, renderInvitesPage, renderSignupsPage, type InviteFormValues } from './admin-pages.js';
import { formField, mailGoesToOutbox, type WebContext } from './context.js';
import { sendPage } from './login-routes.js';

const INVITE_EXPIRIES = new Set(['1d', '7d', '30d', '90d']);

type Show = (reply: FastifyReply, admin: Admin, status: number, extra?: AdminExtra) => Promise<unknown>;

/** The console's groups, invitations and sign-ups. Every change goes through accounts/; a refused one is shown with its reason. */
export function registerAdminGroupRoutes(
  app: FastifyInstance,
  ctx: WebContext,
  guard: AdminGuard,
  doneInfo: (request: FastifyRequest) => string | undefined,
  showUsers: (request: FastifyRequest, reply: FastifyReply, admin: Admin, status: number, extra?: AdminExtra, invite?: InviteFormValues) => Promise<unknown>,
) {
  const { base, requireAdmin, requireAdminForm, frame, actor } = guard;

  /** A console POST: the admin and form checked, `change` run, an AccountError shown by `show`. */
  function adminPost(path: string, show: (request: FastifyRequest) => Show, change: (request: FastifyRequest, reply: FastifyReply, admin: Admin) => Promise<unknown>) {
    app.post(path, async (request, reply) => {
      const admin = await requireAdminForm(request, reply);
      if (!admin) return reply;
      try {
        return await change(request, reply, admin);
      } catch (err) {
        const refusal = accountRefusal(err);
        return show(request)(reply, admin, refusal.status, { error: refusal.message });
      }
    });
  }

  // ---- invitations --------------------------------------------------------------------------

  const showInvites: Show = async (reply, admin, status, extra = {}) => sendPage(reply, status, renderInvitesPage(ctx.branding, frame(admin, extra), { invites: await ctx.store.invites.listOpen(ctx.now()) }));

  const inviteValues = (body: unknown): InviteFormValues => ({ email: formField(body, 'email').trim(), groups: formField(body, 'groups'), expires: formField(body, 'expires'), admin: formField(body, 'admin') === '1' });
  // A refused invitation is shown on the Users page with the form as it was sent.
  const showInviteForm = (request: FastifyRequest): Show => (reply, admin, status, extra) => showUsers(request, reply, admin, status, extra, inviteValues(request.body));

  adminPost(`${base}/invites`, showInviteForm, async (request, reply, admin) => {
    const body = request.body;
    const expires = formField(body, 'expires');
    if (!INVITE_EXPIRIES.has(expires)) return showInviteForm(request)(reply, admin, 400, { error: 'Choose how long the link works.' });
    const email = formField(body, 'email').trim() || null;
    const { token, invite } = await inviteUser(ctx.accounts, actor(admin, request), { email, groups: listField(body, 'groups'), isAdmin: formField(body, 'admin') === '1', ttlMs: parseDuration(expires)! });
    const link = gatewayLink(ctx.linkBase(), ctx.prefix, 'invite', token);
    let info: string | undefined;
    if (invite.email) {
      try {
        await ctx.mailer.send(inviteMessage({ appName: ctx.branding.appName, to: invite.email, link, invitedBy: admin.user.displayName ?? admin.user.username, expiresAt: invite.expiresAt }));
        // Without a mail server the message is only written to the outbox: nobody received it yet.
        info = mailGoesToOutbox(ctx.mailer)
          ? `No mail server is configured: the invitation for ${invite.email} was written to the outbox, not sent. Pass the link below on yourself.`
          : `The invitation was sent to ${invite.email}.`;
      } catch (err) {
        request.log.error({ err, to: invite.email }, 'invitation mail failed');
        info = `The invitation could not be mailed to ${invite.email}; pass the link on yourself.`;
      }
    }
    return showInvites(reply, admin, 200, { info, link: { label: `Invitation link${invite.email ? ` for ${invite.email}` : ''}.`, url: link } });
  });

  app.get(`${base}/invites`, async function listInvites(request, reply) {
    const admin = await requireAdmin(request, reply);
    return admin ? showInvites(reply, admin, 200, { info: doneInfo(request) }) : reply;
  });

  adminPost(`${base}/invites/revoke`, () => showInvites, async (request, reply, admin) => {
    await revokeInvite(ctx.accounts, actor(admin, request), formField(request.body, 'id'));
    return reply.redirect(`${base}/invites?done=revoked`, 303);
  });

  // ---- sign-ups ----------------------------------------------------------------------------

  const showSignups: Show = async (reply, admin, status, extra = {}) => {
    const pending = (await ctx.store.users.list()).filter((u) => u.status === 'pending');
    const verified = await ctx.store.emailTokens.usedBy('verify', pending.map((u) => u.id));
    return sendPage(reply, status, renderSignupsPage(ctx.branding, frame(admin, extra), { pending: pending.map((user) => ({ user, verified: verified.has(user.id) })), mode: ctx.signup.mode }));
  };

  app.get(`${base}/signups`, async function listSignups(request, reply) {
    const admin = await requireAdmin(request, reply);
    return admin ? showSignups(reply, admin, 200, { info: doneInfo(request) }) : reply;
  });

  for (const verb of ['approve', 'reject'] as const) {
    adminPost(`${base}/signups/${verb}`, () => showSignups, async (request, reply, admin) => {
      const user = await ctx.store.users.findById(formField(request.body, 'id'));
      if (!user) return showSignups(reply, admin, 404, { error: 'That sign-up was already decided.' });
      await (verb === 'approve' ? approveSignUp : rejectSignUp)(ctx.accounts, actor(admin, request), user);
      return reply.redirect(`${base}/signups?done=${verb === 'approve' ? 'approved' : 'rejected'}`, 303);
    });
  }

  // ---- groups -------------------------------------------------------------------------------

  const showGroups: Show = async (reply, admin, status, extra = {}) => sendPage(reply, status, renderGroupsPage(ctx.branding, frame(admin, extra), { groups: await ctx.store.groups.list() }));

  app.get(`${base}/groups`, async function listGroups(request, reply) {
    const admin = await requireAdmin(request, reply);
    return admin ? showGroups(reply, admin, 200, { info: doneInfo(request) }) : reply;
  });

  adminPost(`${base}/groups`, () => showGroups, async (request, reply, admin) => {
    await createGroup(ctx.accounts, actor(admin, request), formField(request.body, 'name').trim());
    return reply.redirect(`${base}/groups?done=group`, 303);
  });

  adminPost(`${base}/groups/rename`, () => showGroups, async (request, reply, admin) => {
    await renameGroup(ctx.accounts, actor(admin, request), formField(request.body, 'from'), formField(request.body, 'to').trim());
    return reply.redirect(`${base}/groups?done=group`, 303);
  });

  adminPost(`${base}/groups/delete`, () => showGroups, async (request, reply, admin) => {
    await deleteGroup(ctx.accounts, actor(admin, request), formField(request.body, 'name'));
    return reply.redirect(`${base}/groups?done=group`, 303);
  });

  const groupOf = (request: FastifyRequest) => (request.params as { name: string }).name;
  async function showGroup(reply: FastifyReply, admin: Admin, name: string, status: number, extra: AdminExtra = {}) {
    const members = await ctx.store.groups.members(name);
    if (members === null) return guard.notFound(reply, 'No such group', `There is no group “${name}”.`, { href: `${base}/groups`, label: 'All groups' });
    return sendPage(reply, status, renderGroupPage(ctx.branding, frame(admin, extra), { name, members }));
  }

  app.get(`${base}/groups/:name`, async function showOneGroup(request, reply) {
    const admin = await requireAdmin(request, reply);
    return admin ? showGroup(reply, admin, groupOf(request), 200, { info: doneInfo(request) }) : reply;
  });

  for (const verb of ['add', 'remove'] as const) {
    const showThisGroup = (request: FastifyRequest): Show => (reply, admin, status, extra) => showGroup(reply, admin, groupOf(request), status, extra);
    adminPost(`${base}/groups/:name/members${verb === 'remove' ? '/remove' : ''}`, showThisGroup, async (request, reply, admin) => {
      const group = groupOf(request);
      if ((await ctx.store.groups.members(group)) === null) return showGroup(reply, admin, group, 404);
      const user = await ctx.store.users.findByUsername(canonicalUsername(formField(request.body, 'username')));
      if (!user) return showGroup(reply, admin, group, 404, { error: 'No such user.' });
      await (verb === 'add' ? addToGroup : removeFromGroup)(ctx.accounts, actor(admin, request), group, user);
      return reply.redirect(`${base}/groups/${encodeURIComponent(group)}?done=group`, 303);
    });
  }
}
