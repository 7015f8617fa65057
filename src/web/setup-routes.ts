import type { FastifyInstance } from 'fastify';
import { isSameOriginRequest } from '../auth/csrf.js';
import { createFirstAdmin } from '../accounts/invitations.js';
import { findSetupInvite } from '../auth/setup-link.js';
import { canonicalUsername } from '../auth/usernames.js';
import { accountRefusal } from './account-refusal.js';
import { formField, type WebContext } from './context.js';
import type { FieldErrors } from './form-fields.js';
import { checkNewAccountForm, fieldOf, hasErrors } from './new-account-check.js';
import { renderMessagePage, renderSetupPage } from './pages.js';
import { sendPage, startSession } from './login-routes.js';

/** The first-run page: a one-time link creates the first administrator. */
export function registerSetupRoutes(app: FastifyInstance, ctx: WebContext): void {
  const setupPath = `${ctx.prefix}/setup`;
  const invalidLink = () =>
    renderMessagePage(ctx.branding, {
      title: 'This setup link cannot be used',
      message: 'The link is wrong, was already used, or has expired (links last one hour). Restart Dashgate, or run "dashgate setup-link", to get a new one.',
    });

  app.get(setupPath, async function showSetupPage(request, reply) {
    const token = (request.query as Record<string, unknown>).token;
    const invite = await findSetupInvite(ctx.store, token, ctx.now);
    if (!invite) return sendPage(reply, 410, invalidLink());
    return sendPage(reply, 200, renderSetupPage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), token: String(token), policy: ctx.passwordPolicy }));
  });

  app.post(setupPath, async function completeSetup(request, reply) {
    const body = request.body;
    const token = formField(body, 'token');
    const username = canonicalUsername(formField(body, 'username'));
    const email = formField(body, 'email').trim();
    const password = formField(body, 'password');
    const again = async (status: number, errors: FieldErrors) =>
      sendPage(reply, status, renderSetupPage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), token, errors, username, email, policy: ctx.passwordPolicy }));

    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !(await ctx.csrf.verifyFormToken(formField(body, 'csrf')))) {
      reply.header('x-dashgate', 'csrf_failed');
      return again(403, { form: 'The form expired or came from another site. Please try again.' });
    }
    const invite = await findSetupInvite(ctx.store, token, ctx.now);
    if (!invite) return sendPage(reply, 410, invalidLink());
    const errors = await checkNewAccountForm(ctx, { username, email, password, password2: formField(body, 'password2') });
    if (hasErrors(errors)) return again(400, errors);
    let user;
    try {
      user = await createFirstAdmin(ctx.accounts, invite, { username, email: email || null, password, ip: request.scope.clientIp });
    } catch (err) {
      const refusal = accountRefusal(err);
      return refusal.code === 'LINK_UNUSABLE' ? sendPage(reply, 410, invalidLink()) : again(400, { [fieldOf(refusal.code)]: refusal.message });
    }
    await startSession(ctx, request, reply, user, 'password');
    return reply.redirect('/', 303);
  });
}
