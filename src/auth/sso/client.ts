import * as oidc from 'openid-client';
import type { FlowState } from './flow-seal.js';
import { SsoError } from './errors.js';
import type { SsoProvider } from './presets.js';

/** Who the provider says signed in, in the provider's own terms (before any mapping). */
export interface SsoProfile {
  subject: string;
  username: string | null;
  email: string | null;
  /** The provider vouches for the address (email_verified, or a verified GitHub primary address). */
  emailVerified: boolean;
  name: string | null;
  /** Provider groups; null when the provider said nothing about groups. */
  groups: string[] | null;
  /** The raw ID token, kept for RP-initiated logout (OIDC only). */
  idToken: string | null;
  /** The provider says it used more than one factor (amr contains "mfa", RFC 8176). */
  multiFactor: boolean;
}


const GITHUB_API_VERSION = '2022-11-28';

function isLoopback(url: string): boolean {
  return ['localhost', '127.0.0.1', '[::1]'].includes(new URL(url).hostname);
}

/**
 * The provider side of single sign-on, on openid-client: authorization code flow with PKCE (S256),
 * `state` and `nonce`; the ID token is checked (signature against the provider's JWKS, issuer,
 * audience, expiry, nonce) before anything is read from it. GitHub is plain OAuth 2: the same
 * flow without an ID token, then its REST API says who the user is. Discovery happens at the
 * first sign-in and is retried after a failure, so a provider that is down at start-up does not
 * keep the gateway from starting.
 */
export class SsoClient {
  private readonly configurations = new Map<string, Promise<oidc.Configuration>>();

  constructor(
    readonly providers: readonly SsoProvider[],
    private readonly options: { redirectUri(provider: SsoProvider): string; timeoutSeconds?: number },
  ) {}

  provider(id: string): SsoProvider | undefined {
    return this.providers.find((p) => p.id === id);
  }

