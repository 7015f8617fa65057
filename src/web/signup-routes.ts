import type { FastifyInstance } from 'fastify';
import { isSameOriginRequest } from '../auth/csrf.js';
import { createEmailToken, findEmailToken, gatewayLink } from '../auth/links.js';
import { checkSignUp, confirmSignUpAddress, signUp } from '../accounts/signups.js';
import { canonicalUsername } from '../auth/usernames.js';
import { verifyMessage } from '../mail/messages.js';
import { accountRefusal } from './account-refusal.js';
import { formField, type WebContext } from './context.js';
import { renderSignupPage, renderVerifyPage } from './flow-pages.js';
import { sendPage, startSession } from './login-routes.js';
import { renderMessagePage } from './pages.js';

/**
 * Self-service sign-up (`signup.mode`): `domain` lets anyone with a confirmed address in
 * `signup.allowed_domains` in; `open` lets anyone ask, and an administrator approves the account
 * unless `signup.auto_approve`. Accounts start `pending`; `/verify` confirms the address from the
 * mailed link. With `closed` (the default) these routes do not exist.
 */
export function registerSignupRoutes(app: FastifyInstance, ctx: WebContext): void {
  const { mode, allowedDomains, autoApprove } = ctx.signup;
  if (mode === 'closed') return;
  const signupPath = `${ctx.prefix}/signup`;
  const verifyPath = `${ctx.prefix}/verify`;
  const needsApproval = mode === 'open' && !autoApprove;
  const checkYourMail = () =>
    renderMessagePage(ctx.branding, {
      title: 'Check your email',
      message: 'If the address can be used, a link to confirm it is on its way. It works once, for 24 hours.',
      action: { href: `${ctx.prefix}/login`, label: 'Back to sign in' },
    });
  const invalidLink = () =>
    renderMessagePage(ctx.branding, {
      title: 'This link cannot be used',
      message: 'The link is wrong, was already used, or has expired (confirmation links last 24 hours). Sign up again to get a new one.',
      action: { href: signupPath, label: 'Sign up' },
    });

  app.get(signupPath, async function showSignup(_request, reply) {
    return sendPage(reply, 200, renderSignupPage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), domains: mode === 'domain' ? allowedDomains : [], needsApproval }));
  });

  app.post(signupPath, async function signUpByForm(request, reply) {
    const body = request.body;
    const username = canonicalUsername(formField(body, 'username'));
    const email = formField(body, 'email').trim().toLowerCase();
    const password = formField(body, 'password');
    const again = async (status: number, error: string) =>
      sendPage(reply, status, renderSignupPage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), domains: mode === 'domain' ? allowedDomains : [], needsApproval, username, email, error }));
    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !(await ctx.csrf.verifyFormToken(formField(body, 'csrf')))) {
      return again(403, 'The form expired or came from another site. Please try again.');
    }
    const form = { username, email, password };
    try {
      await checkSignUp(ctx.accounts, form, mode === 'domain' ? allowedDomains : null);
    } catch (err) {
      return again(400, accountRefusal(err).message);
    }
    if (password !== formField(body, 'password2')) return again(400, 'The two passwords are not the same.');
    const ip = request.scope.clientIp;
    // Sign-ups from one address are throttled like failed sign-ins: each one counts.
    const verdict = await ctx.throttle.spend('sign_up', { account: email, ip });
    if (!verdict.allowed) {
      reply.header('retry-after', String(Math.ceil(verdict.retryAfterMs / 1000)));
      return again(429, 'Too many sign-ups from here. Wait a while and try again.');
    }
    let user;
    try {
      user = await signUp(ctx.accounts, { ...form, ip }, { mode });
    } catch (err) {
      return again(400, accountRefusal(err).message);
    }
    // An address already in use gets the same answer as a new one, and no mail: the page does not reveal who has an account.
    if (!user) return sendPage(reply, 200, checkYourMail());
    const { token, expiresAt } = await createEmailToken(ctx.store, ctx.now, user, 'verify');
    const link = gatewayLink(ctx.linkBase(), ctx.prefix, 'verify', token);
    ctx.mailer.send(verifyMessage({ appName: ctx.branding.appName, to: email, link, username, expiresAt })).catch((err: unknown) => request.log.error({ err, to: email }, 'verification mail failed'));
    return sendPage(reply, 200, checkYourMail());
  });

  app.get(verifyPath, async function showVerify(request, reply) {
    const token = (request.query as Record<string, unknown>).token;
    const found = await findEmailToken(ctx.store, token, ctx.now, 'verify');
    const user = found ? await ctx.store.users.findById(found.userId) : null;
    if (!found || !user) return sendPage(reply, 410, invalidLink());
    return sendPage(reply, 200, renderVerifyPage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), token: String(token), username: user.username }));
  });

  app.post(verifyPath, async function verify(request, reply) {
    const body = request.body;
    const token = formField(body, 'token');
    const found = await findEmailToken(ctx.store, token, ctx.now, 'verify');
    const user = found ? await ctx.store.users.findById(found.userId) : null;
    if (!found || !user) return sendPage(reply, 410, invalidLink());
    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !(await ctx.csrf.verifyFormToken(formField(body, 'csrf')))) {
      return sendPage(reply, 403, renderVerifyPage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), token, username: user.username }));
    }
    if (!(await ctx.store.emailTokens.consume(found.id, ctx.now()))) return sendPage(reply, 410, invalidLink());
    const wasPending = user.status === 'pending';
    const active = await confirmSignUpAddress(ctx.accounts, user, { ip: request.scope.clientIp, needsApproval, detail: { mode } });
    if (!wasPending) return reply.redirect(`${ctx.prefix}/login`, 303);
    if (!active) {
      return sendPage(reply, 200, renderMessagePage(ctx.branding, { title: 'Address confirmed', message: 'Thank you. An administrator will now approve your account; you can sign in once they have.' }));
    }
    await startSession(ctx, request, reply, { ...user, status: 'active' }, 'password');
    return reply.redirect('/', 303);
  });
}
