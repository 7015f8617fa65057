import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createServer as createHttpsServer } from 'node:https';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { createAccounts } from './accounts/accounts.js';
import { sessionCookieName, type CookiePolicy } from './auth/cookies.js';
import { CsrfGuard } from './auth/csrf.js';
import { IdentityTokenIssuer } from './auth/identity-jwt.js';
import { appSecretProblem, createAppTokenSigner, type AppTokenSigner } from './auth/app-token.js';
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
import { createCallbackCatalog } from './access/dash-dependencies.js';
import { createAuthorizer } from './pipeline/authorize.js';
import { fetchUpstreamJson } from './proxy/upstream-json.js';
import { parseUpstream } from './proxy/upstream.js';
import { createSecondFactorGate } from './pipeline/second-factor.js';
import { buildUpstreamHeaders } from './pipeline/headers.js';
import { createIdentifier, createSessionIdentifier, userOf, type Identity } from './pipeline/identify.js';
import { answerRefusal, isScriptedRequest } from './pipeline/outcome.js';
import { createGuard } from './pipeline/guard.js';
import { createForwardAuthHandler, type ForwardAuthStyle } from './pipeline/forward-auth.js';
import { createProxyHandler } from './proxy/handler.js';
import { writeRefusal, type RefusalPageRenderer } from './proxy/refusals.js';
import { createLogLimiter } from './ops/log-limiter.js';
import { createHealth, type Health } from './ops/health.js';
import { configurePasswordHashing } from './auth/passwords.js';
import { createLocalBus, type ChangeBus } from './ops/change-bus.js';
import { KeyedMutex, type KeyedLock } from './auth/keyed-mutex.js';
import { connectConfiguredRedis, type RedisStatus } from './ops/redis.js';
import { createScopeResolver, isOwnPath, type RequestScope } from './pipeline/scope.js';
import { createForwarder } from './proxy/forward.js';
import { helperScriptTag, injectIntoHtml } from './proxy/page-helper.js';
import { withoutPageContent } from './proxy/dash-config.js';
import { createUpgradeHandler } from './proxy/websocket.js';
import { isStoreOutage } from './store/outage.js';
import type { Store } from './store/store.js';
import type { Clock } from './store/types.js';
import type { WebContext } from './web/context.js';
import { createWebErrorHandler } from './web/error-handler.js';
import { writeErrorResponse } from './web/error-response.js';
import { registerAccountRoutes } from './web/account-routes.js';
import { registerAdminRoutes } from './web/admin-routes.js';
import { registerInviteRoutes } from './web/invite-routes.js';
import { registerLoginRoutes } from './web/login-routes.js';
import { registerResetRoutes } from './web/reset-routes.js';
import { registerPasskeyRoutes } from './web/passkey-routes.js';
import { registerSignupRoutes } from './web/signup-routes.js';
import { registerSsoRoutes } from './web/sso-routes.js';
import { type Branding } from './web/pages.js';
import { refusalPageCode, renderRefusalPage as renderRefusalPageView } from './web/refusal-page.js';
import { PAGE_SECURITY_HEADERS } from './web/security-headers.js';
import { registerSetupRoutes } from './web/setup-routes.js';
import { registerSupportRoutes } from './web/support-routes.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { createRequestObserver } from './ops/access-log.js';
import { VERSION } from './version.js';

export interface GatewayDeps {
  store: Store;
  /** Where mail goes; default from `mail` in the config (SMTP, or the outbox directory). */
  mailer?: Mailer;
  logger?: Logger;
  now?: Clock;
  /** Where client secrets are read from (sso.providers[].client_secret_env); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** How this process tells the gateway's other processes about ended sessions and changed users (default: none). */
  bus?: ChangeBus;
  /** The lock credential checks take (default: within this process; across processes for server.workers). */
  lock?: KeyedLock;
  /** Where request, sign-in, store and upstream figures go (default: created when metrics.listen is set). */
  metrics?: Metrics | null;
  /**
   * A server another gateway already listens on (a configuration reload): this gateway serves
   * it once `attach()` is called, and the one before detaches. Default: a server of its own, served at once.
   */
  server?: Server;
}

