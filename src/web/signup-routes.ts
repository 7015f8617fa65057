import type { FastifyInstance } from 'fastify';
import { isSameOriginRequest } from '../auth/csrf.js';
import { createEmailToken, findEmailToken, gatewayLink } from '../auth/links.js';
import { hashPassword } from '../auth/passwords.js';
import { passwordProblem } from '../auth/password-policy.js';
import { canonicalUsername, usernameProblem } from '../auth/usernames.js';
import { verifyMessage } from '../mail/messages.js';
import { formField, type WebContext } from './context.js';
import { renderSignupPage, renderVerifyPage } from './flow-pages.js';
import { sendPage, startSession } from './login-routes.js';
import { renderMessagePage } from './pages.js';

const EMAIL = /^[^\s@<>"]+@([^\s@<>"]+\.[^\s@<>"]+)$/;

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
    return sendPage(reply, 200, renderSignupPage(ctx.branding, { csrf: ctx.csrf.tokenForForm(), domains: mode === 'domain' ? allowedDomains : [], needsApproval }));
  });

  app.post(signupPath, async function signUp(request, reply) {
    const body = request.body;
    const username = canonicalUsername(formField(body, 'username'));
    const email = formField(body, 'email').trim().toLowerCase();
    const password = formField(body, 'password');
    const again = (status: number, error: string) =>
      sendPage(reply, status, renderSignupPage(ctx.branding, { csrf: ctx.csrf.tokenForForm(), domains: mode === 'domain' ? allowedDomains : [], needsApproval, username, email, error }));
    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !ctx.csrf.verifyFormToken(formField(body, 'csrf'))) {
      return again(403, 'The form expired or came from another site. Please try again.');
    }
    const domain = EMAIL.exec(email)?.[1];
    const problem =
      usernameProblem(username) ??
      (domain === undefined ? 'Enter a valid email address.' : null) ??
      (mode === 'domain' && !allowedDomains.includes(domain!) ? `Sign-up is open to addresses at ${allowedDomains.join(', ')}.` : null) ??
      (await passwordProblem(password, ctx.passwordPolicy, [username, ctx.branding.appName, email])) ??
      (password !== formField(body, 'password2') ? 'The two passwords are not the same.' : null);
    if (problem) return again(400, problem);
    const ip = request.scope.clientIp;
    // Sign-ups from one address are throttled like failed sign-ins: each one counts.
    const verdict = await ctx.throttle.exclusive(`signup:${email}`, `signup:${ip}`, async () => {
      const answer = await ctx.throttle.check(`signup:${email}`, `signup:${ip}`);
      await ctx.throttle.recordFailure(`signup:${email}`, `signup:${ip}`);
      return answer;
    });
    if (!verdict.allowed) {
      reply.header('retry-after', String(Math.ceil(verdict.retryAfterMs / 1000)));
      return again(429, 'Too many sign-ups from here. Wait a while and try again.');
    }
    if (await ctx.store.users.findByUsername(username)) return again(400, 'That username is taken. Choose another.');
    // An address already in use gets the same answer as a new one, and no mail: the page does not reveal who has an account.
    if (await ctx.store.users.findByEmail(email)) {
      await ctx.store.audit.record({ action: 'signup.refused', actor: username, ip, detail: { reason: 'email_in_use' } });
      return sendPage(reply, 200, checkYourMail());
    }
    const user = await ctx.store.users.create({ username, email, passwordHash: await hashPassword(password), groups: [], status: 'pending' });
    const { token, expiresAt } = await createEmailToken(ctx.store, ctx.now, user, 'verify');
    const link = gatewayLink(ctx.linkBase(), ctx.prefix, 'verify', token);
    await ctx.store.audit.record({ action: 'signup.created', actor: username, target: username, ip, detail: { mode, email } });
    ctx.mailer.send(verifyMessage({ appName: ctx.branding.appName, to: email, link, username, expiresAt })).catch((err: unknown) => request.log.error({ err, to: email }, 'verification mail failed'));
    return sendPage(reply, 200, checkYourMail());
  });

  app.get(verifyPath, async function showVerify(request, reply) {
    const token = (request.query as Record<string, unknown>).token;
    const found = await findEmailToken(ctx.store, token, ctx.now, 'verify');
    const user = found ? await ctx.store.users.findById(found.userId) : null;
    if (!found || !user) return sendPage(reply, 410, invalidLink());
    return sendPage(reply, 200, renderVerifyPage(ctx.branding, { csrf: ctx.csrf.tokenForForm(), token: String(token), username: user.username }));
  });

  app.post(verifyPath, async function verify(request, reply) {
    const body = request.body;
    const token = formField(body, 'token');
    const found = await findEmailToken(ctx.store, token, ctx.now, 'verify');
    const user = found ? await ctx.store.users.findById(found.userId) : null;
    if (!found || !user) return sendPage(reply, 410, invalidLink());
    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !ctx.csrf.verifyFormToken(formField(body, 'csrf'))) {
      return sendPage(reply, 403, renderVerifyPage(ctx.branding, { csrf: ctx.csrf.tokenForForm(), token, username: user.username }));
    }
    if (!(await ctx.store.emailTokens.consume(found.id, ctx.now()))) return sendPage(reply, 410, invalidLink());
    await ctx.store.audit.record({ action: 'signup.verified', actor: user.username, target: user.username, ip: request.scope.clientIp });
    if (user.status !== 'pending') return reply.redirect(`${ctx.prefix}/login`, 303);
    if (needsApproval) {
      return sendPage(reply, 200, renderMessagePage(ctx.branding, { title: 'Address confirmed', message: 'Thank you. An administrator will now approve your account; you can sign in once they have.' }));
    }
    await ctx.store.users.setStatus(user.id, 'active');
    await ctx.store.audit.record({ action: 'signup.approved', actor: 'auto', target: user.username, ip: request.scope.clientIp, detail: { mode } });
    await startSession(ctx, request, reply, { ...user, status: 'active' }, 'password');
    return reply.redirect('/', 303);
  });
}
