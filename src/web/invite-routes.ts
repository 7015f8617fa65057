import type { FastifyInstance } from 'fastify';
import { isSameOriginRequest } from '../auth/csrf.js';
import { findOpenInvite } from '../auth/links.js';
import { hashPassword } from '../auth/passwords.js';
import { passwordProblem } from '../auth/password-policy.js';
import { canonicalUsername, usernameProblem } from '../auth/usernames.js';
import { formField, type WebContext } from './context.js';
import { renderInvitePage } from './flow-pages.js';
import { sendPage, startSession } from './login-routes.js';
import { renderMessagePage } from './pages.js';

/** `/_dashgate/invite?token=…`: an invitee picks a username and a password and is signed in. */
export function registerInviteRoutes(app: FastifyInstance, ctx: WebContext): void {
  const invitePath = `${ctx.prefix}/invite`;
  const invalidLink = () =>
    renderMessagePage(ctx.branding, {
      title: 'This invitation cannot be used',
      message: 'The link is wrong, was already used, was withdrawn, or has expired. Ask whoever invited you for a new one.',
      action: { href: `${ctx.prefix}/login`, label: 'Go to sign in' },
    });

  app.get(invitePath, async function showInvite(request, reply) {
    const token = (request.query as Record<string, unknown>).token;
    const invite = await findOpenInvite(ctx.store, token, ctx.now, 'invite');
    if (!invite) return sendPage(reply, 410, invalidLink());
    return sendPage(reply, 200, renderInvitePage(ctx.branding, { csrf: ctx.csrf.tokenForForm(), token: String(token), email: invite.email, username: invite.email ?? '' }));
  });

  app.post(invitePath, async function acceptInvite(request, reply) {
    const body = request.body;
    const token = formField(body, 'token');
    const username = canonicalUsername(formField(body, 'username'));
    const password = formField(body, 'password');
    const invite = await findOpenInvite(ctx.store, token, ctx.now, 'invite');
    if (!invite) return sendPage(reply, 410, invalidLink());
    const again = (status: number, error: string) => sendPage(reply, status, renderInvitePage(ctx.branding, { csrf: ctx.csrf.tokenForForm(), token, email: invite.email, username, error }));
    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !ctx.csrf.verifyFormToken(formField(body, 'csrf'))) {
      return again(403, 'The form expired or came from another site. Please try again.');
    }
    const problem =
      usernameProblem(username) ??
      (await passwordProblem(password, ctx.passwordPolicy, [username, ctx.branding.appName, invite.email ?? ''])) ??
      (password !== formField(body, 'password2') ? 'The two passwords are not the same.' : null);
    if (problem) return again(400, problem);
    if (await ctx.store.users.findByUsername(username)) return again(400, 'That username is taken. Choose another.');
    if (invite.email && (await ctx.store.users.findByEmail(invite.email))) return again(400, 'An account with this email address already exists. Sign in, or reset its password.');

    const passwordHash = await hashPassword(password);
    // The conditional UPDATE makes the link single-use even under two simultaneous posts.
    if (!(await ctx.store.invites.consume(invite.id, username, ctx.now()))) return sendPage(reply, 410, invalidLink());
    const groups = invite.isAdmin && !invite.groups.includes('admins') ? [...invite.groups, 'admins'] : invite.groups;
    const user = await ctx.store.users.create({ username, email: invite.email, passwordHash, isAdmin: invite.isAdmin, groups });
    await ctx.store.audit.record({ action: 'invite.used', actor: username, target: username, ip: request.scope.clientIp, detail: { invite: invite.id, invited_by: invite.createdBy, groups, admin: invite.isAdmin } });
    await startSession(ctx, request, reply, user, 'password');
    return reply.redirect('/', 303);
  });
}
