import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { createAccounts } from './accounts/accounts.js';
import { sessionCookieName, type CookiePolicy } from './auth/cookies.js';
import { CsrfGuard } from './auth/csrf.js';
import { IdentityTokenIssuer } from './auth/identity-jwt.js';
import { SessionManager } from './auth/sessions.js';
import { TokenSealer } from './auth/sealed-token.js';
import { createSetupToken } from './auth/setup-link.js';
import { FlowSeal } from './auth/sso/flow-seal.js';
import { resolveProviders } from './auth/sso/presets.js';
import { SignInThrottle } from './auth/throttle.js';
import { CeremonySeal } from './auth/passkeys.js';
import { MfaChallenge } from './auth/totp.js';
import type { Config } from './config/schema.js';
import { ConfigError, GatewayError, type GatewayErrorCode } from './errors.js';
import { gatewayBaseUrl } from './config/base-url.js';
import { createLogger } from './log.js';
import { createMailer, type Mailer } from './mail/mailer.js';
import { ApiTokenManager } from './auth/api-tokens.js';
import { createAuthorizer } from './pipeline/authorize.js';
import { createSecondFactorGate, type FactorNeed } from './pipeline/second-factor.js';
import { buildUpstreamHeaders } from './pipeline/headers.js';
import { createIdentifier, createSessionIdentifier, userOf, type Identity } from './pipeline/identify.js';
import { createOutcome, isScriptedRequest } from './pipeline/outcome.js';
import { createScopeResolver, isOwnPath, type RequestScope } from './pipeline/scope.js';
import { createForwarder } from './proxy/forward.js';
import { helperScriptTag } from './proxy/page-helper.js';
import { createUpgradeHandler } from './proxy/websocket.js';
import type { Store } from './store/store.js';
import type { Clock } from './store/types.js';
import type { WebContext } from './web/context.js';
import { writeErrorResponse } from './web/error-response.js';
import { registerAccountRoutes } from './web/account-routes.js';
import { registerAdminRoutes } from './web/admin-routes.js';
import { registerInviteRoutes } from './web/invite-routes.js';
import { registerLoginRoutes, sendPage } from './web/login-routes.js';
import { registerResetRoutes } from './web/reset-routes.js';
import { registerPasskeyRoutes } from './web/passkey-routes.js';
import { registerSignupRoutes } from './web/signup-routes.js';
import { registerSsoRoutes } from './web/sso-routes.js';
import { renderMessagePage, type Branding } from './web/pages.js';
import { PAGE_SECURITY_HEADERS } from './web/security-headers.js';
import { registerSetupRoutes } from './web/setup-routes.js';
import { registerSupportRoutes } from './web/support-routes.js';

export interface GatewayDeps {
  store: Store;
  /** Where mail goes; default from `mail` in the config (SMTP, or the outbox directory). */
  mailer?: Mailer;
  logger?: Logger;
  now?: Clock;
  /** Where client secrets are read from (sso.providers[].client_secret_env); default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface Gateway {
  app: FastifyInstance;
  config: Config;
  store: Store;
  sessions: SessionManager;
  identityTokens: IdentityTokenIssuer | null;
  /** Prints nothing: returns the one-time setup URL when no user exists yet, else null. */
  setupLinkIfNeeded(baseUrl: string): Promise<string | null>;
  close(): Promise<void>;
}

/**
 * Assembles the gateway. Every request walks the steps of DESIGN.md in this order:
 *
 *   1. scope          request id, client address, canonical path  (pipeline/scope.ts)
 *   2. own routes     /_dashgate/*, never proxied                  (web/*-routes.ts)
 *   3. identify       session cookie → user, else anonymous         (pipeline/identify.ts)
 *   4. authorize      may this identity reach this path?            (pipeline/authorize.ts)
 *   5. outcome        303 to sign-in, 401 JSON, or 403              (pipeline/outcome.ts)
 *   6. headers        strip spoofable headers, set identity         (pipeline/headers.ts)
 *   7. proxy          stream to the app and back                    (proxy/forward.ts, proxy/websocket.ts)
 *   8. page helper    script added to the app's HTML pages          (proxy/page-helper.ts)
 *
 * Never listens: the caller decides where (cli/serve.ts) or injects requests (tests).
 */
