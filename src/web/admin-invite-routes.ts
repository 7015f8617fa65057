import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { inviteUser, revokeInvite } from '../accounts/invitations.js';
import { approveSignUp, rejectSignUp } from '../accounts/signups.js';
import { gatewayLink } from '../auth/links.js';
import { parseDuration } from '../config/duration.js';
import { inviteMessage } from '../mail/messages.js';
import { accountRefusal } from './account-refusal.js';
import { listOf, type Admin, type AdminExtra, type AdminGuard } from './admin-guard.js';
import { renderInvitesPage, renderSignupsPage, type InviteFormValues } from './admin-pages.js';
import { mailGoesToOutbox, type WebContext } from './context.js';
import { input, text } from './input.js';
import { sendPage } from './login-routes.js';

const InviteBody = z.object({ email: text(320), groups: text(2000), expires: z.string().max(10).default(''), admin: z.literal('1').optional() });
const IdBody = z.object({ id: z.string().max(200).default('') });
const Done = z.object({ done: text(40) });
const INVITE_EXPIRIES = new Set(['1d', '7d', '30d', '90d']);

type ShowUsers = (request: FastifyRequest, reply: FastifyReply, admin: Admin, status: number, extra?: AdminExtra, invite?: InviteFormValues) => Promise<unknown>;

/** The console's invitations (made on the Users page, listed and revoked here) and pending sign-ups. */
export function registerAdminInviteRoutes(app: FastifyInstance, ctx: WebContext, guard: AdminGuard, doneInfo: (done: string) => string | undefined, showUsers: ShowUsers) {
  const { base, frame, actor, adminOf } = guard;

  const showInvites = async (reply: FastifyReply, admin: Admin, status: number, extra: AdminExtra = {}) =>
    sendPage(reply, status, renderInvitesPage(ctx.branding, frame(admin, extra), { invites: await ctx.store.invites.listOpen(ctx.now()) }));

  app.post(`${base}/invites`, { preHandler: [...guard.form, input({ body: InviteBody })] }, async function createInvitation(request, reply) {
    const admin = adminOf(request);
    const body = request.body as z.infer<typeof InviteBody>;
    // A refused invitation is shown on the Users page with the form as it was sent.
    const values: InviteFormValues = { email: body.email, groups: body.groups, expires: body.expires, admin: body.admin === '1' };
    if (!INVITE_EXPIRIES.has(body.expires)) return showUsers(request, reply, admin, 400, { error: 'Choose how long the link works.' }, values);
    let made;
    try {
      made = await inviteUser(ctx.accounts, actor(admin, request), { email: body.email || null, groups: listOf(body.groups), isAdmin: body.admin === '1', ttlMs: parseDuration(body.expires)! });
    } catch (err) {
      const refusal = accountRefusal(err);
      return showUsers(request, reply, admin, refusal.status, { error: refusal.message }, values);
    }
    const { token, invite } = made;
    const link = gatewayLink(ctx.linkBase(), ctx.prefix, 'invite', token);
    let info: string | undefined;
    if (invite.email) {
      try {
        await ctx.mailer.send(inviteMessage({ appName: ctx.branding.appName, to: invite.email, link, invitedBy: admin.user.displayName ?? admin.user.username, expiresAt: invite.expiresAt }));
        // Without a mail server the message is only written to the outbox: nobody has received it.
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

  app.get(`${base}/invites`, { preHandler: [...guard.page, input({ query: Done })] }, async function listInvites(request, reply) {
    return showInvites(reply, adminOf(request), 200, { info: doneInfo((request.query as z.infer<typeof Done>).done) });
  });

  app.post(`${base}/invites/revoke`, { preHandler: [...guard.form, input({ body: IdBody })] }, async function revokeInvitation(request, reply) {
    const admin = adminOf(request);
    try {
      await revokeInvite(ctx.accounts, actor(admin, request), (request.body as z.infer<typeof IdBody>).id);
    } catch (err) {
      const refusal = accountRefusal(err);
      return showInvites(reply, admin, refusal.status, { error: refusal.message });
    }
    return reply.redirect(`${base}/invites?done=revoked`, 303);
  });

  const showSignups = async (reply: FastifyReply, admin: Admin, status: number, extra: AdminExtra = {}) => {
    const pending = (await ctx.store.users.list()).filter((u) => u.status === 'pending');
    const verified = await ctx.store.emailTokens.usedBy('verify', pending.map((u) => u.id));
    return sendPage(reply, status, renderSignupsPage(ctx.branding, frame(admin, extra), { pending: pending.map((user) => ({ user, verified: verified.has(user.id) })), mode: ctx.signup.mode }));
  };

  app.get(`${base}/signups`, { preHandler: [...guard.page, input({ query: Done })] }, async function listSignups(request, reply) {
    return showSignups(reply, adminOf(request), 200, { info: doneInfo((request.query as z.infer<typeof Done>).done) });
  });

  for (const verb of ['approve', 'reject'] as const) {
    app.post(`${base}/signups/${verb}`, { preHandler: [...guard.form, input({ body: IdBody })] }, async (request, reply) => {
      const admin = adminOf(request);
      const user = await ctx.store.users.findById((request.body as z.infer<typeof IdBody>).id);
      if (!user) return showSignups(reply, admin, 404, { error: 'That sign-up was already decided.' });
      try {
        await (verb === 'approve' ? approveSignUp : rejectSignUp)(ctx.accounts, actor(admin, request), user);
      } catch (err) {
        const refusal = accountRefusal(err);
        return showSignups(reply, admin, refusal.status, { error: refusal.message });
      }
      return reply.redirect(`${base}/signups?done=${verb === 'approve' ? 'approved' : 'rejected'}`, 303);
    });
  }
}