export interface Gateway {
  app: FastifyInstance;
  config: Config;
  store: Store;
  sessions: SessionManager;
  identityTokens: IdentityTokenIssuer | null;
  /** Liveness and readiness (also answered at /_dashgate/health and /_dashgate/ready). */
  health: Health;
  /** The gateway's Prometheus metrics, or null when metrics are off. */
  metrics: Metrics | null;
  /** With `redis.url`: whether Redis is up and its error counters (ops/redis.ts); else null. */
  redis: RedisStatus | null;
  /** Starts serving the server given as `deps.server` (the one before must `retire()`). */
  attach(): void;
  /**
   * After a reload: stops serving (the next gateway serves the same server), closes WebSockets
   * with 1001 so they reconnect under the new configuration; requests in flight finish.
   */
  retire(): void;
  /** Prints nothing: returns the one-time setup URL when no user exists yet, else null. */
  setupLinkIfNeeded(baseUrl: string): Promise<string | null>;
  /**
   * Stops: no new connections, WebSockets closed with 1001, requests in flight given `drainMs`
   * (default server.drain_timeout) to finish before their connections are cut, then the rest.
   */
  close(drainMs?: number): Promise<void>;
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
  const upstream = parseUpstream(config.upstream);
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? createLogger(config.log);
  const metrics = deps.metrics !== undefined ? deps.metrics : config.metrics.listen !== undefined ? createMetrics({ version: VERSION }) : null;
  if (metrics) {
    store.queries.listen((ms, failed) => metrics.storeQuery(ms / 1000, failed));
    store.audit.listen((event) => metrics.audit(event));
  }
  const observer = createRequestObserver({ format: config.log.access, includeQuery: config.log.access_query, logger, metrics });
  const prefix = config.prefix;
  const secure = config.server.public_url?.startsWith('https:') === true || config.server.tls !== undefined;
  const cookie: CookiePolicy = { name: config.session.cookie_name, secure };
  const cookieName = sessionCookieName(cookie);
  const branding: Branding = { appName: config.branding.app_name, logoUrl: config.branding.logo_url, prefix };
  const publicOrigin = config.server.public_url ? new URL(config.server.public_url).origin : null;
  const expectedOrigin = (scope: RequestScope) => publicOrigin ?? `${scope.proto}://${scope.host}`;
  // Where sign-in may send a browser back by absolute URL (forward-auth: the apps' origins).
  const nextOrigins = [...new Set([...config.forward_auth.allowed_origins, ...(publicOrigin ? [publicOrigin] : [])])];

  // One secret for every short-lived browser token (CSRF, second step, passkey ceremony, SSO flow), a key derived per purpose.
  const sealer = await TokenSealer.load(store, now);
  const { providers: ssoProviders, problems: ssoProblems } = resolveProviders(config, deps.env);
  if (ssoProblems.length) throw new ConfigError(ssoProblems);
  // With Redis, ended sessions reach every instance at once, so session.cache_ttl may be long; while
  // Redis is down nothing tells this instance about changes elsewhere: cached credentials are then
  // re-checked against the store every redis.outage_cache_ttl (read on every use, so it applies at once).
  const outageTtl = Math.min(config.session.cache_ttl, config.redis.outage_cache_ttl);
  const redis = connectConfiguredRedis(config.redis, {
    logger, env: deps.env ?? process.env,
    // A bus given by the caller (the workers' bus) outlives this gateway (a reload builds the next one on it): not closed with the Redis link.
    local: deps.bus ? { publish: (change) => deps.bus!.publish(change), subscribe: (listener) => deps.bus!.subscribe(listener), close: async () => {} } : createLocalBus(),
    localLock: deps.lock ?? new KeyedMutex(),
    fallbackNote: `sessions re-checked every ${outageTtl / 1000} s, credential checks locked per instance`,
  });
  const cacheTtlMs = () => (redis && !redis.status.up() ? outageTtl : config.session.cache_ttl);
  const sessions = new SessionManager(
    store,
    {
      idleTimeoutMs: config.session.idle_timeout,
      absoluteTimeoutMs: config.session.absolute_timeout,
      get cacheTtlMs() {
        return cacheTtlMs();
      },
      touchIntervalMs: config.session.touch_interval,
      outageGraceMs: config.session.store_outage === 'grace' ? config.session.outage_grace : 0,
    },
    now,
    // A store outage is logged by the store itself, once a second.
    (err) => isStoreOutage(err) || logger.error({ err }, 'session store write failed'),
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
    ...(redis ? [redis.lock] : deps.lock ? [deps.lock] : []),
  );
  if (metrics) throttle.onThrottled = (kind) => metrics.throttled(kind);