export async function buildApp(config: Config, deps: GatewayDeps): Promise<Gateway> {
  if (!config.upstream) throw new TypeError('config.upstream is required: the URL of the app to protect');
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? createLogger(config.log);
  const prefix = config.prefix;
  const secure = config.server.public_url?.startsWith('https:') === true || config.server.tls !== undefined;
  const cookie: CookiePolicy = { name: config.session.cookie_name, secure };
  const cookieName = sessionCookieName(cookie);
  const branding: Branding = { appName: config.branding.app_name, logoUrl: config.branding.logo_url, prefix };
  const publicOrigin = config.server.public_url ? new URL(config.server.public_url).origin : null;
  const expectedOrigin = (scope: RequestScope) => publicOrigin ?? `${scope.proto}://${scope.host}`;

  // One secret for every short-lived browser token (CSRF, second step, passkey ceremony, SSO flow), a key derived per purpose.
  const sealer = await TokenSealer.load(store, now);
  const { providers: ssoProviders, problems: ssoProblems } = resolveProviders(config, deps.env);
  if (ssoProblems.length) throw new ConfigError(ssoProblems);
  const sessions = new SessionManager(
    store,
    {
      idleTimeoutMs: config.session.idle_timeout,
      absoluteTimeoutMs: config.session.absolute_timeout,
      cacheTtlMs: config.session.cache_ttl,
      touchIntervalMs: config.session.touch_interval,
    },
    now,
    (err) => logger.error({ err }, 'session store write failed'),
  );
  const throttle = new SignInThrottle(
    store,
    {
      accountFreeFailures: config.throttle.account_free_failures,
      ipFreeFailures: config.throttle.ip_free_failures,
      maxDelayMs: config.throttle.max_delay,
      windowMs: config.throttle.window,
    },
    now,
  );

  const identityTokens = config.identity_jwt.enabled
    ? await IdentityTokenIssuer.load(store, {
        issuer: config.identity_jwt.issuer ?? config.server.public_url ?? 'dashgate',
        audience: config.identity_jwt.audience,
        ttlMs: config.identity_jwt.ttl,
        now,
      })
    : null;
  /** Step 6's last header: the signed identity, when enabled and someone is signed in. */
  const signIdentity = async (identity: Identity, headers: Record<string, string | string[]>) => {
    if (!identityTokens) return;
    if (identity.kind === 'user') headers['x-dashgate-jwt'] = await identityTokens.tokenFor(identity.user, identity.session);
    else if (identity.kind === 'credential') headers['x-dashgate-jwt'] = await identityTokens.tokenFor(identity.user, { id: identity.credentialId, authMethod: identity.method });
  };

  const app = Fastify({
    loggerInstance: logger,
    // Per-request log lines would cost more than the proxying itself; failures are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
    // Malformed URLs the router cannot even decode (/a%zz) get the gateway's own 400.
    frameworkErrors: (error, request, reply) => {
      reply.hijack();
      const code = error.code === 'FST_ERR_BAD_URL' ? 'BAD_PATH' : statusToCode((error as { statusCode?: number }).statusCode);
      writeErrorResponse(reply.raw, code, request.headers.accept?.includes('text/html') !== true, branding);
    },
    ...(config.server.tls ? { https: { cert: readFileSync(config.server.tls.cert), key: readFileSync(config.server.tls.key) } } : {}),
  }) as unknown as FastifyInstance;

  // Errors are answered the same way everywhere; set before any plugin so every scope inherits them.
  app.setNotFoundHandler(async function notFound(request, reply) {
    reply.hijack();
    writeErrorResponse(reply.raw, 'NOT_FOUND', request.scope ? isScriptedRequest(request.raw, request.scope) : true, branding, request.scope?.id);
  });
  app.setErrorHandler(async function handleError(error: unknown, request, reply) {
    const code = error instanceof GatewayError ? error.code : statusToCode((error as { statusCode?: number }).statusCode);
    if (code === 'INTERNAL') request.log.error({ err: error, requestId: request.scope?.id }, 'request failed');
    reply.hijack();
    writeErrorResponse(reply.raw, code, request.scope ? isScriptedRequest(request.raw, request.scope) : true, branding, request.scope?.id);
  });

  // Step 1 – scope.
  const resolveScope = createScopeResolver({ trustedProxies: config.server.trusted_proxies });
  app.decorateRequest('scope', null as unknown as RequestScope);
  app.addHook('onRequest', async function scope(request) {
    request.scope = resolveScope(request.raw);
  });

  // Step 3 – identify: own routes know only the session cookie; proxied requests and upgrades
  // also accept API tokens, and HTTP Basic where their rule allows it.
  const identifySession = createSessionIdentifier(sessions, cookieName);
  const apiTokens = new ApiTokenManager(store, { cacheTtlMs: config.session.cache_ttl, touchIntervalMs: config.session.touch_interval }, now, (err) => logger.error({ err }, 'api token store write failed'));
  const identify = createIdentifier(sessions, cookieName, { store, throttle, apiTokens, basicCacheMs: config.session.cache_ttl, now });
  // Step 4 – authorize, then the second-factor policy.
  const authorizer = createAuthorizer(config);
  const secondFactor = createSecondFactorGate({ store, required: config.mfa.required, cacheTtlMs: config.session.cache_ttl, now });
  const describeRefusal = createOutcome({ prefix });

  const mailer = deps.mailer ?? createMailer(config, logger);
  // public_url, else where this instance actually listens (port 0 becomes the port it got).
  const linkBase = () => {
    const address = app.server.address();
    if (config.server.public_url || !address || typeof address === 'string') return gatewayBaseUrl(config);
    return gatewayBaseUrl({ server: { ...config.server, port: address.port } });
  };

  // openid-client is loaded only when providers are configured.
  const ssoClient = ssoProviders.length
    ? new (await import('./auth/sso/client.js')).SsoClient(ssoProviders, { redirectUri: (provider) => `${linkBase()}${prefix}/sso/${provider.id}/callback` })
    : null;

  const passwordPolicy = { minLength: config.password.min_length, maxLength: config.password.max_length };
  // Every account change (console, invitations, sign-ups, SSO) ends sessions and drops cached copies of the user here.
  const accounts = createAccounts({
    store, now, appName: branding.appName,
    passwordPolicy, sessions, caches: [sessions, apiTokens, { forgetUser: (userId: string) => secondFactor.forget(userId) }],
  });

  // Step 2 – own routes, in their own plugin scope: form bodies and page security headers.
  const web: WebContext = {
    prefix, branding, store, accounts, sessions, apiTokens, throttle, mailer, linkBase, secondFactor,
    mfaChallenge: new MfaChallenge(sealer),
    passwordsEnabled: config.password.enabled,
    sso: ssoClient ? { client: ssoClient, seal: new FlowSeal(sealer), logoutAtProvider: config.sso.logout_at_provider } : null,
    signup: { mode: config.signup.mode, allowedDomains: config.signup.allowed_domains, autoApprove: config.signup.auto_approve }, cookie, cookieName, now, expectedOrigin,
    identify: (request: FastifyRequest) => identifySession(request.raw),
    cookieMaxAgeSeconds: Math.floor(config.session.absolute_timeout / 1000),
    csrf: new CsrfGuard(sealer),
    passwordPolicy,
    log: logger,
    jwks: identityTokens ? () => identityTokens.jwks() : null,
  };
  await app.register(async function ownRoutes(own) {
    own.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    own.addHook('onSend', async function pageSecurityHeaders(_request, reply) {
      for (const [name, value] of Object.entries(PAGE_SECURITY_HEADERS)) if (!reply.hasHeader(name)) reply.header(name, value);
    });
    registerLoginRoutes(own, web);
    registerSetupRoutes(own, web);
    registerAccountRoutes(own, web);
    registerInviteRoutes(own, web);
    registerResetRoutes(own, web);
    registerSignupRoutes(own, web);
    registerPasskeyRoutes(own, web, new CeremonySeal(sealer));
    if (web.sso) registerSsoRoutes(own, web, web.sso.client, web.sso.seal);
    registerAdminRoutes(own, web);
    registerSupportRoutes(own, web);
    own.all(`${prefix}/*`, async function unknownOwnRoute() {
      throw new GatewayError('NOT_FOUND');
    });
  });

  // Steps 3–8 for everything else.
  const forwarder = createForwarder({
    upstream: config.upstream,
    connectTimeoutMs: config.proxy.connect_timeout,
    responseTimeoutMs: config.proxy.response_timeout,
    helperTag: config.page_helper.enabled ? helperScriptTag({ prefix, badge: config.page_helper.badge, appName: branding.appName }) : null,
    maxHtmlBytes: config.page_helper.max_html_bytes,
  });
  await app.register(async function proxied(proxy) {
    // Bodies are streamed to the app untouched: no parser may read them.
    proxy.removeAllContentTypeParsers();
    proxy.addContentTypeParser('*', (_req, _payload, done) => done(null));
    async function guardAndForward(request: FastifyRequest, reply: FastifyReply) {
      const { scope } = request;
      const { raw: req } = request;
      if (isOwnPath(scope.matchPath, prefix)) throw new GatewayError('NOT_FOUND');
      const rule = authorizer.match(scope, req.method ?? 'GET');
      const identity = await identify(req, { allowBasic: rule.allowBasic, clientIp: scope.clientIp });
      if (identity.kind === 'rejected') return refuseCredentials(reply, identity);
      let verdict = authorizer.verdict(rule, identity);
      if (verdict === 'allow') {
        const need = await secondFactor.need(identity, rule);
        if (need) return askForSecondFactor(req, reply, scope, need);
      }
      let body: Buffer | undefined;
      if (verdict === 'allow' && authorizer.inspectsCallback(req, scope)) {
        const checked = await authorizer.checkCallback(req, identity);
        verdict = checked.verdict;
        body = checked.body;
        if (verdict === 'forbidden') request.log.info({ requestId: scope.id, user: userOf(identity)?.username, rule: checked.judgement.rule?.label }, 'callback refused by rule');
      }
      if (verdict !== 'allow') {
        const refusal = describeRefusal(req, scope, verdict);
        if (refusal.kind === 'redirect') return reply.header('cache-control', 'no-store').redirect(refusal.location, refusal.status);
        if (refusal.kind === 'json') {
          return reply.code(refusal.status).header('cache-control', 'no-store').header('x-dashgate', refusal.status === 401 ? 'login-required' : 'forbidden').send(refusal.body);
        }
        return sendPage(reply, 403, renderMessagePage(branding, { title: 'No access', message: `Your account does not have access to this part of ${branding.appName}.` }));
      }
      const headers = buildUpstreamHeaders(req.headers, scope, identity, { cookieName, allowBasic: rule.allowBasic, identityEncoding: config.page_helper.enabled && !isScriptedRequest(req, scope) });
      await signIdentity(identity, headers);
      reply.hijack();
      try {
        await forwarder.forward({ req, res: reply.raw, target: scope.wirePath + scope.query, headers, ...(body ? { body } : {}) });
      } catch (err) {
        const code = err instanceof GatewayError ? err.code : 'INTERNAL';
        if (code === 'INTERNAL') request.log.error({ err, requestId: scope.id }, 'proxy failure');
        else request.log.warn({ code, requestId: scope.id, cause: (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : undefined }, 'upstream failure');
        writeErrorResponse(reply.raw, code, isScriptedRequest(req, scope), branding, scope.id);
      }
    }
    /** Set up a factor (account page), use it now (step-up page), or 403 for a password-only script. */
    function askForSecondFactor(req: FastifyRequest['raw'], reply: FastifyReply, scope: RequestScope, need: NonNullable<FactorNeed>) {
      reply.header('cache-control', 'no-store');
      const next = scope.wirePath + scope.query;
      const url = need === 'enrol' ? `${prefix}/account?enrol=1` : need === 'step_up' ? `${prefix}/stepup?next=${encodeURIComponent(next)}` : null;
      if (isScriptedRequest(req, scope) || url === null) {
        return reply.code(403).header('x-dashgate', 'forbidden').send({ error: need === 'enrol' ? 'second_factor_enrolment_required' : 'second_factor_required', ...(url ? { url } : {}) });
      }
      return reply.redirect(url, 303);
    }
    /** An API token or Basic password that did not check out: 401 (429 while throttled), never a redirect. */
    function refuseCredentials(reply: FastifyReply, identity: Extract<Identity, { kind: 'rejected' }>) {
      reply.header('cache-control', 'no-store');
      if (identity.retryAfterMs !== null) {
        return reply.code(429).header('retry-after', String(Math.ceil(identity.retryAfterMs / 1000))).send({ error: 'too_many_attempts', retry_after: Math.ceil(identity.retryAfterMs / 1000) });
      }
      const challenge = identity.scheme === 'Basic' ? `Basic realm="${branding.appName.replace(/["\\]/g, '')}", charset="UTF-8"` : 'Bearer error="invalid_token"';
      return reply.code(401).header('www-authenticate', challenge).send({ error: 'invalid_credentials' });
    }
    proxy.all('/', guardAndForward);
    proxy.all('/*', guardAndForward);
  });

  const websockets = createUpgradeHandler({
    upstream: config.upstream,
    prefix,
    cookieName,
    connectTimeoutMs: config.proxy.connect_timeout,
    resolveScope,
    identify,
    authorizer,
    secondFactor,
    describeRefusal,
    expectedOrigin,
    onError: (err, scope) => logger.error({ err, requestId: scope?.id }, 'websocket upgrade failed'),
    recheckMs: Math.max(1000, config.session.cache_ttl),
    signIdentity,
    serveAsRequest: (req, res) => app.server.emit('request', req, res),
  });
  app.server.on('upgrade', (req, socket, head) => void websockets.handleUpgrade(req, socket, head));
  // "Expect: 100-continue": invite the body only from callers who may send it (the gateway's own
  // forms, or a signed-in user). Others get their 401/303 without being asked to upload first.
  app.server.on('checkContinue', (req, res) => {
    const invite = (() => {
      try {
        const scope = resolveScope(req);
        if (isOwnPath(scope.matchPath, prefix)) return Promise.resolve(true);
        const rule = authorizer.match(scope, req.method ?? 'GET');
        // No Basic here: a password is checked once, when the request itself is handled.
        return identify(req, { touch: false, clientIp: scope.clientIp }).then((identity) => authorizer.verdict(rule, identity) === 'allow');
      } catch {
        return Promise.resolve(false);
      }
    })();
    invite.then(
      (yes) => {
        if (yes) res.writeContinue();
        app.server.emit('request', req, res);
      },
      (err) => {
        logger.error({ err }, 'expect-continue check failed');
        app.server.emit('request', req, res);
      },
    );
  });

  const sweep = setInterval(() => sessions.sweepExpired().catch((err) => logger.error({ err }, 'session sweep failed')), 10 * 60_000);
  sweep.unref();
  // Key rotation by `dashgate keys rotate` (another process) reaches every instance within a minute.
  const keyReload = setInterval(() => identityTokens?.reload().catch((err) => logger.error({ err }, 'identity key reload failed')), 60_000);
  keyReload.unref();

  return {
    app,
    config,
    store,
    sessions,
    identityTokens,
    async setupLinkIfNeeded(baseUrl: string) {
      if ((await store.users.count()) > 0) return null;
      const token = await createSetupToken(store, now);
      return `${baseUrl.replace(/\/+$/, '')}${prefix}/setup?token=${token}`;
    },
    async close() {
      clearInterval(sweep);
      clearInterval(keyReload);
      websockets.close();
      await app.close();
      await forwarder.close();
    },
  };
}

/** Fastify's own errors (body too large, bad JSON, unsupported type) mapped onto our codes. */
function statusToCode(status: number | undefined): GatewayErrorCode {
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 404) return 'NOT_FOUND';
  if (status !== undefined && status >= 400 && status < 500) return 'BAD_REQUEST';
  return 'INTERNAL';
}
