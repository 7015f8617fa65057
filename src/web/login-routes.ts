import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readCookie, serializeClearedCookie, serializeScopedCookie, serializeSessionCookie } from '../auth/cookies.js';
import { isSameOriginRequest } from '../auth/csrf.js';
import { safeNextPath } from '../auth/next-url.js';
import { verifyCredentials } from '../auth/sign-in.js';
import { failed, passed } from '../auth/throttle.js';
import { hashRecoveryCode, looksLikeRecoveryCode, MfaChallenge, verifyTotp } from '../auth/totp.js';
import type { Session } from '../auth/sessions.js';
import type { User } from '../store/types.js';
import { formField, wantsJson, type WebContext } from './context.js';
import { renderMfaPage } from './flow-pages.js';
import { renderLoginPage, renderLogoutPage } from './pages.js';
import { pageCsp } from './security-headers.js';
import { keepCarriedIdToken } from './sso-id-token.js';

const GENERIC_FAILURE = 'The username or password is not correct.';

/** Sign-in and sign-out: GET/POST /login, GET/POST /logout. */
export function registerLoginRoutes(app: FastifyInstance, ctx: WebContext): void {
  const loginPath = `${ctx.prefix}/login`;

  app.get(loginPath, async function showLoginPage(request, reply) {
    const query = request.query as Record<string, unknown>;
    const next = safeNextPath(query.next, '/', ctx.nextOrigins);
    const identity = await ctx.identify(request);
    if (identity.kind === 'user') return reply.redirect(next, 303);
    const info = query.signed_out === '1' ? 'You have signed out.' : query.reset === '1' ? 'Your password was changed and every other sign-in ended. Sign in with the new password.' : undefined;
    const providers = ctx.sso?.client.providers ?? [];
    // One provider and no passwords: nothing to choose, go straight there (not after a sign-out or a failure, which would loop).
    if (!ctx.passwordsEnabled && providers.length === 1 && info === undefined && query.sso_error === undefined) {
      return reply.header('cache-control', 'no-store').redirect(`${ctx.prefix}/sso/${providers[0]!.id}/start?next=${encodeURIComponent(next)}`, 303);
    }
    return sendPage(reply, 200, renderLoginPage(ctx.branding, { ...(await loginView(ctx, next)), ...(info ? { info } : {}) }));
  });

  app.post(loginPath, async function signIn(request, reply) {
    const body = request.body;
    const next = safeNextPath(formField(body, 'next'), '/', ctx.nextOrigins);
    const username = formField(body, 'username');
    const json = wantsJson(request);
    const refuse = async (status: number, message: string, error = status === 429 ? 'throttled' : status === 403 ? 'csrf_failed' : 'invalid_credentials') =>
      json
        ? reply.code(status).header('cache-control', 'no-store').send({ ok: false, error, message })
        : sendPage(reply, status, renderLoginPage(ctx.branding, { ...(await loginView(ctx, next)), username, error: message }));

    if (!ctx.passwordsEnabled) return refuse(403, 'Password sign-in is turned off here. Use one of the sign-in buttons.', 'passwords_disabled');

    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !(await ctx.csrf.verifyFormToken(formField(body, 'csrf')))) {
      return refuse(403, 'The sign-in form expired or came from another site. Please try again.');
    }
    const result = await verifyCredentials(
      { store: ctx.store, throttle: ctx.throttle, onRehashError: (err) => request.log.error({ err }, 'password rehash failed') },
      { username, password: formField(body, 'password'), ip: request.scope.clientIp },
    );
    if (!result.ok) {
      if (result.reason === 'throttled') {
        const seconds = Math.ceil(result.retryAfterMs / 1000);
        reply.header('retry-after', String(seconds));
        return refuse(429, `Too many attempts. Wait ${seconds} second${seconds === 1 ? '' : 's'} and try again.`);
      }
      return refuse(401, GENERIC_FAILURE);
    }
    if (await hasSecondFactor(ctx, result.user.id)) {
      // The password was right; the session waits for the second factor.
      if (json) {
        return reply.code(401).header('cache-control', 'no-store').send({ ok: false, error: 'mfa_required', message: 'This account uses two-factor sign-in: finish on the sign-in page.', login_url: `${loginPath}?next=${encodeURIComponent(next)}` });
      }
      return askForSecondFactor(ctx, reply, result.user, 'password', next);
    }
    await startSession(ctx, request, reply, result.user, 'password');
    return json ? reply.header('cache-control', 'no-store').send({ ok: true, next }) : reply.redirect(next, 303);
  });

  app.get(`${loginPath}/mfa`, async function showMfa(request, reply) {
    const next = safeNextPath((request.query as Record<string, unknown>).next, '/', ctx.nextOrigins);
    const challenge = await ctx.mfaChallenge.open(readCookie(request.headers.cookie, MFA_COOKIE));
    if (!challenge) return reply.redirect(`${loginPath}?next=${encodeURIComponent(next)}`, 303);
    return sendPage(reply, 200, renderMfaPage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), next, ...(await factorsOf(ctx, challenge.userId)), secondStep: true }));
  });

  app.post(`${loginPath}/mfa`, async function completeSecondStep(request, reply) {
    const body = request.body;
    const next = safeNextPath(formField(body, 'next'), '/', ctx.nextOrigins);
    const challenge = await ctx.mfaChallenge.open(readCookie(request.headers.cookie, MFA_COOKIE));
    const user = challenge ? await ctx.store.users.findById(challenge.userId) : null;
    if (!challenge || !user || user.status !== 'active') return reply.redirect(`${loginPath}?next=${encodeURIComponent(next)}`, 303);
    const again = async (status: number, error: string) => sendPage(reply, status, renderMfaPage(ctx.branding, { csrf: await ctx.csrf.tokenForForm(), next, error, ...(await factorsOf(ctx, user.id)), secondStep: true }));
    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !(await ctx.csrf.verifyFormToken(formField(body, 'csrf')))) {
      return again(403, 'The form expired or came from another site. Please try again.');
    }
    const outcome = await checkSecondFactor(ctx, user, formField(body, 'code'), request.scope.clientIp);
    if (!outcome.ok) {
      if (outcome.retryAfterMs !== null) {
        const seconds = Math.ceil(outcome.retryAfterMs / 1000);
        reply.header('retry-after', String(seconds));
        return again(429, `Too many attempts. Wait ${seconds} second${seconds === 1 ? '' : 's'} and try again.`);
      }
      return again(401, 'That code is not right, or was already used. Codes change every 30 seconds.');
    }
    reply.header('set-cookie', mfaCookie(ctx, '', 0));
    const session = await startSession(ctx, request, reply, user, `${challenge.firstFactor}+${outcome.method}`);
    await keepCarriedIdToken(ctx, request, reply, session, challenge.firstFactor);
    return reply.redirect(next, 303);
  });

  // Step-up: a signed-in session asked for its second factor by a rule with `mfa: true`. Success
  // replaces the session with a new one that records the factor.
  app.get(`${ctx.prefix}/stepup`, async function showStepUp(request, reply) {
    const next = safeNextPath((request.query as Record<string, unknown>).next, '/', ctx.nextOrigins);
    const identity = await ctx.identify(request);
    if (identity.kind !== 'user') return reply.redirect(`${loginPath}?next=${encodeURIComponent(next)}`, 303);
    const totp = (await ctx.store.factors.totp(identity.user.id))?.confirmedAt != null;
    const passkeys = (await ctx.store.factors.passkeysOf(identity.user.id)).length > 0;
    if (!totp && !passkeys) return reply.redirect(`${ctx.prefix}/account?enrol=1`, 303);
    return sendPage(reply, 200, renderMfaPage(ctx.branding, { csrf: ctx.csrf.tokenForSession(identity.session.id), next, stepUp: true, totp, passkeys, formCsrf: await ctx.csrf.tokenForForm() }));
  });

  app.post(`${ctx.prefix}/stepup`, async function stepUp(request, reply) {
    const body = request.body;
    const next = safeNextPath(formField(body, 'next'), '/', ctx.nextOrigins);
    const identity = await ctx.identify(request);
    if (identity.kind !== 'user') return reply.redirect(`${loginPath}?next=${encodeURIComponent(next)}`, 303);
    const again = async (status: number, error: string) => sendPage(reply, status, renderMfaPage(ctx.branding, { csrf: ctx.csrf.tokenForSession(identity.session.id), next, error, stepUp: true }));
    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !ctx.csrf.verifySessionToken(formField(body, 'csrf'), identity.session.id)) {
      return again(403, 'The form expired or came from another site. Please try again.');
    }
    const outcome = await checkSecondFactor(ctx, identity.user, formField(body, 'code'), request.scope.clientIp);
    if (!outcome.ok) {
      if (outcome.retryAfterMs !== null) {
        reply.header('retry-after', String(Math.ceil(outcome.retryAfterMs / 1000)));
        return again(429, 'Too many attempts. Wait a moment and try again.');
      }
      return again(401, 'That code is not right, or was already used. Codes change every 30 seconds.');
    }
    await startSession(ctx, request, reply, identity.user, `${identity.session.authMethod.split('+')[0]}+${outcome.method}`);
    await ctx.store.audit.record({ action: 'login.step_up', actor: identity.user.username, ip: request.scope.clientIp });
    return reply.redirect(next, 303);
  });

  app.get(`${ctx.prefix}/logout`, async function showLogoutPage(request, reply) {
    const identity = await ctx.identify(request);
    if (identity.kind !== 'user') return reply.redirect(loginPath, 303);
    await allowLogoutAtProvider(ctx, reply);
    const query = request.query as Record<string, unknown>;
    return sendPage(
      reply,
      200,
      renderLogoutPage(ctx.branding, { csrf: ctx.csrf.tokenForSession(identity.session.id), username: identity.user.displayName ?? identity.user.username, next: safeNextPath(query.next), switching: query.switch === '1' }),
    );
  });

  app.post(`${ctx.prefix}/logout`, async function signOut(request, reply) {
    const identity = await ctx.identify(request);
    if (identity.kind !== 'user') {
      return reply.header('set-cookie', serializeClearedCookie(ctx.cookie)).redirect(`${loginPath}?signed_out=1`, 303);
    }
    if (!isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) || !ctx.csrf.verifySessionToken(formField(request.body, 'csrf'), identity.session.id)) {
      // A forged sign-out must not end the session; show the confirm button instead.
      await allowLogoutAtProvider(ctx, reply);
      return sendPage(reply, 403, renderLogoutPage(ctx.branding, { csrf: ctx.csrf.tokenForSession(identity.session.id), username: identity.user.username }));
    }
    // Read before the session ends: its row (and the ID token kept beside it) goes with it.
    const atProvider = await providerLogoutUrl(ctx, identity.session);
    await ctx.sessions.invalidateSession(identity.session.id);
    await ctx.store.audit.record({ action: 'logout', actor: identity.user.username, ip: request.scope.clientIp, ...(atProvider ? { detail: { at_provider: atProvider.provider } } : {}) });
    // "Switch account": signing in again lands where the refused page was.
    const next = safeNextPath(formField(request.body, 'next'));
    const signInAgain = next === '/' ? `${loginPath}?signed_out=1` : `${loginPath}?signed_out=1&next=${encodeURIComponent(next)}`;
    return reply.header('set-cookie', serializeClearedCookie(ctx.cookie)).redirect(atProvider?.url ?? signInAgain, 303);
  });
}