  /** The address to send the browser to, and what to remember until it comes back. */
  async begin(provider: SsoProvider, next: string): Promise<{ url: string; flow: FlowState }> {
    const config = await this.configuration(provider);
    const verifier = oidc.randomPKCECodeVerifier();
    const flow: FlowState = { provider: provider.id, state: oidc.randomState(), nonce: oidc.randomNonce(), verifier, next };
    const scopes = [...provider.scopes];
    // Keycloak, Okta and others release groups only for a "groups" scope: ask for it where the provider offers one.
    if (provider.kind === 'oidc' && provider.defaultScopes && provider.claims.groups !== null && !scopes.includes('groups') && config.serverMetadata().scopes_supported?.includes('groups')) scopes.push('groups');
    const parameters: Record<string, string> = {
      redirect_uri: this.options.redirectUri(provider),
      scope: scopes.join(' '),
      state: flow.state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (provider.kind === 'oidc') parameters.nonce = flow.nonce;
    return { url: oidc.buildAuthorizationUrl(config, parameters).href, flow };
  }

  /** Checks the provider's answer (the callback's query string) against the flow and returns the profile. */
  async finish(provider: SsoProvider, callbackQuery: string, flow: FlowState): Promise<SsoProfile> {
    const config = await this.configuration(provider);
    // The URL the provider redirected to, rebuilt from configuration: never from Host or X-Forwarded-*.
    const current = new URL(this.options.redirectUri(provider));
    current.search = callbackQuery;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        ...(provider.kind === 'oidc' ? { expectedNonce: flow.nonce, idTokenExpected: true } : {}),
      });
    } catch (err) {
      throw describeFailure(provider, err);
    }
    return provider.kind === 'github' ? this.githubProfile(provider, tokens.access_token) : this.oidcProfile(provider, config, tokens);
  }

  /** Origins a sign-out may continue to: each OpenID provider's issuer, and its end-session endpoint once discovered. */
  async logoutOrigins(): Promise<string[]> {
    const origins = new Set<string>();
    for (const provider of this.providers) {
      if (provider.kind !== 'oidc') continue;
      origins.add(new URL(provider.issuer).origin);
      const config = await this.configurations.get(provider.id)?.catch(() => null);
      const endpoint = config?.serverMetadata().end_session_endpoint;
      if (endpoint) origins.add(new URL(endpoint).origin);
    }
    return [...origins];
  }

  /** RP-initiated logout: where to send the browser, or null when the provider has no end-session endpoint. */
  async endSessionUrl(provider: SsoProvider, idToken: string, postLogoutRedirectUri: string): Promise<string | null> {
    if (provider.kind !== 'oidc') return null;
    const config = await this.configuration(provider);
    if (!config.serverMetadata().end_session_endpoint) return null;
    return oidc.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: postLogoutRedirectUri, client_id: provider.clientId }).href;
  }

  private configuration(provider: SsoProvider): Promise<oidc.Configuration> {
    let pending = this.configurations.get(provider.id);
    if (!pending) {
      pending = this.discover(provider);
      this.configurations.set(provider.id, pending);
      pending.catch(() => this.configurations.delete(provider.id));
    }
    return pending;
  }

  private async discover(provider: SsoProvider): Promise<oidc.Configuration> {
    const insecure = provider.issuer.startsWith('http:') && isLoopback(provider.issuer);
    const auth = provider.clientSecret ? oidc.ClientSecretBasic(provider.clientSecret) : oidc.None();
    const metadata = provider.clientSecret ?? undefined;
    try {
      let config: oidc.Configuration;
      if (provider.kind === 'github') {
        config = new oidc.Configuration(
          { issuer: provider.issuer, authorization_endpoint: `${provider.issuer}/login/oauth/authorize`, token_endpoint: `${provider.issuer}/login/oauth/access_token` },
          provider.clientId,
          metadata,
          // GitHub reads the client credentials from the form body.
          oidc.ClientSecretPost(provider.clientSecret ?? ''),
        );
        if (insecure) oidc.allowInsecureRequests(config);
        // GitHub answers token errors with 200 and {"error": …}: turn them into the 400 OAuth
        // expects, so a bad or reused code is reported as what it is.
        config[oidc.customFetch] = async (url, options) => {
          const response = await fetch(url, options as RequestInit);
          if (response.status !== 200 || !url.endsWith('/login/oauth/access_token')) return response;
          const body = (await response.clone().json().catch(() => null)) as { error?: unknown } | null;
          return typeof body?.error === 'string' ? new Response(JSON.stringify(body), { status: 400, headers: { 'content-type': 'application/json' } }) : response;
        };
      } else {
        config = await oidc.discovery(new URL(provider.issuer), provider.clientId, metadata, auth, {
          timeout: this.options.timeoutSeconds ?? 10,
          ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
        });
        // The ID token's signature is checked against the provider's keys even though it came
        // straight from the token endpoint: TLS alone is not relied on (a token signed by another
        // key is refused).
        oidc.enableNonRepudiationChecks(config);
      }
      return config;
    } catch (err) {
      throw new SsoError('provider_unavailable', `${provider.name} could not be reached to start the sign-in (${(err as Error).message}). Try again in a moment.`);
    }
  }

  private async oidcProfile(provider: SsoProvider, config: oidc.Configuration, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers): Promise<SsoProfile> {
    const idClaims = tokens.claims();
    if (!idClaims || !tokens.id_token) throw new SsoError('verification_failed', `${provider.name} sent no ID token.`);
    let claims: Record<string, unknown> = { ...idClaims };
    // The user-info endpoint often has what the ID token leaves out (groups at Okta, names at Entra).
    if (config.serverMetadata().userinfo_endpoint) {
      try {
        const info = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
        claims = { ...info, ...idClaims };
      } catch (err) {
        if (err instanceof oidc.ResponseBodyError || (err as { code?: string }).code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') throw describeFailure(provider, err);
        // A missing or failing user-info endpoint leaves the ID token's claims, which were verified.
      }
    }
    const email = stringClaim(claims, provider.claims.email);
    const groupsValue = provider.claims.groups ? claimValue(claims, provider.claims.groups) : undefined;
    const amr = Array.isArray(idClaims.amr) ? idClaims.amr : [];
    return {
      subject: idClaims.sub,
      username: firstString(claims, provider.claims.username),
      email,
      emailVerified: email !== null && (claims.email_verified === true || claims.email_verified === 'true' || provider.trustEmail),
      name: stringClaim(claims, provider.claims.name),
      groups: provider.claims.groups === null ? null : toGroupList(groupsValue),
      idToken: tokens.id_token,
      multiFactor: amr.includes('mfa'),
    };
  }

  private async githubProfile(provider: SsoProvider, accessToken: string): Promise<SsoProfile> {
    const get = async (url: string): Promise<{ status: number; body: unknown; next: string | null }> => {
      const response = await fetch(url, {
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/vnd.github+json', 'x-github-api-version': GITHUB_API_VERSION, 'user-agent': 'Dashgate' },
        signal: AbortSignal.timeout((this.options.timeoutSeconds ?? 10) * 1000),
      });
      const next = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get('link') ?? '')?.[1] ?? null;
      return { status: response.status, body: await response.json().catch(() => null), next: next && next.startsWith(`${provider.apiUrl}/`) ? next : null };
    };
    const api = (path: string) => get(`${provider.apiUrl}${path}`);
    // Lists come in pages of at most 100 (Link: rel="next"); someone in many orgs or teams must not lose the later ones.
    const list = async (path: string): Promise<unknown[]> => {
      const items: unknown[] = [];
      let url: string | null = `${provider.apiUrl}${path}`;
      for (let page = 0; url && page < 20; page++) {
        const answer = await get(url);
        if (!Array.isArray(answer.body)) break;
        items.push(...(answer.body as unknown[]));
        url = answer.next;
      }
      return items;
    };
    const user = await api('/user');
    const profile = user.body as { id?: unknown; login?: unknown; name?: unknown } | null;
    if (user.status !== 200 || typeof profile?.id !== 'number' || typeof profile.login !== 'string') {
      throw new SsoError('incomplete_profile', `GitHub did not say who signed in (HTTP ${user.status} from /user).`);
    }
    // The profile's public email may be unverified or absent: only the verified primary address counts.
    const emails = await api('/user/emails');
    const primary = Array.isArray(emails.body) ? (emails.body as Array<{ email?: unknown; primary?: unknown; verified?: unknown }>).find((e) => e.primary === true && e.verified === true && typeof e.email === 'string') : undefined;
    let groups: string[] = [];
    if (provider.scopes.includes('read:org')) {
      const orgs = (await list('/user/orgs?per_page=100')) as Array<{ login?: unknown }>;
      const teams = (await list('/user/teams?per_page=100')) as Array<{ slug?: unknown; organization?: { login?: unknown } }>;
      const orgLogins = orgs.flatMap((o) => (typeof o?.login === 'string' ? [o.login.toLowerCase()] : []));
      const teamSlugs = teams.flatMap((t) => (typeof t?.slug === 'string' && typeof t.organization?.login === 'string' ? [`${t.organization.login.toLowerCase()}/${t.slug}`] : []));
      groups = [...new Set([...orgLogins, ...teamSlugs])];
    }
    return {
      subject: String(profile.id),
      username: profile.login,
      email: primary ? String(primary.email) : null,
      emailVerified: primary !== undefined,
      name: typeof profile.name === 'string' && profile.name ? profile.name : null,
      groups,
      idToken: null,
      multiFactor: false,
    };
  }
}

