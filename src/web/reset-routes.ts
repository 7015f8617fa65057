import type { FastifyInstance } from 'fastify';
import { isSameOriginRequest } from '../auth/csrf.js';
import { createResetToken, findResetToken, gatewayLink } from '../auth/links.js';
import { setPassword } from '../accounts/passwords.js';
import { canonicalUsername } from '../auth/usernames.js';
import { resetMessage } from '../mail/messages.js';
import { accountRefusal } from './account-refusal.js';
import { formField, type WebContext } from './context.js';
import { renderForgotPage, renderResetPage } from './flow-pages.js';
import { sendPage } from './login-routes.js';
import { renderMessagePage } from './pages.js';

/**
 * Password reset: `/forgot` asks for a username or email and always answers the same way;
 * `/reset?token=…` (from the email, 30 minutes, single use) sets a new password and ends every
 * session of the account.
 */
export function registerResetRoutes(app: FastifyInstance, ctx: WebContext): void {
  const forgotPath = `${ctx.prefix}/forgot`;
  const resetPath = `${ctx.prefix}/reset`;
  const invalidLink = () =>
    renderMessagePage(ctx.branding, {
      title: 'This link cannot be used',
      message: 'The link is wrong, was already used, or has expired (reset links last 30 minutes). Ask for a new one.',
      action: { href: forgotPath, label: 'Ask for a new link' },
    });

  // Without passwords there is nothing to reset: the routes answer 404 like any unknown page.
  if (!ctx.passwordsEnabled) return;

  app.get(forgotPath, async function showForgot(_request, reply) {
    return sendPage(reply, 200, renderForgotPage(ctx.branding, { csrf: await ctx.csrf.tokenForForm() }));
  });

  app.post(forgotPath, async function requestReset(request, reply) {
    const body = request.body;
    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !(await ctx.csrf.verifyFormToken(formField(body, 'csrf')))) {
      return sendPage(reply, 403, renderForgotPage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), error: 'The form expired or came from another site. Please try again.' }));
    }
    const login = canonicalUsername(formField(body, 'login')).slice(0, 256);
    const ip = request.scope.clientIp;
    if (login) {
      // Counted per asked-for name and per address whether or not an account exists: limits mail
      // to one person and enumeration by one caller. A throttled request is answered the same way.
      // Counted apart from sign-in failures: many people can share one address (a NAT).
      const verdict = await ctx.throttle.spend('reset_request', { account: login, ip });
      if (verdict.allowed) {
        const byEmail = login.includes('@') ? await ctx.store.users.findByEmail(login) : null;
        const user = (await ctx.store.users.findByUsername(login)) ?? (byEmail ? await ctx.store.users.findByUsername(byEmail.username) : null);
        // Only a password can be reset: an account without one (single sign-on, or a service
        // account for API tokens) must not give itself a password and sidestep the provider.
        const reason = !user ? 'unknown_account' : user.status !== 'active' || user.email === null ? 'no_email_or_inactive' : user.passwordHash === null ? 'no_password' : null;
        const sendable = user !== null && reason === null;
        await ctx.store.audit.record({ action: 'password.reset_requested', actor: login, target: user?.username ?? null, ip, detail: { sent: sendable, reason } });
        if (sendable) {
          const { token, expiresAt } = await createResetToken(ctx.store, ctx.now, user!);
          const link = gatewayLink(ctx.linkBase(), ctx.prefix, 'reset', token);
          // Not awaited: the answer must not take longer when an account exists.
          ctx.mailer.send(resetMessage({ appName: ctx.branding.appName, to: user!.email!, link, username: user!.username, expiresAt })).catch((err: unknown) => request.log.error({ err, to: user!.email }, 'reset mail failed'));
        }
      } else {
        await ctx.store.audit.record({ action: 'password.reset_throttled', actor: login, ip });
      }
    }
    return sendPage(reply, 200, renderForgotPage(ctx.branding, { csrf: '', sent: true }));
  });

  app.get(resetPath, async function showReset(request, reply) {
    const token = (request.query as Record<string, unknown>).token;
    const found = await findResetToken(ctx.store, token, ctx.now);
    const user = found ? await ctx.store.users.findById(found.userId) : null;
    if (!found || !user || user.status !== 'active') return sendPage(reply, 410, invalidLink());
    return sendPage(reply, 200, renderResetPage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), token: String(token), username: user.username }));
  });

  app.post(resetPath, async function completeReset(request, reply) {
    const body = request.body;
    const token = formField(body, 'token');
    const found = await findResetToken(ctx.store, token, ctx.now);
    const user = found ? await ctx.store.users.findById(found.userId) : null;
    if (!found || !user || user.status !== 'active') return sendPage(reply, 410, invalidLink());
    const again = async (status: number, error: string) => sendPage(reply, status, renderResetPage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), token, username: user.username, error }));
    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !(await ctx.csrf.verifyFormToken(formField(body, 'csrf')))) {
      return again(403, 'The form expired or came from another site. Please try again.');
    }
    const password = formField(body, 'password');
    if (password !== formField(body, 'password2')) return again(400, 'The two passwords are not the same.');
    try {
      // The link is spent only once the new password is accepted, and only once (a conditional update).
      await setPassword(ctx.accounts, { name: user.username, ip: request.scope.clientIp }, user, password, { via: 'reset_link', beforeWrite: () => ctx.store.emailTokens.consume(found.id, ctx.now()) });
    } catch (err) {
      const refusal = accountRefusal(err);
      return refusal.code === 'LINK_UNUSABLE' ? sendPage(reply, 410, invalidLink()) : again(400, refusal.message);
    }
    await ctx.throttle.forgive('password', user.username);
    return reply.redirect(`${ctx.prefix}/login?reset=1`, 303);
  });
}
