import type { FastifyInstance } from 'fastify';
import { isSameOriginRequest } from '../auth/csrf.js';
import { hashPassword } from '../auth/passwords.js';
import { passwordProblem } from '../auth/password-policy.js';
import { findSetupInvite } from '../auth/setup-link.js';
import { canonicalUsername, usernameProblem } from '../auth/usernames.js';
import { formField, type WebContext } from './context.js';
import { renderMessagePage, renderSetupPage } from './pages.js';
import { sendPage, startSession } from './login-routes.js';

const EMAIL = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;

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
    return sendPage(reply, 200, renderSetupPage(ctx.branding, { csrf: ctx.csrf.tokenForForm(), token: String(token) }));
  });

  app.post(setupPath, async function completeSetup(request, reply) {
    const body = request.body;
    const token = formField(body, 'token');
    const username = canonicalUsername(formField(body, 'username'));
    const email = formField(body, 'email').trim();
    const password = formField(body, 'password');
    const again = (status: number, error: string) =>
      sendPage(reply, status, renderSetupPage(ctx.branding, { csrf: ctx.csrf.tokenForForm(), token, error, username, email }));

    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !ctx.csrf.verifyFormToken(formField(body, 'csrf'))) {
      return again(403, 'The form expired or came from another site. Please try again.');
    }
    const invite = await findSetupInvite(ctx.store, token, ctx.now);
    if (!invite) return sendPage(reply, 410, invalidLink());
    const problem =
      usernameProblem(username) ??
      (email && !EMAIL.test(email) ? 'Email address is not valid.' : null) ??
      (await passwordProblem(password, ctx.passwordPolicy, [username, ctx.branding.appName])) ??
      (password !== formField(body, 'password2') ? 'The two passwords are not the same.' : null);
    if (problem) return again(400, problem);
    if (await ctx.store.users.findByUsername(username)) return again(400, 'That username is taken.');

    const passwordHash = await hashPassword(password);
    // The conditional UPDATE makes the link single-use even under two simultaneous posts.
    if (!(await ctx.store.invites.consume(invite.id, username, ctx.now()))) return sendPage(reply, 410, invalidLink());
    const user = await ctx.store.users.create({ username, email: email || null, passwordHash, isAdmin: true, groups: ['admins'] });
    await ctx.store.audit.record({ action: 'setup.admin_created', actor: username, target: username, ip: request.scope.clientIp });
    await startSession(ctx, request, reply, user, 'password');
    return reply.redirect('/', 303);
  });
}