/**
 * Issues a new session (never reusing the one the browser had: no fixation), ends the previous
 * one, sets the cookie and writes the audit entry.
 */
export async function startSession(ctx: WebContext, request: FastifyRequest, reply: FastifyReply, user: User, authMethod: string): Promise<Session> {
  const previous = await ctx.identify(request);
  if (previous.kind === 'user') await ctx.sessions.invalidateSession(previous.session.id);
  const userAgent = request.headers['user-agent'] ?? null;
  const { token, session } = await ctx.sessions.createSession(user, { ip: request.scope.clientIp, userAgent, authMethod });
  reply.header('set-cookie', serializeSessionCookie(ctx.cookie, token, ctx.cookieMaxAgeSeconds));
  await ctx.store.audit.record({ action: 'login.success', actor: user.username, ip: request.scope.clientIp, detail: { method: authMethod } });
  return session;
}

export const MFA_COOKIE = 'dashgate_mfa';

/** The sign-out form's answer may redirect to the provider: its CSP must allow that form target. */
async function allowLogoutAtProvider(ctx: WebContext, reply: FastifyReply): Promise<void> {
  if (ctx.sso?.logoutAtProvider) reply.header('content-security-policy', pageCsp(await ctx.sso.client.logoutOrigins()));
}

/**
 * RP-initiated logout: where to continue after the session ends, when sso.logout_at_provider is
 * on, the session came from a provider that has an end-session endpoint, and its ID token was
 * kept. The provider sends the browser back to the sign-in page (a URL built from configuration).
 */
