import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapGroups } from '../../src/auth/sso/accounts.js';
import { resolveProviders } from '../../src/auth/sso/presets.js';
import { parseConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';

const UPSTREAM = 'http://127.0.0.1:8050';

function problemsOf(input: ConfigInput): string[] {
  try {
    parseConfig({ upstream: UPSTREAM, ...input });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return [...err.problems];
  }
  return [];
}

describe('sso configuration', () => {
  it('reports every provider problem at once, each with its path', () => {
    const problems = problemsOf({
      sso: {
        providers: [
          { id: 'Corp SSO', issuer: 'https://sso.example.com', client_id: 'x' },
          { id: 'plain', issuer: 'http://sso.example.com', client_id: 'x' },
          { id: 'ms', preset: 'microsoft', tenant: 'common', client_id: 'x' },
          { id: 'kc', preset: 'keycloak', client_id: 'x' },
          { id: 'kc', preset: 'github', issuer: 'https://github.com', client_id: 'x', client_secret_env: 'lower-case' },
        ],
      },
    }).join('\n');
    assert.match(problems, /^sso\.providers\.0\.id: expected a short lower-case id/m);
    assert.match(problems, /^sso\.providers\.1\.issuer: must be https:\/\/ \(http:\/\/ only for localhost\)/m);
    assert.match(problems, /^sso\.providers\.2\.tenant: expected the Directory \(tenant\) ID, a GUID/m);
    assert.match(problems, /^sso\.providers\.3\.issuer: preset "keycloak" needs the issuer URL/m);
    assert.match(problems, /^sso\.providers\.4\.issuer: GitHub is not an OpenID provider/m);
    assert.match(problems, /^sso\.providers\.4\.client_secret_env: expected an environment variable name/m);
  });

  it('refuses "admins" as a groups_map target and the personal-accounts Microsoft tenant', () => {
    const problems = problemsOf({
      sso: {
        providers: [
          { id: 'a', issuer: 'https://a.example', client_id: 'x', groups_map: { 'idp-admins': ['ops', 'admins'] } },
          { id: 'ms', preset: 'microsoft', tenant: '9188040d-6c67-4c5b-b112-36a304b66dad', client_id: 'x' },
        ],
      },
    });
    assert.deepEqual(problems, [
      'sso.providers.0.groups_map.idp-admins: "admins" follows the administrator role and cannot come from a provider',
      "sso.providers.1.tenant: that is the personal-accounts (consumers) tenant: any Microsoft account could sign in. Give your organisation's tenant",
    ]);
  });

  it('refuses a provider id used twice', () => {
    const problems = problemsOf({ sso: { providers: [{ id: 'a', issuer: 'https://a.example', client_id: 'x' }, { id: 'a', issuer: 'https://b.example', client_id: 'y' }] } });
    assert.deepEqual(problems, ['sso.providers.1.id: provider id "a" is used twice']);
  });

  it('with passwords off: a provider is needed, and HTTP Basic and password sign-up are config errors', () => {
    assert.deepEqual(problemsOf({ password: { enabled: false } }), ['password.enabled: with passwords off, configure at least one provider under sso.providers']);
    const problems = problemsOf({
      password: { enabled: false },
      signup: { mode: 'open' },
      access: { rules: [{ path: '/api/**', policy: 'authenticated', allow_basic: true }] },
      sso: { providers: [{ id: 'corp', issuer: 'https://sso.example.com', client_id: 'x' }] },
    });
    assert.deepEqual(problems.sort(), [
      'access.rules.0.allow_basic: HTTP Basic is a password: it cannot be allowed while password.enabled is false',
      'signup.mode: sign-up creates password accounts: use sso auto_create while password.enabled is false',
    ]);
  });

  it('presets fill issuer, scopes and claims; auto_create follows the allowlists unless set', () => {
    const config = parseConfig({
      upstream: UPSTREAM,
      sso: {
        providers: [
          { id: 'g', preset: 'google', client_id: 'x', client_secret_env: 'G', allowed_domains: ['example.com'] },
          { id: 'ms', preset: 'microsoft', tenant: '6f1c2a3b-0000-4000-8000-1234567890ab', client_id: 'x' },
          { id: 'gh', preset: 'github', client_id: 'x', client_secret_env: 'GH' },
          { id: 'kc', preset: 'keycloak', issuer: 'https://kc.example.com/realms/a', client_id: 'x', scopes: ['openid'], claims: { groups: 'realm_access.roles' }, auto_create: false, allowed_groups: ['staff'] },
        ],
      },
    });
    const { providers, problems } = resolveProviders(config, { G: 'g-secret', GH: 'gh-secret' });
    assert.deepEqual(problems, []);
    const [google, microsoft, github, keycloak] = providers as [typeof providers[0], typeof providers[0], typeof providers[0], typeof providers[0]];
    assert.equal(google.issuer, 'https://accounts.google.com');
    assert.deepEqual(google.claims.username, ['email']);
    assert.equal(google.claims.groups, null);
    assert.equal(google.autoCreate, true);
    assert.equal(google.clientSecret, 'g-secret');
    assert.equal(microsoft.issuer, 'https://login.microsoftonline.com/6f1c2a3b-0000-4000-8000-1234567890ab/v2.0');
    assert.equal(microsoft.trustEmail, true);
    assert.equal(microsoft.autoCreate, false);
    assert.equal(github.kind, 'github');
    assert.equal(github.issuer, 'https://github.com');
    assert.equal(github.apiUrl, 'https://api.github.com');
    assert.deepEqual(github.scopes, ['read:user', 'user:email', 'read:org']);
    assert.deepEqual(keycloak.scopes, ['openid']);
    assert.equal(keycloak.defaultScopes, false);
    assert.equal(keycloak.claims.groups, 'realm_access.roles');
    assert.equal(keycloak.autoCreate, false, 'an explicit auto_create wins over the allowlist default');
  });

  it('a client secret variable that is not set is reported by name, with GitHub requiring one', () => {
    const config = parseConfig({ upstream: UPSTREAM, sso: { providers: [{ id: 'a', issuer: 'https://a.example', client_id: 'x', client_secret_env: 'A_SECRET' }, { id: 'gh', preset: 'github', client_id: 'y' }] } });
    assert.deepEqual(resolveProviders(config, {}).problems, [
      'sso.providers.0.client_secret_env: the environment variable A_SECRET is not set',
      'sso.providers.1.client_secret_env: GitHub needs a client secret',
    ]);
  });

  it('maps provider groups: through the map only, or as they are when valid group names', () => {
    const withMap = resolveProviders(parseConfig({ upstream: UPSTREAM, sso: { providers: [{ id: 'a', issuer: 'https://a.example', client_id: 'x', groups_map: { 'org/team': 'analysts', staff: ['staff', 'readers'] } }] } }), {}).providers[0]!;
    assert.deepEqual(mapGroups(withMap, ['org/team', 'staff', 'admins', 'unmapped']), ['analysts', 'readers', 'staff'], 'an unmapped "admins" from the provider grants nothing');
    const plain = resolveProviders(parseConfig({ upstream: UPSTREAM, sso: { providers: [{ id: 'a', issuer: 'https://a.example', client_id: 'x' }] } }), {}).providers[0]!;
    assert.deepEqual(mapGroups(plain, ['analysts', 'org/team', 'Has Space', 'finance', 'admins']), ['analysts', 'finance'], 'never "admins", which follows the administrator role');
    const github = resolveProviders(parseConfig({ upstream: UPSTREAM, sso: { providers: [{ id: 'gh', preset: 'github', client_id: 'x', client_secret_env: 'S' }] } }), { S: 's' }).providers[0]!;
    assert.deepEqual(mapGroups(github, ['acme', 'finance']), [], 'GitHub organisations are anyone\'s to create: groups only through a map');
  });
});
