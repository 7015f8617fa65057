import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listen } from './harness.js';

/**
 * A local stand-in for GitHub's OAuth web flow (github.com/login/oauth/…) and the REST routes a
 * "Sign in with GitHub" client reads (api.github.com/user…). GitHub cannot run here, so this is
 * the one imitation the tests use; it follows GitHub's documentation:
 *
 * - authorize: client_id must be the app's; redirect_uri must be the registered callback or
 *   absent (a mismatch goes back to the registered callback with error=redirect_uri_mismatch);
 *   PKCE accepts S256 only; the user picks an account and "Authorize" (or "Cancel":
 *   error=access_denied). Codes are single use, live 10 minutes, and are bound to the client,
 *   the redirect URI and the PKCE challenge.
 * - access_token: answers 200 even for errors; JSON when `Accept: application/json`, XML for
 *   `application/xml`, else GitHub's default application/x-www-form-urlencoded. Credentials in
 *   the body (form or JSON), the query, or HTTP Basic.
 * - REST: a User-Agent is required (403 text/html otherwise), then a token (`Bearer` or `token`;
 *   401 "Requires authentication" without, "Bad credentials" for an unknown one). Scopes are
 *   enforced as documented: /user/emails needs user:email or user (404 otherwise), /user/orgs
 *   user or read:org (403 otherwise), /user/teams user, repo or read:org (403 otherwise);
 *   write:org and admin:org include read:org. Lists paginate (per_page default 30, max 100,
 *   `page`) with a Link header. Every response carries X-OAuth-Scopes.
 *
 * Where GitHub documents nothing this follows RFC 6749/7636: an invalid PKCE parameter sends the
 * browser back with error=invalid_request.
 */
export interface GithubUser {
  id: number;
  login: string;
  name: string | null;
  /** The public profile email (may be unverified, or null). */
  email: string | null;
  /** visibility defaults as GitHub shows it: the primary address 'public' when it is the profile email, else 'private'; others null. */
  emails: Array<{ email: string; primary: boolean; verified: boolean; visibility?: 'public' | 'private' | null }>;
  /** Organization logins. */
  orgs: string[];
  teams: Array<{ org: string; slug: string }>;
}

/** One authorization the stand-in granted (by approve() or the browser form), as the client asked for it. */
export interface GithubAuthorization {
  login: string;
  clientId: string;
  /** The redirect_uri parameter as sent (null when absent: the registered callback was used). */
  redirectUri: string | null;
  state: string | null;
  scopes: string[];
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  code: string;
}

