import { createServer, type RequestListener, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
// @ts-expect-error -- oidc-provider 8 ships no type declarations; the little used here is typed below.
import ProviderModule from 'oidc-provider';
import { closeServer, listen } from './harness.js';

export interface OpAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
  groups?: string[];
  [claim: string]: unknown;
}

export type Tamper = null | 'aud' | 'expired' | 'nonce' | 'other-key' | 'iss';

export interface TestOp {
  /** e.g. http://127.0.0.1:PORT (no trailing slash). */
  issuer: string;
  /** Accounts by login name; the dev login form's "login" field picks one (any password). Tests can add/modify entries at any time. */
  accounts: Map<string, OpAccount>;
  /**
   * When set, the next token-endpoint responses have their id_token rewritten: aud → 'someone-else',
   * exp → 1 hour ago (iat 2h ago), nonce → 'not-the-nonce', iss → 'http://evil.example', or re-signed with a
   * freshly generated key having the SAME kid as the real one ('other-key'). The token is re-signed with the
   * provider's real private key in every case but 'other-key'.
   */
  tamper: Tamper;
  /** How many authorization codes the token endpoint redeemed successfully / refused (for replay tests). */
  tokenRequests: { ok: number; refused: number };
  /** Everything that reached end_session (RP-initiated logout, GET or POST /session/end): the query/form params each time. */
  endSessionRequests: Array<Record<string, string>>;
  /**
   * Sign a user in without a browser: performs the authorization request `authorizationUrl` starts (following the
   * provider's redirects and posting its dev login form with fetch, carrying its cookies) and returns the final
   * redirect Location (the client's redirect_uri with ?code=…&state=… or ?error=…).
   */
  authorize(authorizationUrl: string, login: string): Promise<string>;
  close(): Promise<void>;
}

export interface TestOpClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
}

/** The provider's end_session (RP-initiated logout) route; its confirmation form posts to `${END_SESSION_PATH}/confirm`. */
export const END_SESSION_PATH = '/session/end';
const TOKEN_PATH = '/token';

// The small part of oidc-provider's API used here (the package has no types).
interface OpGrant {
  accountId: string;
  clientId: string;
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  save(): Promise<string>;
}
interface OpGrantClass {
  new (properties: { accountId: string; clientId: string }): OpGrant;
  find(id: string): Promise<OpGrant | undefined>;
}
interface OpContext {
  method: string;
  path: string;
  host: string;
  query: Record<string, string | string[] | undefined>;
  type: string;
  body: unknown;
  oidc?: {
    provider: { Grant: OpGrantClass };
    client?: { clientId: string };
    account?: { accountId: string };
    session?: { grantIdFor(clientId: string): string | undefined };
    result?: { consent?: { grantId?: string } };
    requestParamOIDCScopes: Set<string>;
    requestParamClaims: Set<string>;
    body?: Record<string, string | string[] | undefined>;
  };
}
interface OpProvider {
  proxy: boolean;
  callback(): RequestListener;
  use(middleware: (ctx: OpContext, next: () => Promise<void>) => Promise<void>): void;
}
const Provider = ProviderModule as new (issuer: string, configuration: Record<string, unknown>) => OpProvider;

