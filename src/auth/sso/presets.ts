import type { Config } from '../../config/schema.js';

type ProviderConfig = Config['sso']['providers'][number];

/** A provider with its preset applied: everything the sign-in flow needs, nothing left to guess. */
export interface SsoProvider {
  id: string;
  kind: 'oidc' | 'github';
  name: string;
  /** OIDC: the issuer to discover. GitHub: the web address (authorize and access_token live under it). */
  issuer: string;
  apiUrl: string | null;
  clientId: string;
  clientSecret: string | null;
  scopes: string[];
  /** The scopes came from the preset, so a "groups" scope the provider advertises may be added. */
  defaultScopes: boolean;
  claims: { username: string[]; email: string; name: string; groups: string | null };
  allowedDomains: readonly string[];
  allowedGroups: readonly string[];
  autoCreate: boolean;
  linkExisting: boolean;
  trustEmail: boolean;
  /** null: provider groups are given as they are (those that are valid group names). */
  groupsMap: ReadonlyMap<string, readonly string[]> | null;
  /** Whether sign-in re-syncs groups: the provider sends groups, or a map says which to take. */
  syncsGroups: boolean;
}

const NAMES: Record<ProviderConfig['preset'], string> = {
  oidc: 'single sign-on',
  google: 'Google',
  microsoft: 'Microsoft',
  okta: 'Okta',
  keycloak: 'Keycloak',
  auth0: 'Auth0',
  github: 'GitHub',
};

/**
 * What each preset fills in. Google gives no groups and puts the email in `email`; Entra ID
 * gives `preferred_username` (the UPN) and group object ids, and reports no `email_verified` for
 * addresses the directory sets; Okta sends groups only for the `groups` scope; Keycloak and
 * Auth0 send groups only through a mapper or rule the admin adds (named by claims.groups).
 */
const PRESETS: Record<ProviderConfig['preset'], { scopes: string[]; username: string[]; groups: string | null; trustEmail: boolean }> = {
  oidc: { scopes: ['openid', 'email', 'profile'], username: ['preferred_username', 'email'], groups: 'groups', trustEmail: false },
  google: { scopes: ['openid', 'email', 'profile'], username: ['email'], groups: null, trustEmail: false },
  microsoft: { scopes: ['openid', 'email', 'profile'], username: ['preferred_username', 'email'], groups: 'groups', trustEmail: true },
  okta: { scopes: ['openid', 'email', 'profile', 'groups'], username: ['preferred_username', 'email'], groups: 'groups', trustEmail: false },
  keycloak: { scopes: ['openid', 'email', 'profile'], username: ['preferred_username', 'email'], groups: 'groups', trustEmail: false },
  auth0: { scopes: ['openid', 'email', 'profile'], username: ['email', 'nickname'], groups: null, trustEmail: false },
  github: { scopes: ['read:user', 'user:email', 'read:org'], username: ['login'], groups: 'groups', trustEmail: false },
};

/** Applies presets and reads client secrets from the environment; every problem is reported at once. */
export function resolveProviders(config: Config, env: NodeJS.ProcessEnv = process.env): { providers: SsoProvider[]; problems: string[] } {
  const problems: string[] = [];
  const providers = config.sso.providers.map((p, i): SsoProvider => {
    const preset = PRESETS[p.preset];
    let clientSecret: string | null = null;
    if (p.client_secret_env) {
      clientSecret = env[p.client_secret_env] ?? null;
      if (!clientSecret) problems.push(`sso.providers.${i}.client_secret_env: the environment variable ${p.client_secret_env} is not set`);
    } else if (p.preset === 'github') {
      problems.push(`sso.providers.${i}.client_secret_env: GitHub needs a client secret`);
    }
    const issuer =
      p.issuer ??
      (p.preset === 'google' ? 'https://accounts.google.com' : p.preset === 'microsoft' ? `https://login.microsoftonline.com/${p.tenant ?? ''}/v2.0` : p.preset === 'github' ? p.github.web_url.replace(/\/+$/, '') : '');
    const groupsClaim = p.claims.groups ?? preset.groups;
    return {
      id: p.id,
      kind: p.preset === 'github' ? 'github' : 'oidc',
      name: p.name ?? NAMES[p.preset],
      issuer,
      apiUrl: p.preset === 'github' ? p.github.api_url.replace(/\/+$/, '') : null,
      clientId: p.client_id,
      clientSecret,
      scopes: p.scopes ?? preset.scopes,
      defaultScopes: p.scopes === undefined,
      claims: { username: p.claims.username ? [p.claims.username] : preset.username, email: p.claims.email ?? 'email', name: p.claims.name ?? 'name', groups: groupsClaim },
      allowedDomains: p.allowed_domains,
      allowedGroups: p.allowed_groups,
      autoCreate: p.auto_create ?? (p.allowed_domains.length > 0 || p.allowed_groups.length > 0),
      linkExisting: p.link_existing,
      trustEmail: p.trust_email ?? preset.trustEmail,
      groupsMap: p.groups_map ? new Map(Object.entries(p.groups_map)) : null,
      syncsGroups: groupsClaim !== null || p.groups_map !== undefined,
    };
  });
  return { providers, problems };
}