export interface GithubStandIn {
  /** Base of the web flow (authorize + access_token), like https://github.com */
  webUrl: string;
  /** Base of the REST API, like https://api.github.com */
  apiUrl: string;
  /** By login. Tests may add or change users at any time. */
  users: Map<string, GithubUser>;
  /** Every HTTP request received: method, url (path with query, including the /web or /api prefix), headers, body. */
  requests: Array<{ method: string; url: string; headers: Record<string, string | string[] | undefined>; body: string }>;
  /** Every authorization granted, in order (approve() makes no HTTP request, so its parameters are recorded here). */
  authorizations: GithubAuthorization[];
  /**
   * The browser-less part of the web flow: given the authorization URL a client built, "the user
   * <login> approves". Validates it as the authorize page does and returns the redirect Location
   * `<redirect_uri>?code=…&state=…`. Throws on a bad request (unknown client, redirect_uri
   * mismatch, bad PKCE parameters, unknown user).
   */
  approve(authorizationUrl: string, login: string): string;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com';
const AUTHORIZE_ERRORS = `${DOCS}/apps/managing-oauth-apps/troubleshooting-authorization-request-errors`;
const TOKEN_ERRORS = `${DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors`;
const USER_AGENT_REQUIRED =
  'Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n';
const CODE_LIFETIME_MS = 10 * 60 * 1000;

/** Scopes that include others (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps). */
const IMPLIED: Record<string, string[]> = {
  user: ['read:user', 'user:email', 'user:follow'],
  'admin:org': ['write:org', 'read:org'],
  'write:org': ['read:org'],
  repo: ['repo:status', 'repo_deployment', 'public_repo', 'repo:invite', 'security_events'],
};

interface Grant {
  login: string;
  clientId: string;
  /** Where the code was sent (the parameter, or the registered callback). */
  redirectUri: string;
  scopes: string[];
  challenge: string | null;
  expiresAt: number;
}

class AuthorizeError extends Error {
  /** Whether GitHub sends the browser back to the registered callback with `error` (else it shows an error page). */
  constructor(
    message: string,
    readonly redirect: { error: string; description: string; uri: string } | null,
  ) {
    super(message);
  }
}

export async function startGithubStandIn(options: { clientId: string; clientSecret: string; redirectUri: string; users?: GithubUser[]; now?: () => number }): Promise<GithubStandIn> {
  const now = options.now ?? Date.now;
  const users = new Map((options.users ?? []).map((u) => [u.login, u]));
  const codes = new Map<string, Grant>();
  const tokens = new Map<string, { login: string; scopes: string[] }>();
  const requests: GithubStandIn['requests'] = [];
  const authorizations: GithubAuthorization[] = [];
  const orgIds = new Map<string, number>();
  const teamIds = new Map<string, number>();
  let webUrl = '';
  let apiUrl = '';

  /** GitHub logins are case-insensitive. */
  function findUser(login: string): GithubUser | undefined {
    return users.get(login) ?? [...users.values()].find((u) => u.login.toLowerCase() === login.toLowerCase());
  }

  function parseScopes(value: string | null): string[] {
    return [...new Set((value ?? '').split(/[\s,]+/).filter(Boolean))];
  }

  /** Checks an authorization request; returns where the code would go. */
  function checkAuthorization(q: URLSearchParams): { redirectUri: string } {
    if (q.get('client_id') !== options.clientId) throw new AuthorizeError(`github-standin: unknown client_id ${JSON.stringify(q.get('client_id'))}`, null);
    const redirectUri = q.get('redirect_uri');
    if (redirectUri !== null && redirectUri !== options.redirectUri) {
      throw new AuthorizeError(`github-standin: redirect_uri ${JSON.stringify(redirectUri)} is not the registered callback ${options.redirectUri}`, {
        error: 'redirect_uri_mismatch',
        description: 'The redirect_uri MUST match the registered callback URL for this application.',
        uri: `${AUTHORIZE_ERRORS}/#redirect-uri-mismatch`,
      });
    }
    const challenge = q.get('code_challenge');
    const method = q.get('code_challenge_method');
    const pkceError = (message: string) => new AuthorizeError(`github-standin: ${message}`, { error: 'invalid_request', description: message, uri: `${DOCS}/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps` });
    if (method !== null && method !== 'S256') throw pkceError(`code_challenge_method must be S256 (the plain method is not supported), got ${JSON.stringify(method)}`);
    if (method !== null && challenge === null) throw pkceError('code_challenge is required when code_challenge_method is given');
    if (challenge !== null && method === null) throw pkceError('code_challenge_method is required when code_challenge is given');
    if (challenge !== null && !/^[A-Za-z0-9_-]{43}$/.test(challenge)) throw pkceError('code_challenge must be the 43-character base64url SHA-256 of the code_verifier');
    return { redirectUri: redirectUri ?? options.redirectUri };
  }

  function withParams(base: string, params: Record<string, string | null>): string {
    const url = new URL(base);
    for (const [key, value] of Object.entries(params)) if (value !== null) url.searchParams.append(key, value);
    return url.href;
  }

  /** Grants the request in `q` to `login`; returns the redirect back to the client. */
  function grant(q: URLSearchParams, login: string): string {
    const { redirectUri } = checkAuthorization(q);
    const user = findUser(login);
    if (!user) throw new AuthorizeError(`github-standin: no user ${JSON.stringify(login)}`, null);
    const code = randomBytes(10).toString('hex');
    const scopes = parseScopes(q.get('scope'));
    codes.set(code, { login: user.login, clientId: options.clientId, redirectUri, scopes, challenge: q.get('code_challenge'), expiresAt: now() + CODE_LIFETIME_MS });
    authorizations.push({
      login: user.login,
      clientId: options.clientId,
      redirectUri: q.get('redirect_uri'),
      state: q.get('state'),
      scopes,
      codeChallenge: q.get('code_challenge'),
      codeChallengeMethod: q.get('code_challenge_method'),
      code,
    });
    return withParams(redirectUri, { code, state: q.get('state') });
  }

  function approve(authorizationUrl: string, login: string): string {
    return grant(new URL(authorizationUrl).searchParams, login);
  }

  function send(res: ServerResponse, status: number, body: string, headers: Record<string, string>): void {
    res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  }

  function html(res: ServerResponse, status: number, title: string, content: string): void {
    send(res, status, `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>\n${content}\n</body></html>\n`, {
      'content-type': 'text/html; charset=utf-8',
    });
  }

  function redirect(res: ServerResponse, location: string): void {
    send(res, 302, '', { location });
  }

  /** GET /login/oauth/authorize: the consent page, or where GitHub sends a bad request. */
  function authorizePage(q: URLSearchParams, res: ServerResponse): void {
    try {
      checkAuthorization(q);
    } catch (err) {
      return authorizeFailure(err, q, res);
    }
    const suggested = q.get('login');
    const choices = [...users.values()]
      .map((u) => `<option value="${escapeHtml(u.login)}"${suggested !== null && u.login.toLowerCase() === suggested.toLowerCase() ? ' selected' : ''}>${escapeHtml(u.login)}${u.name ? ` (${escapeHtml(u.name)})` : ''}</option>`)
      .join('');
    const hidden = [...q.entries()].map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('\n');
    const scopes = parseScopes(q.get('scope'));
    html(
      res,
      200,
      'Authorize application',
      `<h1>Authorize application</h1>
<p>The application wants to access your account${scopes.length ? `: ${scopes.map((s) => `<code>${escapeHtml(s)}</code>`).join(', ')}` : ' (public information only)'}.</p>
<form method="post" action="${escapeHtml(`${webUrl}/login/oauth/authorize`)}">
${hidden}
<label>Signed in as <select name="login">${choices}</select></label>
<button type="submit" name="authorize" value="1">Authorize</button>
<button type="submit" name="authorize" value="0">Cancel</button>
</form>`,
    );
  }

  /** POST /login/oauth/authorize: the user's answer on the consent page. */
  function authorizeDecision(form: URLSearchParams, res: ServerResponse): void {
    const q = new URLSearchParams([...form.entries()].filter(([name]) => name !== 'login' && name !== 'authorize'));
    try {
      if (form.get('authorize') === '0') {
        const { redirectUri } = checkAuthorization(q);
        return redirect(
          res,
          withParams(redirectUri, { error: 'access_denied', error_description: 'The user has denied your application access.', error_uri: `${AUTHORIZE_ERRORS}/#access-denied`, state: q.get('state') }),
        );
      }
      redirect(res, grant(q, form.get('login') ?? ''));
    } catch (err) {
      authorizeFailure(err, q, res);
    }
  }

  function authorizeFailure(err: unknown, q: URLSearchParams, res: ServerResponse): void {
    if (err instanceof AuthorizeError && err.redirect) {
      // GitHub sends redirect_uri mismatches back to the callback registered for the app.
      const back = err.redirect.error === 'redirect_uri_mismatch' ? options.redirectUri : (q.get('redirect_uri') ?? options.redirectUri);
      return redirect(res, withParams(back, { error: err.redirect.error, error_description: err.redirect.description, error_uri: err.redirect.uri, state: q.get('state') }));
    }
    html(res, 404, 'Page not found', `<h1>404</h1><p>${escapeHtml((err as Error).message)}</p>`);
  }

  /** POST /login/oauth/access_token */
  function tokenEndpoint(req: IncomingMessage, query: URLSearchParams, body: string, res: ServerResponse): void {
    const params = new URLSearchParams(query);
    for (const [name, value] of parseBody(req, body)) params.set(name, value);
    let clientId = params.get('client_id');
    let clientSecret = params.get('client_secret');
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString();
      const colon = decoded.indexOf(':');
      if (colon >= 0) {
        clientId = safeDecode(decoded.slice(0, colon));
        clientSecret = safeDecode(decoded.slice(colon + 1));
      }
    }
    const accept = req.headers.accept ?? '';
    const answer = (fields: Record<string, string>) => {
      if (accept.includes('application/json')) return send(res, 200, JSON.stringify(fields), { 'content-type': 'application/json; charset=utf-8' });
      if (accept.includes('application/xml')) {
        const xml = `<OAuth>${Object.entries(fields)
          .map(([k, v]) => `<${k}>${escapeHtml(v)}</${k}>`)
          .join('')}</OAuth>`;
        return send(res, 200, xml, { 'content-type': 'application/xml; charset=utf-8' });
      }
      send(res, 200, new URLSearchParams(fields).toString(), { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
    };
    const error = (code: string, description: string, anchor: string) => answer({ error: code, error_description: description, error_uri: `${TOKEN_ERRORS}/#${anchor}` });

    if (clientId !== options.clientId || clientSecret !== options.clientSecret) {
      return error('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.', 'incorrect-client-credentials');
    }
    const code = params.get('code') ?? '';
    const found = codes.get(code);
    // A code is good for one exchange attempt: whatever happens next, it is spent.
    codes.delete(code);
    if (!found || found.expiresAt <= now() || found.clientId !== clientId) {
      return error('bad_verification_code', 'The code passed is incorrect or expired.', 'bad-verification-code');
    }
    const redirectUri = params.get('redirect_uri');
    if (redirectUri !== null && redirectUri !== found.redirectUri) {
      return error('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.', 'redirect-uri-mismatch');
    }
    if (found.challenge !== null) {
      const verifier = params.get('code_verifier');
      if (verifier === null || createHash('sha256').update(verifier).digest('base64url') !== found.challenge) {
        return error('bad_verification_code', 'The code passed is incorrect or expired.', 'bad-verification-code');
      }
    }
    const token = `gho_${base62(36)}`;
    tokens.set(token, { login: found.login, scopes: found.scopes });
    answer({ access_token: token, token_type: 'bearer', scope: found.scopes.join(',') });
  }

  function api(req: IncomingMessage, path: string, query: URLSearchParams, res: ServerResponse): void {
    const userAgent = req.headers['user-agent'];
    if (!userAgent || !userAgent.trim()) return send(res, 403, USER_AGENT_REQUIRED, { 'content-type': 'text/html; charset=utf-8' });

    const baseHeaders: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'x-github-media-type': 'github.v3; format=json',
      'x-github-api-version-selected': String(req.headers['x-github-api-version'] ?? '2022-11-28'),
    };
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) => send(res, status, JSON.stringify(value), { ...baseHeaders, ...headers });
    const basicError = (status: number, message: string, documentation: string, headers: Record<string, string> = {}) =>
      json(status, { message, documentation_url: documentation, status: String(status) }, headers);

    const auth = /^(?:Bearer|token)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!req.headers.authorization) return basicError(401, 'Requires authentication', `${DOCS}/rest`);
    const grantFound = auth ? tokens.get(auth[1]!) : undefined;
    if (!grantFound) return basicError(401, 'Bad credentials', `${DOCS}/rest`);
    const user = findUser(grantFound.login);
    if (!user) return basicError(401, 'Bad credentials', `${DOCS}/rest`);

