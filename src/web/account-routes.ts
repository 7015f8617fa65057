import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { setPassword } from '../accounts/passwords.js';
import { apiTokenNameProblem } from '../auth/api-tokens.js';
import { isSameOriginRequest } from '../auth/csrf.js';
import { verifyCredentials } from '../auth/sign-in.js';
import { failed, passed } from '../auth/throttle.js';
import { parseDuration } from '../config/duration.js';
import type { Identity } from '../pipeline/identify.js';
import { checkCode, newTotpSecret, otpauthUri, qrSvg, regenerateRecoveryCodes, verifyTotp } from '../auth/totp.js';
import { renderAccountPage, renderRecoveryCodesPage, renderTotpSetupPage, TOKEN_EXPIRY_CHOICES, type AccountView } from './account-pages.js';
import { accountRefusal } from './account-refusal.js';
import { formField, type WebContext } from './context.js';
import { sendPage } from './login-routes.js';
import { mustEnrolFirst } from './second-factor-guard.js';

type SignedIn = Extract<Identity, { kind: 'user' }>;

const INFO: Record<string, string> = {
  token: 'The token was revoked. Scripts using it are refused from now on.',
  password: 'Your password was changed. Your other sign-ins have ended.',
  session: 'That browser is signed out.',
  sessions: 'Every other browser is signed out.',
  mfa_off: 'Two-factor sign-in is off.',
  passkey_added: 'Passkey added. You can sign in with it from the sign-in page.',
  passkey_renamed: 'Passkey renamed.',
  passkey_removed: 'Passkey removed.',
  expired: 'The form expired. Please try again.',
};

/**
 * `/_dashgate/account`: the signed-in user's own page: profile, groups, personal API tokens
 * (create, shown once; revoke), password change, and the browsers signed in (end one or all others). Every POST needs the session's CSRF token and a
 * same-origin request.
 */
