import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listen } from './harness.js';

/**
 * A local stand-in for GitHub's OAuth web flow and the REST routes a "Sign in with GitHub" client
 * reads (GitHub cannot run here; this is the only imitation the SSO tests use). It follows
 * GitHub's documented behaviour: the token endpoint answers 200 even for errors, form-encoded
 * unless asked for JSON; codes are single use, bound to client, redirect URI and PKCE challenge;
 * the API wants a token and a User-Agent; /user/emails needs the user:email scope and teams
 * read:org.
 */
export interface GithubUser {
  id: number;
  login: string;
  name: string | null;
  /** The public profile email (may be unverified, or null). */
  email: string | null;
  emails: Array<{ email: string; primary: boolean; verified: boolean }>;
  orgs: string[];
  teams: Array<{ org: string; slug: string }>;
}

export interface GithubLike {
  webUrl: string;
  apiUrl: string;
  users: Map<string, GithubUser>;
  requests: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }>;
  /** The user `login` approves the authorization request: returns the redirect back to the client. */
  approve(authorizationUrl: string, login: string): string;
  close(): Promise<void>;
}

interface Grant {
  login: string;
  redirectUri: string;
  scopes: string[];
  challenge: string | null;
  expiresAt: number;
}

export async function startGithubLike(options: { clientId: string; clientSecret: string; redirectUri: string; users: GithubUser[] }): Promise<GithubLike> {
  const users = new Map(options.users.map((u) => [u.login, u]));
  const codes = new Map<string, Grant>();
  const tokens = new Map<string, { login: string; scopes: string[] }>();
  const requests: GithubLike['requests'] = [];

  function approve(authorizationUrl: string, login: string): string {
    const url = new URL(authorizationUrl);
    const q = url.searchParams;
    if (q.get('client_id') !== options.clientId) throw new Error('github-like: unknown client_id');
    const redirectUri = q.get('redirect_uri') ?? options.redirectUri;
    if (redirectUri !== options.redirectUri) throw new Error('github-like: redirect_uri mismatch');
    if (!users.has(login)) throw new Error(`github-like: no user ${login}`);
    const method = q.get('code_challenge_method');
    if (q.get('code_challenge') && method !== 'S256') throw new Error('github-like: only S256 challenges');
    const code = randomBytes(10).toString('hex');
    codes.set(code, { login, redirectUri, scopes: (q.get('scope') ?? '').split(/[ ,]+/).filter(Boolean), challenge: q.get('code_challenge'), expiresAt: Date.now() + 600_000 });
    const back = new URL(redirectUri);
    back.searchParams.set('code', code);
    if (q.get('state') !== null) back.searchParams.set('state', q.get('state')!);
    return back.href;
  }

  function send(res: ServerResponse, status: number, body: unknown, type = 'application/json; charset=utf-8'): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function tokenEndpoint(req: IncomingMessage, body: string, res: ServerResponse): void {
    const form = req.headers['content-type']?.includes('json') ? new URLSearchParams(JSON.parse(body) as Record<string, string>) : new URLSearchParams(body);
    let clientId = form.get('client_id');
    let clientSecret = form.get('client_secret');
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) [clientId, clientSecret] = Buffer.from(basic[1]!, 'base64').toString().split(':').map(decodeURIComponent) as [string, string];
    const answer = (fields: Record<string, string>) =>
      req.headers.accept?.includes('application/json') ? send(res, 200, fields) : send(res, 200, new URLSearchParams(fields).toString(), 'application/x-www-form-urlencoded; charset=utf-8');
    const error = (code: string, description: string) => answer({ error: code, error_description: description, error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors' });
    if (clientId !== options.clientId || clientSecret !== options.clientSecret) return error('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
    const code = form.get('code') ?? '';
    const grant = codes.get(code);
    codes.delete(code);
    if (!grant || grant.expiresAt < Date.now()) return error('bad_verification_code', 'The code passed is incorrect or expired.');
    if (form.get('redirect_uri') && form.get('redirect_uri') !== grant.redirectUri) return error('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
    if (grant.challenge) {
      const verifier = form.get('code_verifier') ?? '';
      if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) return error('bad_verification_code', 'The code_verifier does not match the code_challenge.');
    }
    const token = `gho_${randomBytes(18).toString('base64url')}`;
    tokens.set(token, { login: grant.login, scopes: grant.scopes });
    answer({ access_token: token, token_type: 'bearer', scope: grant.scopes.join(',') });
  }

  function api(req: IncomingMessage, path: string, res: ServerResponse): void {
    if (!req.headers['user-agent']) return send(res, 403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.' });
    const auth = /^(?:Bearer|token) (.+)$/i.exec(req.headers.authorization ?? '');
    const grant = auth ? tokens.get(auth[1]!) : undefined;
    if (!grant) return send(res, 401, { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest' });
    const user = users.get(grant.login)!;
    const has = (scope: string) => grant.scopes.includes(scope);
    const route = path.split('?')[0];
    if (route === '/user') {
      return send(res, 200, { login: user.login, id: user.id, node_id: `U_${user.id}`, avatar_url: `https://avatars.example/u/${user.id}`, type: 'User', site_admin: false, name: user.name, email: user.email });
    }
    if (route === '/user/emails') {
      if (!has('user:email') && !has('user')) return send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/users/emails' });
      return send(res, 200, user.emails.map((e) => ({ ...e, visibility: e.primary ? 'private' : null })));
    }
    if (route === '/user/orgs') return send(res, 200, has('read:org') ? user.orgs.map((login, i) => ({ login, id: 1000 + i, node_id: `O_${i}` })) : []);
    if (route === '/user/teams') {
      if (!has('read:org') && !has('repo')) return send(res, 403, { message: 'Resource not accessible by integration' });
      return send(res, 200, user.teams.map((t, i) => ({ id: 2000 + i, slug: t.slug, name: t.slug, organization: { login: t.org, id: 1000 } })));
    }
    send(res, 404, { message: 'Not Found' });
  }

  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const url = req.url ?? '/';
      if (req.method === 'POST' && url === '/web/login/oauth/access_token') return tokenEndpoint(req, body, res);
      if (req.method === 'GET' && url.startsWith('/web/login/oauth/authorize')) {
        // A browser would see GitHub's consent page; tests call approve() instead.
        return send(res, 200, '<!doctype html><title>Authorize</title><p>Authorize the application?</p>', 'text/html; charset=utf-8');
      }
      if (req.method === 'GET' && url.startsWith('/api/')) return api(req, url.slice('/api'.length), res);
      send(res, 404, { message: 'Not Found' });
    });
  });
  const base = await listen(server);
  return { webUrl: `${base}/web`, apiUrl: `${base}/api`, users, requests, approve, close: () => closeServer(server) };
}