    const granted = expandScopes(grantFound.scopes);
    const has = (...scopes: string[]) => scopes.some((s) => granted.has(s));
    const scopeHeaders = (accepted: string[]) => ({ 'x-oauth-scopes': grantFound.scopes.join(', '), 'x-accepted-oauth-scopes': accepted.join(', ') });

    if (req.method !== 'GET' && req.method !== 'HEAD') return basicError(404, 'Not Found', `${DOCS}/rest`, scopeHeaders([]));

    const list = (items: unknown[], accepted: string[]) => {
      const perPage = Math.min(100, Math.max(1, Number.parseInt(query.get('per_page') ?? '30', 10) || 30));
      const page = Math.max(1, Number.parseInt(query.get('page') ?? '1', 10) || 1);
      const last = Math.max(1, Math.ceil(items.length / perPage));
      const link = (p: number, rel: string) => {
        const q = new URLSearchParams(query);
        q.set('per_page', String(perPage));
        q.set('page', String(p));
        return `<${apiUrl}${path}?${q}>; rel="${rel}"`;
      };
      const links = [...(page > 1 ? [link(page - 1, 'prev'), link(1, 'first')] : []), ...(page < last ? [link(page + 1, 'next'), link(last, 'last')] : [])];
      json(200, items.slice((page - 1) * perPage, page * perPage), { ...scopeHeaders(accepted), ...(links.length ? { link: links.join(', ') } : {}) });
    };

