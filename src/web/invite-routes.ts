import type { FastifyInstance } from 'fastify';
import { isSameOriginRequest } from '../auth/csrf.js';
import { findOpenInvite } from '../auth/links.js';
import { acceptInvite } from '../accounts/invitations.js';
import { canonicalUsername } from '../auth/usernames.js';
import { accountRefusal } from './account-refusal.js';
import { formField, type WebContext } from './context.js';
import type { FieldErrors } from './form-fields.js';
import { checkNewAccountForm, fieldOf, hasErrors } from './new-account-check.js';
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
    return sendPage(reply, 200, renderInvitePage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), token: String(token), email: invite.email, username: invite.email ?? '', policy: ctx.passwordPolicy }));
  });

  app.post(invitePath, async function acceptInvitation(request, reply) {
    const body = request.body;
    const token = formField(body, 'token');
    const username = canonicalUsername(formField(body, 'username'));
    const password = formField(body, 'password');
    const invite = await findOpenInvite(ctx.store, token, ctx.now, 'invite');
    if (!invite) return sendPage(reply, 410, invalidLink());
    const again = async (status: number, errors: FieldErrors) =>
      sendPage(reply, status, renderInvitePage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), token, email: invite.email, username, errors, policy: ctx.passwordPolicy }));
    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !(await ctx.csrf.verifyFormToken(formField(body, 'csrf')))) {
      reply.header('x-dashgate', 'csrf_failed');
      return again(403, { form: 'The form expired or came from another site. Please try again.' });
    }
    const errors = await checkNewAccountForm(ctx, { username, password, password2: formField(body, 'password2') });
    if (hasErrors(errors)) return again(400, errors);
    let user;
    try {
      user = await acceptInvite(ctx.accounts, invite, { username, password, ip: request.scope.clientIp });
    } catch (err) {
      const refusal = accountRefusal(err);
      return refusal.code === 'LINK_UNUSABLE' ? sendPage(reply, 410, invalidLink()) : again(400, { [fieldOf(refusal.code)]: refusal.message });
    }
    await startSession(ctx, request, reply, user, 'password');
    return reply.redirect('/', 303);
  });
}