/** A real OpenID Provider (oidc-provider 8) on 127.0.0.1 and a free port, with dev (any-password) logins and automatic consent. */
export async function startTestOp(options: {
  clients: TestOpClient[];
  accounts?: Record<string, OpAccount>;
  idTokenTtlSeconds?: number;
}): Promise<TestOp> {
  const accounts = new Map<string, OpAccount>(Object.entries(options.accounts ?? {}));
  const tokenRequests = { ok: 0, refused: 0 };
  const endSessionRequests: Array<Record<string, string>> = [];

  const kid = `test-op-${randomBytes(6).toString('hex')}`;
  const signing = await generateKeyPair('RS256', { extractable: true });
  const privateJwk = { ...(await exportJWK(signing.privateKey)), kid, alg: 'RS256', use: 'sig' };
  const otherKey = (await generateKeyPair('RS256')).privateKey;

  let handler: RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handler(req, res));
  const issuer = await listen(server);

  const provider = new Provider(issuer, {
    clients: options.clients.map((client) => ({
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      ...client,
    })),
    pkce: { methods: ['S256'], required: () => true },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    conformIdTokenClaims: false,
    async findAccount(_ctx: unknown, id: string) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return { accountId: id, claims: () => ({ ...account }) };
    },
    // Consent is automatic: the grant always covers whatever the client asked for.
    async loadExistingGrant(ctx: OpContext) {
      const oidc = ctx.oidc!;
      const clientId = oidc.client!.clientId;
      const accountId = oidc.account!.accountId;
      const grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(clientId);
      const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      const grant = existing && existing.accountId === accountId && existing.clientId === clientId ? existing : new oidc.provider.Grant({ accountId, clientId });
      grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
      grant.addOIDCClaims([...oidc.requestParamClaims]);
      await grant.save();
      return grant;
    },
    jwks: { keys: [privateJwk] },
    cookies: { keys: [randomBytes(24).toString('hex')] },
    ttl: {
      IdToken: options.idTokenTtlSeconds ?? 3600,
      AccessToken: 3600,
      AuthorizationCode: 60,
      Interaction: 3600,
      Session: 24 * 3600,
      Grant: 24 * 3600,
    },
    renderError,
  });
  provider.proxy = false;

  // Record what reaches end_session (after the provider parsed it, so a POST body is not taken from it).
  provider.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      if (ctx.path === END_SESSION_PATH && (ctx.method === 'GET' || ctx.method === 'POST')) {
        endSessionRequests.push({ ...flatten(ctx.query), ...(ctx.method === 'POST' ? flatten(ctx.oidc?.body ?? {}) : {}) });
      }
    }
  });

  const op: TestOp = {
    issuer,
    accounts,
    tamper: null,
    tokenRequests,
    endSessionRequests,
    authorize: (authorizationUrl, login) => authorize(issuer, accounts, authorizationUrl, login),
    close: () => closeServer(server),
  };

  const callback = provider.callback();
  handler = (req, res) => {
    if (req.method === 'POST' && new URL(req.url ?? '/', issuer).pathname === TOKEN_PATH) {
      interceptTokenResponse(res, async (body) => {
        let json: Record<string, unknown>;
        try {
          json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          tokenRequests.refused += 1;
          return body;
        }
        if (typeof json.id_token !== 'string') {
          tokenRequests.refused += 1;
          return body;
        }
        tokenRequests.ok += 1;
        if (!op.tamper) return body;
        json.id_token = await tamperIdToken(json.id_token, op.tamper, op.tamper === 'other-key' ? otherKey : signing.privateKey);
        return JSON.stringify(json);
      });
    }
    callback(req, res);
  };

  return op;
}

async function tamperIdToken(idToken: string, tamper: Exclude<Tamper, null>, key: CryptoKey): Promise<string> {
  const header = decodeProtectedHeader(idToken);
  const payload: JWTPayload = { ...decodeJwt(idToken) };
  const now = Math.floor(Date.now() / 1000);
  switch (tamper) {
    case 'aud':
      payload.aud = 'someone-else';
      break;
    case 'expired':
      payload.iat = now - 7200;
      payload.exp = now - 3600;
      if (typeof payload.auth_time === 'number') payload.auth_time = now - 7200;
      break;
    case 'nonce':
      payload.nonce = 'not-the-nonce';
      break;
    case 'iss':
      payload.iss = 'http://evil.example';
      break;
    case 'other-key':
      break;
  }
  return new SignJWT(payload).setProtectedHeader({ ...header, alg: 'RS256' }).sign(key);
}

type EndArgs = [chunk?: unknown, encoding?: unknown, callback?: unknown];