    switch (path) {
      case '/user':
        return json(200, userJson(user), scopeHeaders([]));
      case '/user/emails': {
        const accepted = ['user', 'user:email'];
        if (!has('user:email')) return basicError(404, 'Not Found', `${DOCS}/rest/users/emails#list-email-addresses-for-the-authenticated-user`, scopeHeaders(accepted));
        return list(
          user.emails.map((e) => ({ email: e.email, primary: e.primary, verified: e.verified, visibility: e.visibility !== undefined ? e.visibility : e.primary ? (e.email === user.email ? 'public' : 'private') : null })),
          accepted,
        );
      }
      case '/user/orgs': {
        const accepted = ['admin:org', 'read:org', 'user', 'write:org'];
        if (!has('user', 'read:org')) {
          return basicError(403, 'You need at least read:org scope or user scope to list your organizations.', `${DOCS}/rest/orgs/orgs#list-organizations-for-the-authenticated-user`, scopeHeaders(accepted));
        }
        return list(user.orgs.map(orgJson), accepted);
      }
      case '/user/teams': {
        const accepted = ['read:org', 'repo', 'user'];
        if (!has('user', 'repo', 'read:org')) {
          return basicError(403, 'Resource not accessible by this token: /user/teams needs the user, repo or read:org scope.', `${DOCS}/rest/teams/teams#list-teams-for-the-authenticated-user`, scopeHeaders(accepted));
        }
        return list(user.teams.map(teamJson), accepted);
      }
      default:
        return basicError(404, 'Not Found', `${DOCS}/rest`, scopeHeaders([]));
    }
  }

  function userJson(user: GithubUser): Record<string, unknown> {
    const url = `${apiUrl}/users/${user.login}`;
    return {
      login: user.login,
      id: user.id,
      node_id: nodeId('U', user.id),
      avatar_url: `https://avatars.githubusercontent.com/u/${user.id}?v=4`,
      gravatar_id: '',
      url,
      html_url: `${webUrl}/${user.login}`,
      followers_url: `${url}/followers`,
      following_url: `${url}/following{/other_user}`,
      gists_url: `${url}/gists{/gist_id}`,
      starred_url: `${url}/starred{/owner}{/repo}`,
      subscriptions_url: `${url}/subscriptions`,
      organizations_url: `${url}/orgs`,
      repos_url: `${url}/repos`,
      events_url: `${url}/events{/privacy}`,
      received_events_url: `${url}/received_events`,
      type: 'User',
      user_view_type: 'private',
      site_admin: false,
      name: user.name,
      company: null,
      blog: '',
      location: null,
      email: user.email,
      hireable: null,
      bio: null,
      twitter_username: null,
      notification_email: null,
      public_repos: 0,
      public_gists: 0,
      followers: 0,
      following: 0,
      created_at: '2011-01-25T18:44:36Z',
      updated_at: '2024-01-01T00:00:00Z',
    };
  }

  function orgId(login: string): number {
    const key = login.toLowerCase();
    if (!orgIds.has(key)) orgIds.set(key, 9000 + orgIds.size);
    return orgIds.get(key)!;
  }

  function orgJson(login: string): Record<string, unknown> {
    const id = orgId(login);
    const url = `${apiUrl}/orgs/${login}`;
    return {
      login,
      id,
      node_id: nodeId('O', id),
      url,
      repos_url: `${url}/repos`,
      events_url: `${url}/events`,
      hooks_url: `${url}/hooks`,
      issues_url: `${url}/issues`,
      members_url: `${url}/members{/member}`,
      public_members_url: `${url}/public_members{/member}`,
      avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
      description: null,
    };
  }

  function teamJson(team: { org: string; slug: string }): Record<string, unknown> {
    const key = `${team.org.toLowerCase()}/${team.slug}`;
    if (!teamIds.has(key)) teamIds.set(key, 7000 + teamIds.size);
    const id = teamIds.get(key)!;
    const url = `${apiUrl}/organizations/${orgId(team.org)}/team/${id}`;
    return {
      id,
      node_id: nodeId('T', id),
      url,
      html_url: `${webUrl}/orgs/${team.org}/teams/${team.slug}`,
      name: team.slug,
      slug: team.slug,
      description: null,
      privacy: 'closed',
      notification_setting: 'notifications_enabled',
      permission: 'pull',
      members_url: `${url}/members{/member}`,
      repositories_url: `${url}/repos`,
      parent: null,
      members_count: 1,
      repos_count: 0,
      created_at: '2017-07-14T16:53:42Z',
      updated_at: '2017-08-17T12:37:15Z',
      organization: { ...orgJson(team.org), name: team.org, type: 'Organization' },
    };
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const url = new URL(req.url ?? '/', 'http://standin.invalid');
      const path = url.pathname;
      try {
        if (path === '/web/login/oauth/authorize') {
          if (req.method === 'GET') return authorizePage(url.searchParams, res);
          if (req.method === 'POST') return authorizeDecision(parseBody(req, body), res);
        }
        if (path === '/web/login/oauth/access_token' && req.method === 'POST') return tokenEndpoint(req, url.searchParams, body, res);
        if (path === '/api' || path.startsWith('/api/')) return api(req, path.slice('/api'.length).replace(/\/+$/, '') || '/', url.searchParams, res);
        html(res, 404, 'Page not found', '<h1>404</h1>');
      } catch (err) {
        send(res, 500, String((err as Error).stack ?? err), { 'content-type': 'text/plain; charset=utf-8' });
      }
    });
  });
  const base = await listen(server);
  webUrl = `${base}/web`;
  apiUrl = `${base}/api`;
  return { webUrl, apiUrl, users, requests, authorizations, approve, close: () => closeServer(server) };
}

/** A form (application/x-www-form-urlencoded) or JSON body as parameters; anything unreadable is no parameters. */
function parseBody(req: IncomingMessage, body: string): URLSearchParams {
  const type = req.headers['content-type'] ?? '';
  if (/\bjson\b/i.test(type)) {
    try {
      const value: unknown = JSON.parse(body);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return new URLSearchParams();
      return new URLSearchParams(Object.entries(value).flatMap(([k, v]) => (typeof v === 'string' || typeof v === 'number' ? [[k, String(v)]] : [])));
    } catch {
      return new URLSearchParams();
    }
  }
  return new URLSearchParams(body);
}

function expandScopes(scopes: string[]): Set<string> {
  const all = new Set<string>();
  const add = (scope: string) => {
    if (all.has(scope)) return;
    all.add(scope);
    for (const implied of IMPLIED[scope] ?? []) add(implied);
  };
  scopes.forEach(add);
  return all;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

function base62(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length)) if (byte < 248 && out.length < length) out += alphabet[byte % 62];
  }
  return out;
}

function nodeId(prefix: string, id: number): string {
  return `${prefix}_kgDO${Buffer.from(String(id)).toString('base64url')}`;
}

function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
