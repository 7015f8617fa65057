import { z } from 'zod';
import { upstreamProblem } from '../proxy/upstream.js';
import { hostPatternProblem, pathPatternProblem } from '../access/patterns.js';
import { componentPatternProblem, outputPatternProblem } from '../access/dash-callbacks.js';
import { groupNameProblem } from '../store/groups.js';
import { parseDuration } from './duration.js';
import { parseRedisUrl } from '../ops/redis-url.js';

/** A duration written as `30m`, `8h`, `7d` or seconds; becomes milliseconds. */
const duration = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like "30s", "15m", "8h" or "7d", got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return ms;
    });

const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}, 'expected an http:// or https:// URL');

/** "https://app.example.com" or "http://127.0.0.1:8080": an origin, nothing after it. */
const httpOrigin = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value.replace(/\/$/, '').toLowerCase();
  } catch {
    return false;
  }
}, 'expected an origin such as https://app.example.com (scheme, host and optional port; no path)').transform((value) => new URL(value).origin);

const prefix = z
  .string()
  .regex(/^\/[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*$/, 'expected a path like "/_dashgate" (no trailing slash)')
  .default('/_dashgate');

const ipOrCidr = z.string().regex(/^[0-9a-fA-F.:]+(?:\/\d{1,3})?$/, 'expected an IP address or CIDR range');

const groupName = z.string().superRefine((name, ctx) => {
  const problem = groupNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * Who may pass, shared by path rules, `access.default` and Dash callback rules. `policy` may be
 * left out when `groups` or `users` says it; anything contradictory is a config error.
 */
const policyFields = {
  policy: z.enum(['public', 'authenticated', 'groups', 'users', 'deny']).optional(),
  groups: z.array(groupName).min(1).optional(),
  /** For `policy: groups`: the user needs any one of the groups (default) or all of them. */
  match: z.enum(['any', 'all']).optional(),
  users: z.array(z.string().min(1).max(256)).min(1).optional(),
};

type PolicyFields = { policy?: 'public' | 'authenticated' | 'groups' | 'users' | 'deny' | undefined; groups?: string[] | undefined; match?: 'any' | 'all' | undefined; users?: string[] | undefined };

function checkPolicy(value: PolicyFields, ctx: z.RefinementCtx): void {
  const policy = value.policy ?? (value.groups && !value.users ? 'groups' : value.users && !value.groups ? 'users' : undefined);
  if (policy === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['policy'],
      message: value.groups && value.users ? 'give either groups or users, not both (write two rules)' : 'required: one of public, authenticated, groups, users, deny',
    });
    return;
  }
  if (policy === 'groups' && !value.groups) ctx.addIssue({ code: 'custom', path: ['groups'], message: 'policy "groups" needs a list of groups' });
  if (policy === 'users' && !value.users) ctx.addIssue({ code: 'custom', path: ['users'], message: 'policy "users" needs a list of usernames' });
  if (policy !== 'groups' && value.groups) ctx.addIssue({ code: 'custom', path: ['groups'], message: `groups only apply to policy "groups", not "${policy}"` });
  if (policy !== 'users' && value.users) ctx.addIssue({ code: 'custom', path: ['users'], message: `users only apply to policy "users", not "${policy}"` });
  if (policy !== 'groups' && value.match) ctx.addIssue({ code: 'custom', path: ['match'], message: 'match (any/all) only applies to policy "groups"' });
}

const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

const pathPattern = z.string().superRefine((value, ctx) => {
  const problem = pathPatternProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const hostPattern = z.string().superRefine((value, ctx) => {
  const problem = hostPatternProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const outputPattern = z.string().superRefine((value, ctx) => {
  const problem = outputPatternProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const componentPattern = z.string().superRefine((value, ctx) => {
  const problem = componentPatternProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const httpMethod = z
  .string()
  .regex(/^[A-Za-z]+$/, 'expected an HTTP method such as GET or POST')
  .transform((m) => m.toUpperCase());

const accessRule = z
  .object({
    /** Shown by `dashgate access explain` and in logs. */
    name: z.string().min(1).max(100).optional(),
    host: oneOrMany(hostPattern).optional(),
    path: oneOrMany(pathPattern),
    /** Listing GET covers HEAD too (an app answers HEAD with its GET handler). */
    methods: z.array(httpMethod).min(1).optional(),
    ...policyFields,
    /** Accept HTTP Basic (username and password on every request) here, for scripts and curl. */
    allow_basic: z.boolean().default(false),
    /** Step-up: a session that signed in without a second factor is asked for one before passing. */
    mfa: z.boolean().default(false),
    /**
     * The Dash components this page renders (ids, "*" as a wildcard, JSON ids for pattern-matching
     * ones): a callback that reads or writes one of them is judged by this rule, however it is posted.
     */
    components: oneOrMany(componentPattern).optional(),
  })
  .strict()
  .superRefine(checkPolicy);

const dashCallbackRule = z
  .object({
    name: z.string().min(1).max(100).optional(),
    /** `component-id.property`; "*" is a wildcard in either part; JSON ids for pattern-matching callbacks. */
    outputs: z.array(outputPattern).min(1),
    ...policyFields,
  })
  .strict()
  .superRefine(checkPolicy);

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name such as DASHGATE_SSO_SECRET');
const domainName = z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'expected a lower-case domain such as example.com');

/**
 * One sign-in provider. `preset` fills in what a provider's quirks need (issuer, scopes, claims);
 * everything can still be set by hand. The client secret is never in the file, only the name of
 * the environment variable that holds it.
 */
const ssoProvider = z
  .object({
    /** In URLs (/_dashgate/sso/<id>/…) and in sessions ("sso:<id>"): letters, digits, "-". */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'expected a short lower-case id such as "google" or "corp-sso"'),
    preset: z.enum(['oidc', 'google', 'microsoft', 'okta', 'keycloak', 'auth0', 'github']).default('oidc'),
    /** The button says "Sign in with <name>". */
    name: z.string().min(1).max(60).optional(),
    /** Discovery: <issuer>/.well-known/openid-configuration. Filled by the google and microsoft presets. */
    issuer: httpUrl.optional(),
    /** microsoft: the Directory (tenant) ID. */
    tenant: z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'expected the Directory (tenant) ID, a GUID (a domain name would not match the issuer Entra ID reports)').optional(),
    client_id: z.string().min(1),
    client_secret_env: envName.optional(),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'expected a scope name')).min(1).optional(),
    /** Only people whose verified email is in one of these domains may sign in. */
    allowed_domains: z.array(domainName).default([]),
    /** Only people in one of these provider groups (before groups_map) may sign in. */
    allowed_groups: z.array(z.string().min(1)).default([]),
    /** Create an account at first sign-in. Default: on when allowed_domains or allowed_groups is set. */
    auto_create: z.boolean().optional(),
    /** Link a first sign-in to the existing account with the same email, when the provider says the email is verified. */
    link_existing: z.boolean().default(false),
    /** Treat the email as verified even without email_verified (only for a directory whose addresses the organisation sets). */
    trust_email: z.boolean().optional(),
    claims: z
      .object({
        username: z.string().min(1).optional(),
        email: z.string().min(1).optional(),
        name: z.string().min(1).optional(),
        groups: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    /** Provider group → Dashgate group. With a map only mapped groups are given; without, groups whose names are valid are given as they are. */
    groups_map: z.record(z.string().min(1), oneOrMany(groupName)).optional(),
    /** github: the web and API addresses (GitHub Enterprise Server, or a stand-in in tests). */
    github: z
      .object({ web_url: httpUrl.default('https://github.com'), api_url: httpUrl.default('https://api.github.com') })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    // The consumers tenant: any personal Microsoft account, the same as the refused "consumers" endpoint.
    if (p.tenant?.toLowerCase() === '9188040d-6c67-4c5b-b112-36a304b66dad') ctx.addIssue({ code: 'custom', path: ['tenant'], message: 'that is the personal-accounts (consumers) tenant: any Microsoft account could sign in. Give your organisation\'s tenant' });
    if (p.groups_map) {
      for (const [from, to] of Object.entries(p.groups_map)) {
        if (to.includes('admins')) ctx.addIssue({ code: 'custom', path: ['groups_map', from], message: '"admins" follows the administrator role and cannot come from a provider' });
      }
    }
    if (p.preset === 'microsoft' && !p.tenant && !p.issuer) ctx.addIssue({ code: 'custom', path: ['tenant'], message: 'preset "microsoft" needs the Directory (tenant) ID (multi-tenant endpoints would let any Microsoft account in)' });
    if (!['google', 'microsoft', 'github'].includes(p.preset) && !p.issuer) ctx.addIssue({ code: 'custom', path: ['issuer'], message: `preset "${p.preset}" needs the issuer URL` });
    if (p.issuer && !isSecureOrLoopback(p.issuer)) ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'must be https:// (http:// only for localhost)' });
    if (p.preset === 'github') {
      for (const [key, url] of Object.entries(p.github)) if (!isSecureOrLoopback(url)) ctx.addIssue({ code: 'custom', path: ['github', key], message: 'must be https:// (http:// only for localhost)' });
      if (p.issuer) ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'GitHub is not an OpenID provider: set github.web_url and github.api_url instead' });
    }
  });

function isSecureOrLoopback(value: string): boolean {
  const url = new URL(value);
  return url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/** The one schema: types and defaults of `dashgate.yaml`. */
export const configSchema = z
  .object({
    /** The app: http(s)://host:port, or unix:/path/app.sock. */
    upstream: z
      .string()
      .superRefine((value, ctx) => {
        const problem = upstreamProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    data_dir: z.string().min(1).default('./dashgate-data'),
    prefix,
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8000),
        /** The address users type, e.g. https://dash.example.com. Decides secure cookies and same-origin checks. */
        public_url: httpUrl.optional(),
        /** Peers whose X-Forwarded-For / X-Forwarded-Proto are believed. */
        trusted_proxies: z.array(ipOrCidr).default([]),
        /** Gateway processes on the port (node:cluster): 1 uses one core; N shares the cores (memory: one gateway each). */
        workers: z.number().int().min(1).max(64).default(1),
        /** On SIGTERM/SIGINT: how long requests in flight may take to finish before their connections are cut. */
        drain_timeout: duration('10s'),
        tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
        /** A client must send its whole request head within this (slowloris: a head sent byte by byte is cut). */
        headers_timeout: duration('15s'),
        /** ... and its whole request, body included, within this (0: no limit; large uploads on slow links need time). */
        request_timeout: duration('300s'),
        /** An idle keep-alive connection is closed after this; behind a load balancer, make it longer than the balancer's idle timeout. */
        keep_alive_timeout: duration('5s'),
        /** Largest request head (request line and headers) accepted; a larger one gets 431. */
        max_header_bytes: z.number().int().min(1024).max(1024 * 1024).default(16 * 1024),
        /** Headers read per request; any beyond are dropped unread. */
        max_headers_count: z.number().int().min(16).max(2000).default(200),
      })
      .strict()
      .superRefine((server, ctx) => {
        if (server.request_timeout > 0 && server.headers_timeout > server.request_timeout) ctx.addIssue({ code: 'custom', path: ['headers_timeout'], message: 'must not be longer than server.request_timeout' });
      })
      .prefault({}),
    /**
     * Forward-auth (docs/forward-auth.md): nginx `auth_request`, Caddy `forward_auth` and Traefik
     * `forwardAuth` ask `<prefix>/auth` whether a request may pass, and proxy it themselves.
     */
    forward_auth: z
      .object({
        enabled: z.boolean().default(false),
        /**
         * Origins (scheme://host[:port]) the sign-in may send the browser back to, besides
         * server.public_url's. Anything else falls back to "/". Apps published by host add theirs.
         */
        allowed_origins: z.array(httpOrigin).default([]),
      })
      .strict()
      .prefault({}),
    database: z
      .object({
        /** Empty: SQLite in the data directory. `postgres://…`: PostgreSQL. */
        url: z
          .string()
          .refine((v) => /^(postgres|postgresql|sqlite):/.test(v), 'expected postgres://… or sqlite:<file>')
          .optional(),
      })
      .strict()
      .prefault({}),
    /** Several instances: revocations fanned out within a second and credential checks locked across them (docs/replicas.md). */
    redis: z
      .object({
        /** redis://host:6379, rediss:// (TLS), or redis+sentinel://h1:26379,h2:26379/primary-name; never with a password. */
        url: z
          .string()
          .superRefine((value, ctx) => {
            const target = parseRedisUrl(value);
            if ('problem' in target) ctx.addIssue({ code: 'custom', message: target.problem });
          })
          .optional(),
        /** Name of the environment variable holding the Redis password (never the password itself). */
        password_env: envName.optional(),
        /** The Sentinels' own password, when they have one (redis+sentinel:// only). */
        sentinel_password_env: envName.optional(),
        /** PEM file of the authority that signed the Redis server's certificate (rediss:// with a private CA). */
        tls_ca_file: z.string().min(1).optional(),
        /** Prefix of every key and channel: several gateways (or other software) can share one Redis. */
        key_prefix: z.string().regex(/^[A-Za-z0-9:_.{}-]{1,64}$/, 'expected 1 to 64 letters, digits or ":_.-{}", e.g. "dashgate:"').default('dashgate:'),
        /** While Redis is unreachable, cached sessions are checked against the store at least this often (never longer than session.cache_ttl). */
        outage_cache_ttl: duration('5s'),
      })
      .strict()
      .superRefine((value, ctx) => {
        for (const key of ['password_env', 'sentinel_password_env'] as const) {
          if (value[key] !== undefined && value.url === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'only applies with redis.url' });
        }
        if (value.tls_ca_file !== undefined && !/^rediss(\+sentinel)?:/i.test(value.url ?? '')) ctx.addIssue({ code: 'custom', path: ['tls_ca_file'], message: 'only applies to a rediss:// URL (TLS)' });
        if (value.sentinel_password_env !== undefined && value.url !== undefined && !/^rediss?\+sentinel:/i.test(value.url)) {
          ctx.addIssue({ code: 'custom', path: ['sentinel_password_env'], message: 'only applies to a redis+sentinel:// URL' });
        }
      })
      .prefault({}),
    session: z
      .object({
        cookie_name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, "_" or "-"').default('dashgate_session'),
        idle_timeout: duration('8h'),
        absolute_timeout: duration('7d'),
        /** How long a validated session is trusted from memory before the store is asked again. */
        cache_ttl: duration('5s'),
        /** Last-seen is written to the store at most this often per session. */
        touch_interval: duration('60s'),
        /**
         * The store is unavailable and a session's cache time is over: `refuse` (503
         * STORE_UNAVAILABLE) or `grace` (let in for outage_grace more, if checked within
         * cache_ttl + outage_grace; a revocation made on another instance meanwhile is not seen).
         */
        store_outage: z.enum(['refuse', 'grace']).default('refuse'),
        outage_grace: duration('5m').refine((ms) => ms <= 3_600_000, 'must be at most 1h (a session the store cannot confirm is let in for this long)'),
      })
      .strict()
      .prefault({}),
    password: z
      .object({
        /** false: sign-in only through sso.providers (no password form, no HTTP Basic, no reset). */
        enabled: z.boolean().default(true),
        min_length: z.number().int().min(8, 'NIST SP 800-63B requires at least 8').max(64).default(8),
        max_length: z.number().int().min(64, 'NIST SP 800-63B requires accepting at least 64').max(4096).default(1024),
        /** Password hashes (~20 ms of a core each) running at once; default half the cores, so sign-in never starves the app. */
        max_concurrent_hashes: z.number().int().min(1).max(64).optional(),
        /** Sign-ins waiting for a hash slot; beyond, 503 with Retry-After. */
        hash_queue: z.number().int().min(0).max(10_000).default(64),
      })
      .strict()
      .prefault({}),
    branding: z
      .object({
        app_name: z.string().min(1).max(80).default('Dash app'),
        logo_url: z.string().optional(),
      })
      .strict()
      .prefault({}),
    identity_jwt: z
      .object({
        /** Send X-Dashgate-Jwt (a signed copy of the identity headers) to the app. */
        enabled: z.boolean().default(true),
        audience: z.string().min(1).default('dash-app'),
        /** Defaults to server.public_url, else "dashgate". */
        issuer: z.string().min(1).optional(),
        ttl: duration('5m').refine((ms) => ms >= 30_000 && ms <= 300_000, 'must be between 30s and 5m (the token is re-issued well before it expires)'),
        /**
         * Name of the environment variable holding a secret shared with the app (32+ characters):
         * every proxied request then also carries X-Dashgate-App-Token, an HS256 JWT the Python
         * helper verifies without PyJWT. `dashgate run` sets one up by itself.
         */
        app_secret_env: envName.optional(),
      })
      .strict()
      .prefault({}),
    page_helper: z
      .object({
        enabled: z.boolean().default(true),
        badge: z
          .object({
            enabled: z.boolean().default(true),
            position: z.enum(['bottom-right', 'bottom-left', 'top-right', 'top-left']).default('bottom-right'),
          })
          .strict()
          .prefault({}),
        /** HTML responses larger than this pass through untouched. */
        max_html_bytes: z.number().int().min(1024).default(4 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    proxy: z
      .object({
        connect_timeout: duration('5s'),
        /** Time allowed for the upstream to send response headers. */
        response_timeout: duration('120s'),
      })
      .strict()
      .prefault({}),
    throttle: z
      .object({
        /** Failures allowed per account before each further try waits. */
        account_free_failures: z.number().int().min(1).default(5),
        ip_free_failures: z.number().int().min(1).default(20),
        max_delay: duration('15m'),
        window: duration('1h'),
      })
      .strict()
      .prefault({}),
    access: z
      .object({
        /** For paths no rule matches. A policy name, or an object like a rule's: `{ groups: [analysts] }`. */
        default: z
          .union([
            z.enum(['public', 'authenticated', 'deny']).transform((policy) => ({ policy })),
            z.object(policyFields).strict().superRefine(checkPolicy),
          ], { error: 'expected public, authenticated, deny, or a policy such as { groups: [analysts] }' })
          .default({ policy: 'authenticated' }),
        /** Ordered; the first rule whose host, path and method match decides. */
        rules: z.array(accessRule).default([]),
        /**
         * Let anyone load the routes Dash needs to draw a page (`_dash-layout`, `_dash-dependencies`,
         * `_dash-component-suites/**`, `_reload-hash`, `_favicon.ico` under `dash.prefix`), so a
         * public rule can show a Dash page. Callbacks stay governed by the rules.
         */
        public_dash_framework: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    dash: z
      .object({
        /** Where the Dash app lives: its `requests_pathname_prefix`. */
        prefix: z.string().regex(/^\/(?:[A-Za-z0-9._~-]+\/)*$/, 'expected a path that starts and ends with "/", like "/" or "/app/"').default('/'),
        /** Callbacks protected by their outputs, checked on top of the path rules. */
        callbacks: z.array(dashCallbackRule).default([]),
        /**
         * Largest callback body the gateway reads to judge a callback (callback rules, and the page
         * a location input names when path rules exist); larger ones get 413. dcc.Upload sends the
         * file in the body (base64, a third larger than the file).
         */
        max_callback_body: z.number().int().min(1024).default(8 * 1024 * 1024),
        /** Dash's MCP endpoint under `prefix` (Dash's `mcp_path`, DASH_MCP_PATH), refused while rules look inside callbacks. */
        mcp_path: z.string().regex(/^[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*$/, 'expected a path relative to dash.prefix, like "_mcp"').default('_mcp'),
      })
      .strict()
      .prefault({}),
    mail: z
      .object({
        /** Sender of every message; defaults to "<app name> <dashgate@localhost>". */
        from: z.string().min(3).optional(),
        /** Without smtp, messages are written as .eml files to <data_dir>/outbox/ and their links logged. */
        smtp: z
          .object({
            host: z.string().min(1),
            port: z.number().int().min(1).max(65535).default(587),
            /** starttls: upgrade on 587 (required); tls: implicit TLS on 465; none: only for a relay on localhost. */
            security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
            user: z.string().min(1).optional(),
            /** Name of the environment variable holding the SMTP password (never the password itself). */
            password_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name such as SMTP_PASSWORD').optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    signup: z
      .object({
        /** closed: invitations only. domain: anyone with a verified address in allowed_domains. open: anyone, approved by an admin unless auto_approve. */
        mode: z.enum(['closed', 'domain', 'open']).default('closed'),
        allowed_domains: z.array(z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'expected a lower-case domain such as example.com')).default([]),
        auto_approve: z.boolean().default(false),
      })
      .strict()
      .superRefine((value, ctx) => {
        if (value.mode === 'domain' && value.allowed_domains.length === 0) ctx.addIssue({ code: 'custom', path: ['allowed_domains'], message: 'mode "domain" needs at least one domain' });
      })
      .prefault({}),
    sso: z
      .object({
        providers: z.array(ssoProvider).default([]),
        /** Signing out also ends the session at the provider (RP-initiated logout) when it offers that. */
        logout_at_provider: z.boolean().default(false),
      })
      .strict()
      .superRefine((value, ctx) => {
        const seen = new Set<string>();
        value.providers.forEach((p, i) => {
          if (seen.has(p.id)) ctx.addIssue({ code: 'custom', path: ['providers', i, 'id'], message: `provider id "${p.id}" is used twice` });
          seen.add(p.id);
        });
      })
      .prefault({}),
    mfa: z
      .object({
        /** Who must have a second factor: users without one are sent to set it up after signing in. */
        required: z.enum(['none', 'admins', 'all']).default('none'),
      })
      .strict()
      .prefault({}),
    invites: z
      .object({
        /** How long an invitation link works unless `--expires` says otherwise. */
        ttl: duration('7d'),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        format: z.enum(['auto', 'json', 'pretty']).default('auto'),
        /** One line per proxied request on stdout, whatever the level: JSON, the combined format web servers write, or off. */
        access: z.enum(['json', 'combined', 'off']).default('json'),
        /** Log the query string too (it may hold what users typed; off by default). */
        access_query: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        /** host:port of a listener of its own serving Prometheus text at /metrics (off when unset), e.g. 0.0.0.0:9464. */
        listen: z
          .string()
          .regex(/^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:9464 or 0.0.0.0:9464')
          .refine((value) => Number(value.slice(value.lastIndexOf(':') + 1)) <= 65535, 'the port must be at most 65535')
          .optional(),
        /** An environment variable holding a token scrapers must send as "Authorization: Bearer …". */
        token_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name').optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (!config.forward_auth.enabled) return;
    if (config.server.trusted_proxies.length === 0) ctx.addIssue({ code: 'custom', path: ['forward_auth', 'enabled'], message: 'forward-auth believes the original request only from a front proxy: list its address in server.trusted_proxies' });
    // Callback rules judge a callback by its body; the front proxy never sends the body to the auth check.
    if (config.dash.callbacks.length > 0) ctx.addIssue({ code: 'custom', path: ['dash', 'callbacks'], message: 'callback rules need the callback\'s body, which forward-auth never sees: they cannot be enforced with forward_auth.enabled (serve the app through the gateway instead)' });
  })
  .superRefine((config, ctx) => {
    if (config.password.enabled) return;
    if (config.sso.providers.length === 0) ctx.addIssue({ code: 'custom', path: ['password', 'enabled'], message: 'with passwords off, configure at least one provider under sso.providers' });
    config.access.rules.forEach((rule, i) => {
      if (rule.allow_basic) ctx.addIssue({ code: 'custom', path: ['access', 'rules', i, 'allow_basic'], message: 'HTTP Basic is a password: it cannot be allowed while password.enabled is false' });
    });
    if (config.signup.mode !== 'closed') ctx.addIssue({ code: 'custom', path: ['signup', 'mode'], message: 'sign-up creates password accounts: use sso auto_create while password.enabled is false' });
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