/** A claim by name; a dotted name that is not itself a claim walks into objects (`realm_access.roles`). */
function claimValue(claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function stringClaim(claims: Record<string, unknown>, name: string): string | null {
  const value = claimValue(claims, name);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function firstString(claims: Record<string, unknown>, names: readonly string[]): string | null {
  for (const name of names) {
    const value = stringClaim(claims, name);
    if (value !== null) return value;
  }
  return null;
}

/** Groups arrive as an array of strings, or one string; anything else is no groups. */
function toGroupList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function describeFailure(provider: SsoProvider, err: unknown): SsoError {
  if (err instanceof SsoError) return err;
  if (err instanceof oidc.AuthorizationResponseError) {
    const description = err.error_description ? `: ${err.error_description}` : '';
    return new SsoError('provider_refused', `${provider.name} did not sign you in (${err.error}${description}).`);
  }
  if (err instanceof oidc.ResponseBodyError) {
    if (err.error === 'invalid_grant' || err.error === 'bad_verification_code') {
      return new SsoError('exchange_failed', `${provider.name} refused the sign-in code (${err.error}): it was already used or has expired. Start again.`);
    }
    return new SsoError('exchange_failed', `${provider.name} refused to complete the sign-in (${err.error}).`);
  }
  const code = (err as { code?: string }).code ?? '';
  // openid-client's own message is generic ("unexpected JWT claim value encountered"); its cause says which claim.
  const cause = (err as { cause?: unknown }).cause;
  const message = cause instanceof Error && cause.message ? cause.message : ((err as Error).message ?? String(err));
  if (code.startsWith('OAUTH_')) {
    if (/"state"|state/.test(message) && code !== 'OAUTH_JWT_CLAIM_COMPARISON_FAILED') return new SsoError('verification_failed', `The answer does not belong to the sign-in started here (${message}).`);
    return new SsoError('verification_failed', `The answer from ${provider.name} did not pass verification: ${message}.`);
  }
  if (code === 'ERR_INVALID_ARG_VALUE' || err instanceof TypeError) return new SsoError('provider_unavailable', `${provider.name} could not be reached to finish the sign-in (${message}).`);
  return new SsoError('verification_failed', `The answer from ${provider.name} did not pass verification: ${message}.`);
}