export function registerAccountRoutes(app: FastifyInstance, ctx: WebContext): void {
  const accountPath = `${ctx.prefix}/account`;

  async function signedIn(request: FastifyRequest, reply: FastifyReply): Promise<SignedIn | null> {
    const identity = await ctx.identify(request);
    if (identity.kind === 'user') return identity;
    await reply.redirect(`${ctx.prefix}/login?next=${encodeURIComponent(accountPath)}`, 303);
    return null;
  }

  const userHasPassword = async (username: string) => (await ctx.store.users.findByUsername(username))?.passwordHash != null;

  async function show(reply: FastifyReply, identity: SignedIn, status: number, extra: Partial<AccountView> = {}) {
    const tokens = await ctx.apiTokens.list(identity.user.id);
    const now = ctx.now();
    const sessions = (await ctx.store.sessions.listForUser(identity.user.id)).filter((s) => s.expiresAt > now).sort((a, b) => b.lastSeenAt - a.lastSeenAt);
    const factor = await ctx.store.factors.totp(identity.user.id);
    const twoFactor = { enabled: factor?.confirmedAt != null, recoveryCodesLeft: factor?.confirmedAt != null ? await ctx.store.factors.unusedRecoveryCodes(identity.user.id) : 0 };
    const hasPassword = await userHasPassword(identity.user.username);
    const signInProviders = (await ctx.store.sso.listForUser(identity.user.id)).map((l) => ctx.sso?.client.provider(l.provider)?.name ?? l.provider);
    return sendPage(
      reply,
      status,
      renderAccountPage(ctx.branding, {
        user: identity.user,
        hasPassword,
        signInProviders,
        csrf: ctx.csrf.tokenForSession(identity.session.id),
        tokens,
        sessions,
        currentSessionId: identity.session.id,
        twoFactor,
        passkeys: await ctx.store.factors.passkeysOf(identity.user.id),
        now,
        ...extra,
      }),
    );
  }

  /** CSRF and Origin for the account forms; a refusal re-shows the page with a fresh form. */
  async function checkForm(request: FastifyRequest, reply: FastifyReply, identity: SignedIn): Promise<boolean> {
    if (isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) && ctx.csrf.verifySessionToken(formField(request.body, 'csrf'), identity.session.id)) return true;
    await show(reply, identity, 403, { error: 'The form expired or came from another site. Please try again.' });
    return false;
  }

  app.get(accountPath, async function showAccount(request, reply) {
    const identity = await signedIn(request, reply);
    if (!identity) return reply;
    const query = request.query as Record<string, unknown>;
    const info = query.enrol === '1' ? 'Two-factor sign-in is required here: set it up below to continue to the app.' : INFO[String(query.done)];
    return show(reply, identity, 200, info ? { info } : {});
  });

  app.post(`${accountPath}/password`, async function changePassword(request, reply) {
    const identity = await signedIn(request, reply);
    if (!identity || !(await checkForm(request, reply, identity))) return reply;
    const { user } = identity;
    const body = request.body;
    const checked = await verifyCredentials({ store: ctx.store, throttle: ctx.throttle }, { username: user.username, password: formField(body, 'current'), ip: request.scope.clientIp });
    if (!checked.ok) {
      if (checked.reason === 'throttled') reply.header('retry-after', String(Math.ceil(checked.retryAfterMs / 1000)));
      return show(reply, identity, checked.reason === 'throttled' ? 429 : 400, { error: checked.reason === 'throttled' ? 'Too many wrong passwords. Wait a moment and try again.' : 'The current password is not correct.' });
    }
    const password = formField(body, 'password');
    if (password !== formField(body, 'password2')) return show(reply, identity, 400, { error: 'The two new passwords are not the same.' });
    try {
      await setPassword(ctx.accounts, { name: user.username, ip: request.scope.clientIp }, user, password, { keepSessionId: identity.session.id });
    } catch (err) {
      return show(reply, identity, 400, { error: accountRefusal(err).message });
    }
    return reply.redirect(`${accountPath}?done=password`, 303);
  });

  // ---- two-factor sign-in (TOTP) --------------------------------------------------------------

  async function showSetup(reply: FastifyReply, identity: SignedIn, status: number, error?: string) {
    const factor = await ctx.store.factors.totp(identity.user.id);
    if (!factor || factor.confirmedAt !== null) return reply.redirect(accountPath, 303);
    const svg = await qrSvg(await otpauthUri(ctx.branding.appName, identity.user.username, factor.secret));
    return sendPage(reply, status, renderTotpSetupPage(ctx.branding, { csrf: ctx.csrf.tokenForSession(identity.session.id), qrSvg: svg, secret: factor.secret, ...(error ? { error } : {}) }));
  }

  app.post(`${accountPath}/totp/setup`, async function startTotp(request, reply) {
    const identity = await signedIn(request, reply);
    if (!identity || !(await checkForm(request, reply, identity))) return reply;
    if (!(await ctx.store.factors.startTotp(identity.user.id, await newTotpSecret(), ctx.now()))) return show(reply, identity, 409, { error: 'Two-factor sign-in is already on.' });
    return showSetup(reply, identity, 200);
  });

  app.post(`${accountPath}/totp/confirm`, async function confirmTotp(request, reply) {
    const identity = await signedIn(request, reply);
    if (!identity || !(await checkForm(request, reply, identity))) return reply;
    const factor = await ctx.store.factors.totp(identity.user.id);
    if (!factor || factor.confirmedAt !== null) return reply.redirect(accountPath, 303);
    const step = await checkCode(factor.secret, formField(request.body, 'code'), ctx.now());
    if (step === null) return showSetup(reply, identity, 400, 'That code is not right. Check the time on your phone and try the next code.');
    if (!(await ctx.store.factors.confirmTotp(identity.user.id, ctx.now(), step))) return reply.redirect(accountPath, 303);
    const codes = await regenerateRecoveryCodes(ctx.store, identity.user.id);
    ctx.secondFactor.forget(identity.user.id);
    await ctx.store.audit.record({ action: 'mfa.enrolled', actor: identity.user.username, target: identity.user.username, ip: request.scope.clientIp, detail: { factor: 'totp' } });
    return sendPage(reply, 200, renderRecoveryCodesPage(ctx.branding, { codes, first: true }));
  });

  app.post(`${accountPath}/totp/manage`, async function manageTotp(request, reply) {
    const identity = await signedIn(request, reply);
    if (!identity || !(await checkForm(request, reply, identity))) return reply;
    const { user } = identity;
    if ((await ctx.store.factors.totp(user.id))?.confirmedAt == null) return reply.redirect(accountPath, 303);
    if (await userHasPassword(user.username)) {
      const checked = await verifyCredentials({ store: ctx.store, throttle: ctx.throttle }, { username: user.username, password: formField(request.body, 'current'), ip: request.scope.clientIp });
      if (!checked.ok) return show(reply, identity, checked.reason === 'throttled' ? 429 : 400, { error: checked.reason === 'throttled' ? 'Too many wrong passwords. Wait a moment and try again.' : 'The current password is not correct.' });
    } else {
      // No password to confirm with (single sign-on): a current code from the app proves it instead, once, throttled like sign-in.
      const ip = request.scope.clientIp;
      const result = await ctx.throttle.attempt('second_factor', { account: user.username, ip }, async () =>
        (await verifyTotp(ctx.store, user.id, formField(request.body, 'code'), ctx.now)) ? passed(true) : failed('totp'),
      );
      if (!result.ok) return show(reply, identity, result.throttled ? 429 : 400, { error: result.throttled ? 'Too many wrong codes. Wait a moment and try again.' : 'That code is not right, or was already used.' });
    }
    if (formField(request.body, 'action') === 'disable') {
      await ctx.store.factors.removeTotp(user.id);
      ctx.secondFactor.forget(user.id);
      await ctx.store.audit.record({ action: 'mfa.disabled', actor: user.username, target: user.username, ip: request.scope.clientIp });
      return reply.redirect(`${accountPath}?done=mfa_off`, 303);
    }
    const codes = await regenerateRecoveryCodes(ctx.store, user.id);
    await ctx.store.audit.record({ action: 'mfa.recovery_codes_renewed', actor: user.username, target: user.username, ip: request.scope.clientIp });
    return sendPage(reply, 200, renderRecoveryCodesPage(ctx.branding, { codes, first: false }));
  });

  app.post(`${accountPath}/sessions/end`, async function endSession(request, reply) {
    const identity = await signedIn(request, reply);
    if (!identity || !(await checkForm(request, reply, identity))) return reply;
    const id = formField(request.body, 'id');
    const record = id ? await ctx.store.sessions.findById(id) : null;
    if (!record || record.userId !== identity.user.id || record.id === identity.session.id) return show(reply, identity, 404, { error: 'That sign-in has already ended.' });
    await ctx.sessions.invalidateSession(record.id);
    await ctx.store.audit.record({ action: 'session.revoked', actor: identity.user.username, target: identity.user.username, ip: request.scope.clientIp, detail: { session_ip: record.ip, by: 'self' } });
    return reply.redirect(`${accountPath}?done=session`, 303);
  });

  app.post(`${accountPath}/sessions/end-others`, async function endOtherSessions(request, reply) {
    const identity = await signedIn(request, reply);
    if (!identity || !(await checkForm(request, reply, identity))) return reply;
    const ended = await ctx.sessions.invalidateUserSessions(identity.user.id, identity.session.id);
    await ctx.store.audit.record({ action: 'session.revoked', actor: identity.user.username, target: identity.user.username, ip: request.scope.clientIp, detail: { count: ended, by: 'self', others: true } });
    return reply.redirect(`${accountPath}?done=sessions`, 303);
  });

  app.post(`${accountPath}/tokens`, async function createToken(request, reply) {
    const identity = await signedIn(request, reply);
    if (!identity || !(await checkForm(request, reply, identity))) return reply;
    // A token acts without any second factor: only a session that satisfies mfa.required may mint one.
    if (await mustEnrolFirst(ctx, identity)) return show(reply, identity, 403, { error: 'Two-factor sign-in is required here: set it up below before creating API tokens.' });
    const name = formField(request.body, 'name').trim();
    const expires = formField(request.body, 'expires');
    const problem = apiTokenNameProblem(name);
    if (problem) return show(reply, identity, 400, { error: problem });
    if (!TOKEN_EXPIRY_CHOICES.some((c) => c.value === expires)) return show(reply, identity, 400, { error: 'Choose when the token expires.' });
    const expiresAt = expires === 'never' ? null : ctx.now() + parseDuration(expires)!;
    const { token, record } = await ctx.apiTokens.create(identity.user, { name, expiresAt, createdBy: identity.user.username });
    await ctx.store.audit.record({ action: 'token.create', actor: identity.user.username, target: identity.user.username, ip: request.scope.clientIp, detail: { id: record.id, name, expires_at: expiresAt } });
    return show(reply, identity, 200, { newToken: { name, token } });
  });

  app.post(`${accountPath}/tokens/revoke`, async function revokeToken(request, reply) {
    const identity = await signedIn(request, reply);
    if (!identity || !(await checkForm(request, reply, identity))) return reply;
    const revoked = await ctx.apiTokens.revoke(formField(request.body, 'id'), { userId: identity.user.id });
    if (!revoked) return show(reply, identity, 404, { error: 'No such token (it may have been revoked already).' });
    await ctx.store.audit.record({ action: 'token.revoke', actor: identity.user.username, target: identity.user.username, ip: request.scope.clientIp, detail: { id: revoked.id, name: revoked.name } });
    return reply.redirect(`${accountPath}?done=token`, 303);
  });
}