/** Buffers what is written to a token response and lets `rewrite` change it before it is sent. */
function interceptTokenResponse(res: ServerResponse, rewrite: (body: string) => Promise<string>): void {
  const chunks: Buffer[] = [];
  const originalEnd = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  const collect = (chunk: unknown, encoding: unknown): void => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    if (typeof chunk === 'string') chunks.push(Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'));
    else chunks.push(Buffer.from(chunk as Uint8Array));
  };
  res.write = ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
    collect(chunk, encoding);
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  }) as ServerResponse['write'];
  res.end = ((...args: EndArgs) => {
    const [chunk, encoding] = args;
    collect(chunk, encoding);
    const done = args.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    rewrite(Buffer.concat(chunks).toString('utf8'))
      .catch((err: unknown) => {
        console.error('test OP: could not rewrite the token response', err);
        return Buffer.concat(chunks).toString('utf8');
      })
      .then((body) => {
        if (!res.headersSent) res.setHeader('content-length', Buffer.byteLength(body));
        if (done) originalEnd(body, done);
        else originalEnd(body);
      });
    return res;
  }) as ServerResponse['end'];
}

function flatten(params: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first;
  }
  return out;
}

/** Cookies the provider set during one sign-in (name=value; paths and expiry ignored except removal). */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expires = attributes.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('expires='));
      const expired = expires !== undefined && Date.parse(expires.slice('expires='.length)) <= Date.now();
      if (value === '' || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

async function authorize(issuer: string, accounts: Map<string, OpAccount>, authorizationUrl: string, login: string): Promise<string> {
  const origin = new URL(issuer).origin;
  const jar = new CookieJar();
  let url = new URL(authorizationUrl);
  let form: URLSearchParams | undefined;
  for (let step = 0; step < 20; step++) {
    if (url.origin !== origin) return url.href;
    const headers: Record<string, string> = {};
    const cookie = jar.header();
    if (cookie) headers.cookie = cookie;
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, { method: form ? 'POST' : 'GET', headers, body: form, redirect: 'manual' });
    jar.store(response);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      url = new URL(location, url);
      form = undefined;
      continue;
    }
    const page = await response.text();
    if (response.status !== 200) throw new Error(`test OP answered ${response.status} at ${url.pathname}: ${page.slice(0, 500)}`);
    const action = /<form[^>]*\baction="([^"]+)"/.exec(page)?.[1];
    if (action && /name="login"/.test(page)) {
      // The provider would answer an unknown account with a bare server_error.
      if (!accounts.has(login)) throw new Error(`test OP: no account "${login}" (known: ${[...accounts.keys()].join(', ') || 'none'})`);
      form = new URLSearchParams({ prompt: 'login', login, password: 'x' });
    } else if (action && /name="prompt" value="consent"/.test(page)) {
      form = new URLSearchParams({ prompt: 'consent' });
    } else {
      throw new Error(`test OP showed an unexpected page at ${url.pathname}: ${page.slice(0, 500)}`);
    }
    url = new URL(decodeEntities(action), url);
  }
  throw new Error(`test OP: sign-in of "${login}" did not finish after 20 steps (last at ${url.href})`);
}

function decodeEntities(value: string): string {
  return value
    .replace(/&#x2F;/gi, '/')
    .replace(/&#x3D;/gi, '=')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// Plain pages instead of the provider's defaults (which load web fonts and log a "you SHOULD change it" note).
async function logoutSource(ctx: OpContext, form: string): Promise<void> {
  ctx.type = 'html';
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Logout Request</title></head><body>
<h1>Do you want to sign-out from ${escapeHtml(ctx.host)}?</h1>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>
</body></html>`;
}

async function postLogoutSuccessSource(ctx: OpContext): Promise<void> {
  ctx.type = 'html';
  ctx.body = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign-out Success</title></head><body><h1>Sign-out Success</h1></body></html>';
}

async function renderError(ctx: OpContext, out: Record<string, unknown>): Promise<void> {
  ctx.type = 'html';
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>oops! something went wrong</title></head><body><pre>${escapeHtml(JSON.stringify(out, null, 2))}</pre></body></html>`;
}
