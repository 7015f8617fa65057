import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readCookie, serializeScopedCookie } from '../auth/cookies.js';
import { isSameOriginRequest } from '../auth/csrf.js';
import { safeNextPath } from '../auth/next-url.js';
import { CeremonySeal } from '../auth/passkeys.js';
import { failed, passed } from '../auth/throttle.js';
import type { Passkey } from '../store/factors.js';
import { formField, type WebContext } from './context.js';
import { MFA_COOKIE, mfaCookie, startSession } from './login-routes.js';
import { keepCarriedIdToken } from './sso-id-token.js';

const COOKIE = 'dashgate_webauthn';

/**
 * Passkeys (WebAuthn, @simplewebauthn/server): registered on the account page, used to sign in
 * without a username (discoverable credentials, user verification required, so a passkey counts
 * as two factors). The relying party is the gateway's expected origin (server.public_url, else the
 * Host of a same-origin request); challenges travel in an HMAC-sealed cookie. The browser side is
 * /static/passkeys.js.
 */
export function registerPasskeyRoutes(app: FastifyInstance, ctx: WebContext, seal: CeremonySeal): void {
  // @simplewebauthn/server is large; it is loaded at the first passkey ceremony, not at start-up.
  let loaded: Promise<typeof import('@simplewebauthn/server')> | null = null;
  const webauthn = () => (loaded ??= import('@simplewebauthn/server'));
  const base = ctx.prefix;
  const relyingParty = (request: FastifyRequest) => {
    const origin = ctx.expectedOrigin(request.scope);
    return { origin, rpID: new URL(origin).hostname };
  };
  const sealCookie = (value: string, maxAgeSeconds: number) => serializeScopedCookie(ctx.cookie, { name: COOKIE, value, path: base, maxAgeSeconds, sameSite: 'Strict' });
  const fail = (reply: FastifyReply, status: number, message: string) => reply.code(status).header('cache-control', 'no-store').send({ ok: false, message });
  const sameOrigin = (request: FastifyRequest) => isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope));

  /** Verifies a passkey's signed answer to `challenge` and records its new counter; null when it holds, else why not. */
  async function checkAssertion(request: FastifyRequest, response: AuthenticationResponseJSON, challenge: string, passkey: Passkey): Promise<'bad_signature' | 'counter_or_signature' | null> {
    const { origin, rpID } = relyingParty(request);
    let verified;
    try {
      verified = await (await webauthn()).verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: origin,
        expectedRPID: rpID,
        credential: { id: passkey.id, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: passkey.counter, transports: passkey.transports as never },
        requireUserVerification: true,
      });
    } catch {
      return 'bad_signature';
    }
    // A counter that fails to grow (a cloned authenticator) is refused by the conditional update.
    if (!verified.verified || !(await ctx.store.factors.usePasskey(passkey.id, verified.authenticationInfo.newCounter, ctx.now()))) return 'counter_or_signature';
    return null;
  }

  // ---- registration (signed in) -------------------------------------------------------------

  app.post(`${base}/account/passkeys/options`, async function registrationOptions(request, reply) {
    const identity = await ctx.identify(request);
    if (identity.kind !== 'user') return fail(reply, 401, 'Sign in first.');
    if (!sameOrigin(request) || !ctx.csrf.verifySessionToken(formField(request.body, 'csrf'), identity.session.id)) return fail(reply, 403, 'The page expired. Reload it and try again.');
    const { rpID } = relyingParty(request);
    const existing = await ctx.store.factors.passkeysOf(identity.user.id);
    const options = await (await webauthn()).generateRegistrationOptions({
      rpName: ctx.branding.appName,
      rpID,
      userName: identity.user.username,
      userDisplayName: identity.user.displayName ?? identity.user.username,
      userID: new TextEncoder().encode(identity.user.id),
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    });
    reply.header('set-cookie', sealCookie(await seal.seal('register', options.challenge, identity.user.id), CeremonySeal.TTL_MS / 1000));
    return reply.header('cache-control', 'no-store').send(options);
  });

  app.post(`${base}/account/passkeys`, async function register(request, reply) {
    const identity = await ctx.identify(request);
    if (identity.kind !== 'user') return fail(reply, 401, 'Sign in first.');
    if (!sameOrigin(request) || !ctx.csrf.verifySessionToken(formField(request.body, 'csrf'), identity.session.id)) return fail(reply, 403, 'The page expired. Reload it and try again.');
    const ceremony = await seal.open(readCookie(request.headers.cookie, COOKIE), 'register');
    if (!ceremony || ceremony.userId !== identity.user.id) return fail(reply, 400, 'The passkey request expired. Try again.');
    const name = formField(request.body, 'name').trim().slice(0, 60) || 'Passkey';
    const { origin, rpID } = relyingParty(request);
    let verified;
    try {
      verified = await (await webauthn()).verifyRegistrationResponse({
        response: (request.body as { response?: RegistrationResponseJSON }).response!,
        expectedChallenge: ceremony.challenge,
        expectedOrigin: origin,
        expectedRPID: rpID,
        requireUserVerification: true,
      });
    } catch (err) {
      request.log.info({ err: (err as Error).message }, 'passkey registration refused');
      return fail(reply, 400, 'The passkey could not be verified.');
    }
    if (!verified.verified) return fail(reply, 400, 'The passkey could not be verified.');
    const { credential } = verified.registrationInfo;
    await ctx.store.factors.addPasskey({ id: credential.id, userId: identity.user.id, publicKey: Buffer.from(credential.publicKey).toString('base64url'), counter: credential.counter, transports: credential.transports ?? [], name, createdAt: ctx.now() });
    ctx.secondFactor.forget(identity.user.id);
    await ctx.store.audit.record({ action: 'passkey.added', actor: identity.user.username, target: identity.user.username, ip: request.scope.clientIp, detail: { name } });
    reply.header('set-cookie', sealCookie('', 0));
    return reply.header('cache-control', 'no-store').send({ ok: true });
  });

  for (const verb of ['rename', 'remove'] as const) {
    app.post(`${base}/account/passkeys/${verb}`, async (request, reply) => {
      const identity = await ctx.identify(request);
      if (identity.kind !== 'user') return reply.redirect(`${base}/login?next=${encodeURIComponent(`${base}/account`)}`, 303);
      if (!sameOrigin(request) || !ctx.csrf.verifySessionToken(formField(request.body, 'csrf'), identity.session.id)) return reply.redirect(`${base}/account?done=expired`, 303);
      const id = formField(request.body, 'id');
      const name = formField(request.body, 'name').trim().slice(0, 60);
      const changed = verb === 'remove' ? await ctx.store.factors.removePasskey(id, identity.user.id) : name !== '' && (await ctx.store.factors.renamePasskey(id, identity.user.id, name));
      if (changed) {
        ctx.secondFactor.forget(identity.user.id);
        await ctx.store.audit.record({ action: verb === 'remove' ? 'passkey.removed' : 'passkey.renamed', actor: identity.user.username, target: identity.user.username, ip: request.scope.clientIp, ...(verb === 'rename' ? { detail: { name } } : {}) });
      }
      return reply.redirect(`${base}/account?done=${changed ? `passkey_${verb}d` : 'expired'}`, 303);
    });
  }

  // ---- sign-in (anonymous, usernameless) ----------------------------------------------------

  app.post(`${base}/login/passkey/options`, async function authenticationOptions(request, reply) {
    if (!sameOrigin(request) || !(await ctx.csrf.verifyFormToken(formField(request.body, 'csrf')))) return fail(reply, 403, 'The page expired. Reload it and try again.');
    const options = await (await webauthn()).generateAuthenticationOptions({ rpID: relyingParty(request).rpID, userVerification: 'required', allowCredentials: [] });
    reply.header('set-cookie', sealCookie(await seal.seal('login', options.challenge, null), CeremonySeal.TTL_MS / 1000));
    return reply.header('cache-control', 'no-store').send(options);
  });

  app.post(`${base}/login/passkey`, async function signInWithPasskey(request, reply) {
    if (!sameOrigin(request) || !(await ctx.csrf.verifyFormToken(formField(request.body, 'csrf')))) return fail(reply, 403, 'The page expired. Reload it and try again.');
    const ip = request.scope.clientIp;
    // Verified under the throttle's lock like every credential: the counters are checked before,
    // and a failure counted, while no other attempt from this address runs.
    const result = await ctx.throttle.attempt('passkey', { ip }, async () => {
      const ceremony = await seal.open(readCookie(request.headers.cookie, COOKIE), 'login');
      const response = (request.body as { response?: AuthenticationResponseJSON }).response;
      const passkey = ceremony && typeof response?.id === 'string' ? await ctx.store.factors.passkey(response.id) : null;
      const user = passkey ? await ctx.store.users.findById(passkey.userId) : null;
      if (!ceremony || !passkey || !user) return failed({ user, reason: !ceremony ? 'expired_challenge' : 'unknown_passkey' });
      if (user.status !== 'active') return failed({ user, reason: `status_${user.status}` });
      const problem = await checkAssertion(request, response!, ceremony.challenge, passkey);
      return problem ? failed({ user, reason: problem }) : passed(user);
    });
    if (!result.ok) {
      if (result.throttled) return fail(reply, 429, 'Too many attempts. Wait a moment and try again.');
      await ctx.store.audit.record({ action: 'login.failure', actor: result.failure.user?.username ?? null, ip, detail: { method: 'passkey', reason: result.failure.reason } });
      return fail(reply, 401, 'That passkey cannot sign in here.');
    }
    const user = result.value;
    reply.header('set-cookie', sealCookie('', 0));
    await startSession(ctx, request, reply, user, 'passkey');
    return reply.header('cache-control', 'no-store').send({ ok: true, next: safeNextPath(formField(request.body, 'next'), '/', ctx.nextOrigins) });
  });

  // ---- second step after a password or SSO sign-in (the challenged user's own passkeys) -----

  app.post(`${base}/login/mfa/passkey/options`, async function secondStepOptions(request, reply) {
    if (!sameOrigin(request) || !(await ctx.csrf.verifyFormToken(formField(request.body, 'csrf')))) return fail(reply, 403, 'The page expired. Reload it and try again.');
    const challenge = await ctx.mfaChallenge.open(readCookie(request.headers.cookie, MFA_COOKIE));
    if (!challenge) return fail(reply, 401, 'The sign-in expired. Start again.');
    const passkeys = await ctx.store.factors.passkeysOf(challenge.userId);
    const options = await (await webauthn()).generateAuthenticationOptions({ rpID: relyingParty(request).rpID, userVerification: 'required', allowCredentials: passkeys.map((p) => ({ id: p.id, transports: p.transports as never })) });
    reply.header('set-cookie', sealCookie(await seal.seal('login', options.challenge, challenge.userId), CeremonySeal.TTL_MS / 1000));
    return reply.header('cache-control', 'no-store').send(options);
  });

  app.post(`${base}/login/mfa/passkey`, async function secondStepWithPasskey(request, reply) {
    if (!sameOrigin(request) || !(await ctx.csrf.verifyFormToken(formField(request.body, 'csrf')))) return fail(reply, 403, 'The page expired. Reload it and try again.');
    const challenge = await ctx.mfaChallenge.open(readCookie(request.headers.cookie, MFA_COOKIE));
    const user = challenge ? await ctx.store.users.findById(challenge.userId) : null;
    if (!challenge || !user || user.status !== 'active') return fail(reply, 401, 'The sign-in expired. Start again.');
    const ip = request.scope.clientIp;
    const result = await ctx.throttle.attempt('second_factor', { account: user.username, ip }, async () => {
      const ceremony = await seal.open(readCookie(request.headers.cookie, COOKIE), 'login');
      const response = (request.body as { response?: AuthenticationResponseJSON }).response;
      const passkey = ceremony && typeof response?.id === 'string' ? await ctx.store.factors.passkey(response.id) : null;
      // The ceremony and the passkey must both belong to the user who passed the first step.
      if (!ceremony || ceremony.userId !== user.id) return failed('expired_challenge');
      if (!passkey || passkey.userId !== user.id) return failed('not_this_users_passkey');
      const problem = await checkAssertion(request, response!, ceremony.challenge, passkey);
      return problem ? failed(problem) : passed(true);
    });
    if (!result.ok) {
      if (result.throttled) return fail(reply, 429, 'Too many attempts. Wait a moment and try again.');
      await ctx.store.audit.record({ action: 'login.mfa_failure', actor: user.username, ip, detail: { kind: 'passkey', reason: result.failure } });
      return fail(reply, 401, 'That passkey is not one of this account\'s.');
    }
    reply.header('set-cookie', sealCookie('', 0)).header('set-cookie', mfaCookie(ctx, '', 0));
    const session = await startSession(ctx, request, reply, user, `${challenge.firstFactor}+passkey`);
    await keepCarriedIdToken(ctx, request, reply, session, challenge.firstFactor);
    return reply.header('cache-control', 'no-store').send({ ok: true, next: safeNextPath(formField(request.body, 'next'), '/', ctx.nextOrigins) });
  });
}