  const identityTokens = config.identity_jwt.enabled
    ? await IdentityTokenIssuer.load(store, {
        issuer: config.identity_jwt.issuer ?? config.server.public_url ?? 'dashgate',
        audience: config.identity_jwt.audience,
        ttlMs: config.identity_jwt.ttl,
        now,
      })
    : null;
  const appToken = createConfiguredAppTokenSigner(config, deps.env ?? process.env, now);
  /** Step 6's last headers: the signed identity when enabled and someone is signed in, and the app token when configured. */
  const signIdentity = async (identity: Identity, headers: Record<string, string | string[]>) => {
    if (!identityTokens) return;
    const credential = identity.kind === 'user' ? identity.session : identity.kind === 'credential' ? { id: identity.credentialId, authMethod: identity.method } : null;
    const user = userOf(identity);
    if (user && credential) headers['x-dashgate-jwt'] = await identityTokens.tokenFor(user, credential);
    if (appToken) headers['x-dashgate-app-token'] = await appToken(user, credential);
  };

  // One node:http server and one handler: the gateway's own pages go to fastify, everything else
  // to the proxy handler, which never enters fastify (its per-request machinery is not needed to forward).
  let ownRoutesHandler: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  // A server taken over at a reload keeps the limits it was created with (server.* needs a restart).
  const server: Server =
    deps.server ??
    (config.server.tls
      ? createHttpsServer({ ...serverLimits(config), cert: readFileSync(config.server.tls.cert), key: readFileSync(config.server.tls.key) })
      : createHttpServer(serverLimits(config)));
  if (!deps.server) {
    server.keepAliveTimeout = config.server.keep_alive_timeout;
    server.maxHeadersCount = config.server.max_headers_count;
  }
  const clientErrorListeners = server.listenerCount('clientError');
  const app = Fastify({
    loggerInstance: logger,
    // Per-request log lines would cost more than the proxying itself; failures are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
    serverFactory: (handler) => {
      ownRoutesHandler = handler;
      return server;
    },
    // Malformed URLs the router cannot even decode (/a%zz) get the gateway's own 400.
    frameworkErrors: (error, request, reply) => {
      reply.hijack();
      const code = error.code === 'FST_ERR_BAD_URL' ? 'BAD_PATH' : statusToCode((error as { statusCode?: number }).statusCode);
      writeErrorResponse(reply.raw, code, request.headers.accept?.includes('text/html') !== true, branding);
    },
  }) as unknown as FastifyInstance;
  // fastify adds its client-error answer to the server; a server taken over at a reload has one already.
  if (deps.server) for (const listener of server.listeners('clientError').slice(clientErrorListeners)) server.off('clientError', listener as () => void);

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

  // Step 1 – scope, once per request (dispatch); own routes read what dispatch found.
  const resolveScope = createScopeResolver({ trustedProxies: config.server.trusted_proxies });
  app.decorateRequest('scope', null as unknown as RequestScope);
  app.addHook('onRequest', async function scope(request) {
    request.scope = scopeOf.get(request.raw) ?? resolveScope(request.raw);
  });
  const scopeOf = new WeakMap<IncomingMessage, RequestScope>();

  // Step 3 – identify: own routes know only the session cookie; proxied requests and upgrades
  // also accept API tokens, and HTTP Basic where their rule allows it.
  const identifySession = createSessionIdentifier(sessions, cookieName);
  const apiTokens = new ApiTokenManager(store, { get cacheTtlMs() { return cacheTtlMs(); }, touchIntervalMs: config.session.touch_interval }, now, (err) => isStoreOutage(err) || logger.error({ err }, 'api token store write failed'));
  const identify = createIdentifier(sessions, cookieName, { store, throttle, apiTokens, basicCacheMs: config.session.cache_ttl, now });
  // Step 4 – authorize, then the second-factor policy.
  // What the app's callbacks declare (`_dash-dependencies`), read from the app itself: page rules
  // judge a callback's arguments by the declaration, never by the ids a body claims.
  const catalog = createCallbackCatalog({
    now,
    load: async () =>
      fetchUpstreamJson(upstream, `${config.dash.prefix}_dash-dependencies`, {
        timeoutMs: config.proxy.connect_timeout + 10_000,
        headers: appToken ? { 'x-dashgate-app-token': await appToken(null, null) } : {},
      }),
  });
  const authorizer = createAuthorizer(config, { catalog });
  const bus = redis?.bus ?? deps.bus ?? createLocalBus();
  const secondFactor = createSecondFactorGate({ store, required: config.mfa.required, cacheTtlMs: config.session.cache_ttl, now, onForget: (userId) => bus.publish({ userId }) });
  // Changes made here go out on the bus; changes made by another process drop this one's copies.
  sessions.onChange((change, origin) => {
    if (origin === 'here') bus.publish(change);
  });
  apiTokens.onRevoked = (userId) => bus.publish({ userId });
  bus.subscribe((change) => {
    sessions.applyChange(change);
    if ('userId' in change) {
      apiTokens.forgetUser(change.userId);
      secondFactor.forgetElsewhere(change.userId);
    }
  });
  // Back from a Redis outage: changes made elsewhere meanwhile may have been missed.
  redis?.onResync(() => {
    sessions.forgetAll();
    apiTokens.forgetAll();
  });
  const guard = createGuard({ authorizer, identify, secondFactor });

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

