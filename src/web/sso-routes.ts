import type { FastifyInstance, FastifyReply } from 'fastify';
import { readCookie, serializeScopedCookie } from '../auth/cookies.js';
import { safeNextPath } from '../auth/next-url.js';
import { resolveAccount } from '../auth/sso/accounts.js';
import type { SsoClient } from '../auth/sso/client.js';
import { SsoError } from '../auth/sso/errors.js';
import { FlowSeal } from '../auth/sso/flow-seal.js';
import type { WebContext } from './context.js';
import { askForSecondFactor, hasSecondFactor, sendPage, startSession } from './login-routes.js';
import { renderMessagePage } from './pages.js';
import { idTokenCookie } from './sso-id-token.js';

const FLOW_COOKIE = 'dashgate_sso';

/**
 * Single sign-on: GET /sso/<id>/start sends the browser to the provider with a sealed flow cookie;
 * GET /sso/<id>/callback checks the answer against that cookie and the provider, finds or creates
 * the account and starts the session ("sso:<id>"). Every refusal is a page that says why, and an
 * audit entry; nothing from the provider's answer is trusted before openid-client verified it.
 */
export function registerSsoRoutes(app: FastifyInstance, ctx: WebContext, client: SsoClient, seal: FlowSeal): void {
  const base = `${ctx.prefix}/sso`;
  const flowCookie = (value: string, maxAgeSeconds: number) =>
    serializeScopedCookie(ctx.cookie, { name: FLOW_COOKIE, value, path: `${base}/`, maxAgeSeconds });
  const failurePage = (reply: FastifyReply, status: number, providerId: string, title: string, message: string, next = '/') =>
    sendPage(
      reply.header('set-cookie', flowCookie('', 0)).header('cache-control', 'no-store'),
      status,
      renderMessagePage(ctx.branding, { title, message, action: { href: `${ctx.prefix}/login?next=${encodeURIComponent(next)}&sso_error=${encodeURIComponent(providerId)}`, label: 'Back to sign-in' } }),
    );

  app.get(`${base}/:provider/start`, async function startSso(request, reply) {
    const provider = client.provider((request.params as { provider: string }).provider);
    if (!provider) return sendPage(reply, 404, renderMessagePage(ctx.branding, { title: 'Unknown sign-in provider', message: 'This sign-in option does not exist. Choose one on the sign-in page.', action: { href: `${ctx.prefix}/login`, label: 'Sign in' } }));
    const next = safeNextPath((request.query as Record<string, unknown>).next, '/', ctx.nextOrigins);
    try {
      const { url, flow } = await client.begin(provider, next);
      return reply.header('set-cookie', flowCookie(await seal.seal(flow), FlowSeal.TTL_MS / 1000)).header('cache-control', 'no-store').redirect(url, 303);
    } catch (err) {
      request.log.warn({ provider: provider.id, err: err instanceof SsoError ? err.message : err }, 'sso start failed');
      return failurePage(reply, 502, provider.id, `${provider.name} is not reachable`, err instanceof SsoError ? err.message : `${provider.name} could not be reached. Try again in a moment.`, next);
    }
  });

  app.get(`${base}/:provider/callback`, async function finishSso(request, reply) {
    const provider = client.provider((request.params as { provider: string }).provider);
    if (!provider) return sendPage(reply, 404, renderMessagePage(ctx.branding, { title: 'Unknown sign-in provider', message: 'This sign-in option does not exist.', action: { href: `${ctx.prefix}/login`, label: 'Sign in' } }));
    const ip = request.scope.clientIp;
    const refuse = async (status: number, title: string, message: string, reason: string, next = '/') => {
      await ctx.store.audit.record({ action: 'login.sso_failure', ip, detail: { provider: provider.id, reason, message } });
      return failurePage(reply, status, provider.id, title, message, next);
    };
    const flow = await seal.open(readCookie(request.headers.cookie, FLOW_COOKIE));
    if (!flow || flow.provider !== provider.id) {
      return refuse(400, 'Sign-in expired', `This answer from ${provider.name} does not match a sign-in started in this browser in the last 10 minutes (or it was already used). Start again.`, 'no_flow');
    }
    const rawUrl = request.raw.url ?? '';
    const query = rawUrl.includes('?') ? rawUrl.slice(rawUrl.indexOf('?')) : '';
    let profile;
    try {
      profile = await client.finish(provider, query, flow);
    } catch (err) {
      const failure = err instanceof SsoError ? err : new SsoError('verification_failed', `The answer from ${provider.name} could not be checked.`);
      if (!(err instanceof SsoError)) request.log.error({ provider: provider.id, err }, 'sso callback failed');
      const status = failure.reason === 'provider_unavailable' ? 502 : failure.reason === 'provider_refused' ? 403 : 400;
      return refuse(status, `Sign-in with ${provider.name} failed`, `${failure.message} Nothing was signed in.`, failure.reason, flow.next);
    }
    const outcome = await resolveAccount(ctx.accounts, provider, profile, ip);
    if (!outcome.ok) {
      await ctx.store.audit.record({ action: 'login.sso_refused', actor: profile.username ?? profile.email, ip, detail: { provider: provider.id, subject: profile.subject, reason: outcome.reason } });
      return failurePage(reply, 403, provider.id, 'No access', outcome.message, flow.next);
    }
    const { user } = outcome;
    reply.header('set-cookie', flowCookie('', 0)).header('cache-control', 'no-store');
    const method = `sso:${provider.id}`;
    // The ID token is kept only for sign-out at the provider, and only when that is on.
    const keepIdToken = ctx.sso?.logoutAtProvider === true && profile.idToken !== null;
    // A user with an authenticator app or a passkey uses it here as after a password, unless the provider already used a second factor.
    if (!profile.multiFactor && (await hasSecondFactor(ctx, user.id))) {
      const carried = keepIdToken ? await seal.sealIdToken(provider.id, profile.idToken!, user.id) : null;
      if (carried) reply.header('set-cookie', idTokenCookie(ctx, carried, FlowSeal.TTL_MS / 1000));
      return askForSecondFactor(ctx, reply, user, method, flow.next);
    }
    const session = await startSession(ctx, request, reply, user, profile.multiFactor ? `${method}+mfa` : method);
    if (keepIdToken) await ctx.store.sso.rememberIdToken(session.id, provider.id, profile.idToken!);
    return reply.redirect(flow.next, 303);
  });
}