async function providerLogoutUrl(ctx: WebContext, session: Session): Promise<{ provider: string; url: string } | null> {
  if (!ctx.sso?.logoutAtProvider || !session.authMethod.startsWith('sso:')) return null;
  const kept = await ctx.store.sso.idTokenOf(session.id);
  const provider = kept ? ctx.sso.client.provider(kept.provider) : undefined;
  if (!kept || !provider) return null;
  try {
    const url = await ctx.sso.client.endSessionUrl(provider, kept.idToken, `${ctx.linkBase()}${ctx.prefix}/login?signed_out=1`);
    return url ? { provider: provider.id, url } : null;
  } catch (err) {
    ctx.log.warn({ provider: provider.id, err: (err as Error).message }, 'provider logout unavailable; signed out here only');
    return null;
  }
}

async function loginView(ctx: WebContext, next: string) {
  return {
    csrf: await ctx.csrf.tokenForForm(),
    next,
    signup: ctx.passwordsEnabled && ctx.signup.mode !== 'closed',
    passwords: ctx.passwordsEnabled,
    providers: (ctx.sso?.client.providers ?? []).map((p) => ({ id: p.id, name: p.name })),
  };
}

/** Whether sign-in asks this user for a second step: an authenticator app or a passkey. */
export async function hasSecondFactor(ctx: WebContext, userId: string): Promise<boolean> {
  const { totp, passkeys } = await factorsOf(ctx, userId);
  return totp || passkeys;
}