  const health = createHealth({ store, upstream });
  if (redis) health.addPart(redis.readiness);

  // Step 2 – own routes, in their own plugin scope: form bodies and page security headers.
  const web: WebContext = {
    prefix, health, branding, store, accounts, sessions, apiTokens, throttle, mailer, linkBase, secondFactor,
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
    nextOrigins,
  };
  await app.register(async function ownRoutes(own) {
    own.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    // Refusals of the gateway's own pages (web/web-refusal.ts) are answered there; anything else goes on to handleError.
    own.setErrorHandler(createWebErrorHandler(web));
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

  // Step 8: the page helper, and (while path rules guard pages) no page layouts in every page's source.
  // The same on every instance (a page may be served by one and its socket by another), unknown to the app.
  const refusalMark = `dashgate:${await store.settings.getOrInsert('page_helper_mark', randomBytes(9).toString('hex'))}`;
  const helperTag = config.page_helper.enabled ? helperScriptTag({ prefix, badge: config.page_helper.badge, appName: branding.appName, mark: refusalMark }) : null;
  const hidesPageLayouts = config.access.rules.length > 0;
  const rewriteHtml =
    helperTag === null && !hidesPageLayouts
      ? null
      : (page: Buffer) => {
          const kept = hidesPageLayouts ? withoutPageContent(page) : page;
          return helperTag ? injectIntoHtml(kept, helperTag) : kept;
        };
  // Steps 3–8 for everything else.
  const forwarder = createForwarder({
    upstream,
    // The app may be restarting as another release: its callbacks are read again.
    onUnavailable: () => catalog.invalidate(),
    onConnectionPerRequest: () =>
      logger.info(
        { upstream: upstream.url },
        'the app closes its connection after every response (gunicorn\'s default sync workers do): each request opens a new one. Keep them open with gunicorn --threads 4 (gthread workers), or serve it on a Unix socket with dashgate run -- gunicorn -b unix:{socket} app:server; docs/benchmarks.md has the measured difference',
      ),
    connectTimeoutMs: config.proxy.connect_timeout,
    responseTimeoutMs: config.proxy.response_timeout,
    rewriteHtml,
    mustRewrite: hidesPageLayouts,
    maxHtmlBytes: config.page_helper.max_html_bytes,
  });
  const renderRefusalPage: RefusalPageRenderer = (page, status, at) => renderRefusalPageView(branding, { ...page, status, code: refusalPageCode(page, status), at });
  const logLimited = createLogLimiter(logger);
  const handleProxied = createProxyHandler({
    guard,
    forwarder,
    prefix,
    appName: branding.appName,
    renderPage: renderRefusalPage,
    pageHeaders: PAGE_SECURITY_HEADERS,
    log: logger,
    logLimited,
    metrics,
    async upstreamHeaders(req, scope, identity, rule) {
      // Pages are fetched uncompressed so they can be rewritten: every GET while other pages' layouts
      // are removed (a script asking for "/" must not get them compressed), else browser navigations.
      const identityEncoding = hidesPageLayouts ? req.method === 'GET' || req.method === 'HEAD' : rewriteHtml !== null && !isScriptedRequest(req, scope);
      const headers = buildUpstreamHeaders(req.headers, scope, identity, { cookieName, allowBasic: rule.allowBasic, identityEncoding });
      await signIdentity(identity, headers);
      return headers;
    },
  });

  const healthPath = `${prefix}/health`;
  const readyPath = `${prefix}/ready`;
  // Forward-auth: the front proxy asks, Dashgate judges (pipeline/forward-auth.ts).
  const forwardAuthPaths = new Map<string, ForwardAuthStyle>([[`${prefix}/auth`, 'redirect'], [`${prefix}/auth/nginx`, 'status']]);
  const answerForwardAuth = config.forward_auth.enabled
    ? createForwardAuthHandler({ guard, prefix, appName: branding.appName, allowedOrigins: nextOrigins, signIdentity, renderPage: renderRefusalPage, pageHeaders: PAGE_SECURITY_HEADERS, log: logger, logLimited })
    : null;

  let draining = false;
  /** Every request: its scope (a path or Host the gateway refuses is answered here), then own routes or the proxy. */
  function dispatch(req: IncomingMessage, res: ServerResponse, known?: RequestScope): void {
    // Shutting down: answer what still comes on open connections, then close them (the client reconnects elsewhere).
    if (draining) res.shouldKeepAlive = false;
    let scope: RequestScope;
    try {
      scope = known ?? resolveScope(req);
    } catch (err) {
      const code = err instanceof GatewayError ? err.code : 'BAD_REQUEST';
      const answer = answerRefusal({ kind: 'error', code }, { prefix, next: '/', scripted: req.headers.accept?.includes('text/html') !== true, appName: branding.appName });
      // Refused at the door (no path or Host to log): counted, not access-logged.
      metrics?.request('bad_request', answer.status, 0);
      return writeRefusal(req, res, answer, { renderPage: renderRefusalPage, pageHeaders: PAGE_SECURITY_HEADERS, context: { user: null, path: '/' } });
    }
    if (isOwnPath(scope.matchPath, prefix)) {
      // Probes ask the exact path: answered here, ahead of the router. Any other spelling goes to
      // the router, which refuses what it does not know (`//_dashgate/health` is not a route).
      const target = req.url!.split('?', 1)[0];
      if ((target === healthPath || target === readyPath) && (req.method === 'GET' || req.method === 'HEAD')) {
        return void health.answer(target === healthPath ? 'health' : 'ready', req, res);
      }
      const style = answerForwardAuth ? forwardAuthPaths.get(target!) : undefined;
      if (style) return void answerForwardAuth!(req, res, scope, style);
      scopeOf.set(req, scope);
      return ownRoutesHandler(req, res);
    }
    void handleProxied(req, res, scope, observer.begin(req, res, scope));
  }

  const websockets = createUpgradeHandler({
    upstream,
    prefix,
    prefixForLogin: prefix,
    appName: branding.appName,
    cookieName,
    connectTimeoutMs: config.proxy.connect_timeout,
    resolveScope,
    guard,
    authorizer,
    secondFactor,
    expectedOrigin,
    onError: (err, scope) => logger.error({ err, requestId: scope?.id }, 'websocket upgrade failed'),
    recheckMs: Math.max(1000, redis ? outageTtl : config.session.cache_ttl),
    signIdentity,
    serveAsRequest: (req, res) => dispatch(req, res),
    onSessionChange: (listener) => sessions.onChange(listener),
    maxMessageBytes: config.dash.max_callback_body,
    mark: refusalMark,
    log: logger,
  });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => void websockets.handleUpgrade(req, socket, head);
  metrics?.setSources({
    activeSessions: () => store.sessions.countActive(now(), now() - config.session.idle_timeout),
    openWebSockets: () => websockets.openCount(),
    ...(redis ? { redis: () => ({ up: redis.status.up(), ...redis.status.counters() }) } : {}),
  });
  // "Expect: 100-continue": invite the body only from callers who may send it (the gateway's own
  // forms, or a caller the guard would let through). The probe has no side effects; the request
  // itself is judged once, as usual, and a refused one is answered without its body.
  const onCheckContinue = (req: IncomingMessage, res: ServerResponse) => {
    let scope: RequestScope;
    try {
      scope = resolveScope(req);
    } catch {
      return dispatch(req, res);
    }
    if (isOwnPath(scope.matchPath, prefix)) {
      res.writeContinue();
      return dispatch(req, res, scope);
    }
    guard(req, scope, 'continue').then(
      (result) => {
        if (result.allowed) res.writeContinue();
        dispatch(req, res, scope);
      },
      (err) => {
        // The request itself is judged next and answered (503 for a store outage, logged by the store).
        if (!isStoreOutage(err)) logger.error({ err, requestId: scope.id }, 'expect-continue check failed');
        dispatch(req, res, scope);
      },
    );
  };
  // A server of its own is served at once; a shared one (a reload) when the caller says so.
  let attached = false;
  const attach = () => {
    if (attached) return;
    attached = true;
    server.on('request', dispatch);
    server.on('upgrade', onUpgrade);
    server.on('checkContinue', onCheckContinue);
  };
  const detach = () => {
    attached = false;
    server.off('request', dispatch);
    server.off('upgrade', onUpgrade);
    server.off('checkContinue', onCheckContinue);
  };
  if (!deps.server) attach();

  const sweep = setInterval(() => sessions.sweepExpired().catch((err) => logger.error({ err }, 'session sweep failed')), 10 * 60_000);
  sweep.unref();
  // Key rotation by `dashgate keys rotate` (another process) reaches every instance within a minute.
  const keyReload = setInterval(() => identityTokens?.reload().catch((err) => logger.error({ err }, 'identity key reload failed')), 60_000);
  keyReload.unref();

  redis?.start();
  // Process-wide: set once nothing above can fail, so a reload refused on its way changes nothing.
  configurePasswordHashing({ maxConcurrent: config.password.max_concurrent_hashes, maxQueued: config.password.hash_queue });
  return {
    app,
    config,
    store,
    sessions,
    identityTokens,
    health,
    metrics,
    redis: redis?.status ?? null,
    async setupLinkIfNeeded(baseUrl: string) {
      if ((await store.users.count()) > 0) return null;
      const token = await createSetupToken(store, now);
      return `${baseUrl.replace(/\/+$/, '')}${prefix}/setup?token=${token}`;
    },
    attach,
    retire() {
      detach();
      clearInterval(sweep);
      clearInterval(keyReload);
      websockets.close();
      // The next gateway has its own Redis link.
      void redis?.close();
      // Requests this gateway is still forwarding keep their upstream connections; then they go.
      setTimeout(() => void forwarder.close(), config.server.drain_timeout + 60_000).unref();
    },
    async close(drainMs = config.server.drain_timeout) {
      draining = true;
      health.drain();
      clearInterval(sweep);
      clearInterval(keyReload);
      // Sockets first: a browser told "going away" (1001) reconnects at once, to another instance.
      websockets.close();
      // The listener stops and idle keep-alive connections close; requests in flight go on. A
      // connection whose answer ends becomes idle: closed too. After drainMs, everything.
      // (fastify closes the server it listened on; a server taken over at a reload is closed here.)
      const closed = app.close().then(() => (server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : undefined));
      server.closeIdleConnections();
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      const cut = setTimeout(() => {
        logger.warn({ drainMs }, 'requests still in flight after the drain time: closing their connections');
        server.closeAllConnections();
      }, drainMs);
      try {
        await closed;
      } finally {
        clearInterval(idle);
        clearTimeout(cut);
      }
      await forwarder.close();
      await redis?.close();
    },
  };
}

/** The app-token signer when `identity_jwt.app_secret_env` names a usable secret; a missing or short one stops start-up. */
function createConfiguredAppTokenSigner(config: Config, env: NodeJS.ProcessEnv, now: Clock): AppTokenSigner | null {
  const name = config.identity_jwt.app_secret_env;
  if (!config.identity_jwt.enabled || name === undefined) return null;
  const secret = env[name];
  if (!secret) throw new ConfigError([`identity_jwt.app_secret_env: the environment variable ${name} is not set`]);
  const problem = appSecretProblem(secret);
  if (problem) throw new ConfigError([`identity_jwt.app_secret_env: ${name} ${problem}`]);
  return createAppTokenSigner({
    secret: new TextEncoder().encode(secret),
    issuer: config.identity_jwt.issuer ?? config.server.public_url ?? 'dashgate',
    audience: config.identity_jwt.audience,
    ttlMs: config.identity_jwt.ttl,
    now,
  });
}

/**
 * Node's limits on what a client may send, set deliberately (docs/faults.md): a request
 * head must arrive within headers_timeout (slowloris), the whole request within request_timeout;
 * the timeouts are checked every second (Node's default is every 30 s, which let a slow
 * connection stay 30 s past its limit).
 */
function serverLimits(config: Config) {
  return {
    headersTimeout: config.server.headers_timeout,
    requestTimeout: config.server.request_timeout,
    maxHeaderSize: config.server.max_header_bytes,
    connectionsCheckingInterval: 1000,
  };
}

/** Fastify's own errors (body too large, bad JSON, unsupported type) mapped onto our codes. */
function statusToCode(status: number | undefined): GatewayErrorCode {
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 404) return 'NOT_FOUND';
  if (status !== undefined && status >= 400 && status < 500) return 'BAD_REQUEST';
  return 'INTERNAL';
}
