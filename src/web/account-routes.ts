import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiTokenNameProblem } from '../auth/api-tokens.js';
import { isSameOriginRequest } from '../auth/csrf.js';
import { parseDuration } from '../config/duration.js';
import type { Identity } from '../pipeline/identify.js';
import { renderAccountPage, TOKEN_EXPIRY_CHOICES, type AccountView } from './account-pages.js';
import { formField, type WebContext } from './context.js';
import { sendPage } from './login-routes.js';

type SignedIn = Extract<Identity, { kind: 'user' }>;

/**
 * `/_dashgate/account`: the signed-in user's own page. For now: profile, groups and personal API
 * tokens (create, shown once; revoke). Every POST needs the session's CSRF token and a
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

  async function show(reply: FastifyReply, identity: SignedIn, status: number, extra: Partial<AccountView> = {}) {
    const tokens = await ctx.apiTokens.list(identity.user.id);
    return sendPage(reply, status, renderAccountPage(ctx.branding, { user: identity.user, csrf: ctx.csrf.tokenForSession(identity.session.id), tokens, now: ctx.now(), ...extra }));
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
    return show(reply, identity, 200, query.revoked === '1' ? { info: 'The token was revoked. Scripts using it are refused from now on.' } : {});
  });

  app.post(`${accountPath}/tokens`, async function createToken(request, reply) {
    const identity = await signedIn(request, reply);
    if (!identity || !(await checkForm(request, reply, identity))) return reply;
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
    return reply.redirect(`${accountPath}?revoked=1`, 303);
  });
}