async function factorsOf(ctx: WebContext, userId: string): Promise<{ totp: boolean; passkeys: boolean }> {
  return { totp: (await ctx.store.factors.totp(userId))?.confirmedAt != null, passkeys: (await ctx.store.factors.passkeysOf(userId)).length > 0 };
}

/** The first factor was right; the session waits for the second (code or passkey) on /login/mfa. */
export async function askForSecondFactor(ctx: WebContext, reply: FastifyReply, user: User, firstFactor: string, next: string): Promise<FastifyReply> {
  reply.header('set-cookie', mfaCookie(ctx, await ctx.mfaChallenge.issue(user.id, firstFactor), MfaChallenge.TTL_MS / 1000));
  return reply.redirect(`${ctx.prefix}/login/mfa?next=${encodeURIComponent(next)}`, 303);
}

/** One second-factor attempt (TOTP code or recovery code), throttled and audited per account. */
async function checkSecondFactor(ctx: WebContext, user: User, rawCode: string, ip: string): Promise<{ ok: true; method: string } | { ok: false; retryAfterMs: number | null }> {
  const code = rawCode.trim();
  const recovery = looksLikeRecoveryCode(code);
  const result = await ctx.throttle.attempt('second_factor', { account: user.username, ip }, async () => {
    const ok = recovery ? await ctx.store.factors.useRecoveryCode(user.id, hashRecoveryCode(code), ctx.now()) : await verifyTotp(ctx.store, user.id, code, ctx.now);
    return ok ? passed(recovery ? 'recovery' : 'totp') : failed(recovery ? 'recovery_code' : 'totp');
  });
  if (!result.ok) {
    if (result.throttled) return { ok: false, retryAfterMs: result.retryAfterMs };
    await ctx.store.audit.record({ action: 'login.mfa_failure', actor: user.username, ip, detail: { kind: result.failure } });
    return { ok: false, retryAfterMs: null };
  }
  if (recovery) await ctx.store.audit.record({ action: 'login.recovery_code_used', actor: user.username, ip, detail: { left: await ctx.store.factors.unusedRecoveryCodes(user.id) } });
  return { ok: true, method: result.value };
}

/** The challenge cookie lives only under /login, so the app never receives it. */
export function mfaCookie(ctx: WebContext, value: string, maxAgeSeconds: number): string {
  return serializeScopedCookie(ctx.cookie, { name: MFA_COOKIE, value, path: `${ctx.prefix}/login`, maxAgeSeconds });
}

export function sendPage(reply: FastifyReply, status: number, page: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page);
}
