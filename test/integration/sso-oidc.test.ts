import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { generate } from 'otplib';
import { createUser, freePort, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';
import { tableRows } from '../helpers/html.js';
import { startTestOp, type TestOp } from '../helpers/oidc-op.js';
import { finishSso, startSso, type SsoFlow } from '../helpers/sso-flow.js';

/**
 * Single sign-on against a real OpenID Provider (oidc-provider, in this process), over HTTP: the
 * gateway's start and callback routes, the provider's own authorization and token endpoints, and
 * the account rules (allowlists, linking, group mapping). Every refusal must be a page that says
 * why, with no session cookie.
 */
const SECRET = 'corp client secret, only in the environment';
const ENV = { CORP_SECRET: SECRET, OTHER_SECRET: 'other client secret' };

describe('single sign-on with OpenID Connect (real provider)', () => {
  let op: TestOp;
  let other: TestOp;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let base: string;

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    op = await startTestOp({
      clients: [{ client_id: 'dashgate', client_secret: SECRET, redirect_uris: [`${base}/_dashgate/sso/corp/callback`], post_logout_redirect_uris: [`${base}/_dashgate/login?signed_out=1`] }],
      accounts: {
        ana: { sub: 'sub-ana', email: 'ana@example.com', email_verified: true, name: 'Ana Analyst', preferred_username: 'ana', groups: ['idp-analysts', 'idp-finance', 'Not A Group!'] },
        bob: { sub: 'sub-bob', email: 'bob@elsewhere.org', email_verified: true, name: 'Bob', preferred_username: 'bob', groups: ['idp-analysts'] },
        eve: { sub: 'sub-eve', email: 'eve@example.com', email_verified: false, name: 'Eve', preferred_username: 'eve', groups: [] },
        carl: { sub: 'sub-carl', email: 'carl@example.com', email_verified: true, name: 'Carl', preferred_username: 'carl', groups: ['idp-analysts'] },
      },
    });
    other = await startTestOp({
      clients: [{ client_id: 'dashgate-2', client_secret: ENV.OTHER_SECRET, redirect_uris: [`${base}/_dashgate/sso/partner/callback`] }],
      accounts: {
        ana: { sub: 'partner-ana', email: 'ana@example.com', email_verified: true, name: 'Ana at Partner', preferred_username: 'ana-partner' },
        pat: { sub: 'partner-pat', email: 'pat@partner.net', email_verified: true, name: 'Pat', preferred_username: 'pat' },
      },
    });
    upstream = await startRecordingUpstream();
    gw = await startGateway(
      upstream.url,
      {
        server: { public_url: base },
        access: { rules: [{ path: '/finance/**', groups: ['finance'] }] },
        sso: {
          logout_at_provider: true,
          providers: [
            {
              id: 'corp',
              name: 'Corp SSO',
              issuer: op.issuer,
              client_id: 'dashgate',
              client_secret_env: 'CORP_SECRET',
              scopes: ['openid', 'email', 'profile', 'groups'],
              allowed_domains: ['example.com'],
              groups_map: { 'idp-analysts': 'analysts', 'idp-finance': ['finance', 'reports'] },
            },
            { id: 'partner', name: 'Partner', issuer: other.issuer, client_id: 'dashgate-2', client_secret_env: 'OTHER_SECRET', link_existing: true },
          ],
        },
      },
      { port, env: ENV },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await op.close();
    await other.close();
  });
  beforeEach(() => {
    op.tamper = null;
  });

  /** Start at the gateway, sign in at the provider as `login`, come back with the flow cookie. */
  async function ssoSignIn(provider: TestOp, providerId: string, login: string, options: { next?: string; editAuthorizationUrl?: (url: URL) => void; editCallbackUrl?: (url: URL) => void } = {}): Promise<SsoFlow> {
    const begun = await startSso(gw.url, providerId, options.next ?? '/');
    const authorizationUrl = new URL(begun.authorizationUrl);
    options.editAuthorizationUrl?.(authorizationUrl);
    const callback = new URL(await provider.authorize(authorizationUrl.href, login));
    options.editCallbackUrl?.(callback);
    return finishSso(callback.href, begun.flowCookie);
  }

  async function assertRefused(flow: SsoFlow, status: number, message: RegExp): Promise<void> {
    assert.equal(flow.done.status, status, flow.body);
    assert.match(flow.done.headers.get('content-type') ?? '', /text\/html/);
    assert.match(flow.body, message);
    assert.match(flow.body, /Back to sign-in/);
    assert.equal(flow.session, null, 'no session may start');
  }

  it('the start sends the browser to the provider with PKCE (S256), state, nonce and the redirect URI from public_url, whatever Host says', async () => {
    const start = await fetch(`${gw.url}/_dashgate/sso/corp/start?next=%2Freports`, { redirect: 'manual', headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
    assert.equal(start.status, 303);
    const url = new URL(start.headers.get('location')!);
    assert.equal(url.origin, op.issuer);
    const q = url.searchParams;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), 'dashgate');
    assert.equal(q.get('redirect_uri'), `${base}/_dashgate/sso/corp/callback`);
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.get('state') ?? '', /^[A-Za-z0-9_-]{20,}$/);
    assert.match(q.get('nonce') ?? '', /^[A-Za-z0-9_-]{20,}$/);
    assert.equal(q.get('scope'), 'openid email profile groups');
    const cookie = start.headers.getSetCookie().find((c) => c.startsWith('dashgate_sso='))!;
    assert.match(cookie, /Path=\/_dashgate\/sso\/; HttpOnly; SameSite=Lax; Max-Age=600/);
    // The PKCE verifier travels encrypted: neither it nor the state appears in the cookie in clear.
    assert.ok(!cookie.includes(q.get('state')!));
  });

  it('signs a new user in (auto_create from allowed_domains), maps provider groups, returns to the page first asked for', async () => {
    const flow = await ssoSignIn(op, 'corp', 'ana', { next: '/finance/q3?tab=2' });
    assert.equal(flow.done.status, 303, flow.body);
    assert.equal(flow.done.headers.get('location'), '/finance/q3?tab=2');
    assert.ok(flow.session);
    assert.ok(flow.done.headers.getSetCookie().some((c) => /^dashgate_sso=;.*Max-Age=0/.test(c)), 'the flow cookie is cleared');

    const ana = await gw.store.users.findByUsername('ana');
    assert.ok(ana);
    assert.equal(ana.email, 'ana@example.com');
    assert.equal(ana.displayName, 'Ana Analyst');
    assert.equal(ana.passwordHash, null, 'an SSO account has no password');
    assert.deepEqual(ana.groups, ['analysts', 'finance', 'reports'], 'mapped groups only: unmapped and invalid names are dropped');

    const page = await fetch(`${gw.url}/finance/q3`, { headers: { cookie: flow.session } });
    assert.equal(page.status, 200);
    const seen = upstream.requests.at(-1)!;
    assert.equal(seen.headers['x-forwarded-user'], 'ana');
    assert.equal(seen.headers['x-forwarded-groups'], 'analysts,finance,reports');
    const sessions = await gw.store.sessions.listForUser(ana.id);
    assert.equal(sessions[0]!.authMethod, 'sso:corp');
    const created = await gw.store.audit.list({ action: 'user.created' });
    assert.ok(created.some((e) => e.target === 'ana' && e.actor === 'sso:corp'));
  });

  it('re-syncs groups at each sign-in: provider groups follow the provider, groups granted in Dashgate stay', async () => {
    const ana = (await gw.store.users.findByUsername('ana'))!;
    await gw.store.users.setGroups(ana.id, [...ana.groups, 'ops']);
    op.accounts.get('ana')!.groups = ['idp-analysts'];
    const flow = await ssoSignIn(op, 'corp', 'ana');
    assert.equal(flow.done.status, 303, flow.body);
    assert.deepEqual((await gw.store.users.findById(ana.id))!.groups, ['analysts', 'ops']);
    assert.equal((await fetch(`${gw.url}/finance/q3`, { redirect: 'manual', headers: { cookie: flow.session!, accept: 'text/html' } })).status, 403, 'finance is gone with the provider group');
    op.accounts.get('ana')!.groups = ['idp-analysts', 'idp-finance'];
  });

  it('refuses an address outside allowed_domains, and an unverified one inside: a page says why, no account is made', async () => {
    await assertRefused(await ssoSignIn(op, 'corp', 'bob'), 403, /accounts from elsewhere\.org may not sign in here/);
    await assertRefused(await ssoSignIn(op, 'corp', 'eve'), 403, /unverified or missing email/);
    assert.equal(await gw.store.users.findByUsername('bob'), null);
    assert.equal(await gw.store.users.findByUsername('eve'), null);
    assert.ok((await gw.store.audit.list({ action: 'login.sso_refused' })).some((e) => (e.detail as { reason?: string }).reason === 'domain_not_allowed'));
  });

  it('refuses an answer with the wrong state', async () => {
    const flow = await ssoSignIn(op, 'corp', 'carl', { editCallbackUrl: (url) => url.searchParams.set('state', 'x'.repeat(43)) });
    await assertRefused(flow, 400, /Sign-in with Corp SSO failed/);
    assert.match(flow.body, /state/);
    assert.equal(await gw.store.users.findByUsername('carl'), null);
  });

  it('refuses an answer that arrives without the flow cookie (started in another browser, or forged)', async () => {
    const flow = await ssoSignIn(op, 'corp', 'carl');
    assert.equal(flow.done.status, 303, 'the real flow works');
    const replay = await fetch(flow.callbackUrl, { redirect: 'manual' });
    assert.equal(replay.status, 400);
    assert.match(await replay.text(), /does not match a sign-in started in this browser/);
  });

  it('refuses a replayed code even with the flow cookie: the provider will not redeem it twice', async () => {
    const flow = await ssoSignIn(op, 'corp', 'ana');
    assert.equal(flow.done.status, 303);
    const refusedBefore = op.tokenRequests.refused;
    const replay = await fetch(flow.callbackUrl, { redirect: 'manual', headers: { cookie: flow.flowCookie } });
    const body = await replay.text();
    assert.equal(replay.status, 400, body);
    assert.match(body, /already used or has expired/);
    assert.equal(op.tokenRequests.refused, refusedBefore + 1);
    assert.ok(!replay.headers.getSetCookie().some((c) => c.startsWith('dashgate_session=') && !c.startsWith('dashgate_session=;')));
  });

  it('refuses an ID token minted for another authorization request (wrong nonce)', async () => {
    const flow = await ssoSignIn(op, 'corp', 'ana', { editAuthorizationUrl: (url) => url.searchParams.set('nonce', 'a-nonce-this-gateway-never-made') });
    await assertRefused(flow, 400, /did not pass verification: unexpected ID Token "nonce" claim value/);
  });

  for (const [tamper, message] of [
    ['nonce', /"nonce" claim value/],
    ['expired', /"exp" \(expiration time\) claim value, expiration is past current timestamp/],
    ['aud', /"aud" \(audience\) claim value/],
    ['iss', /"iss" \(issuer\) claim value/],
    ['other-key', /JWT signature verification failed/],
  ] as const) {
    it(`refuses an ID token with ${tamper === 'other-key' ? 'a signature by another key' : tamper === 'expired' ? 'an expiry in the past' : `the wrong ${tamper}`}`, async () => {
      op.tamper = tamper;
      const flow = await ssoSignIn(op, 'corp', 'ana');
      await assertRefused(flow, 400, message);
      const failures = await gw.store.audit.list({ action: 'login.sso_failure' });
      assert.ok(failures.some((e) => (e.detail as { reason?: string }).reason === 'verification_failed'));
    });
  }

  it('a provider error (the user declined) is a 403 page naming the error', async () => {
    const start = await fetch(`${gw.url}/_dashgate/sso/corp/start`, { redirect: 'manual' });
    const flowCookie = start.headers.getSetCookie().find((c) => c.startsWith('dashgate_sso='))!.split(';')[0]!;
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const res = await fetch(`${base}/_dashgate/sso/corp/callback?error=access_denied&error_description=User+said+no&state=${state}&iss=${encodeURIComponent(op.issuer)}`, { redirect: 'manual', headers: { cookie: flowCookie } });
    const body = await res.text();
    assert.equal(res.status, 403, body);
    assert.match(body, /Corp SSO did not sign you in \(access_denied: User said no\)/);
  });

  it('an unknown provider id is a 404 page', async () => {
    const res = await fetch(`${gw.url}/_dashgate/sso/nope/start`, { redirect: 'manual' });
    assert.equal(res.status, 404);
    assert.match(await res.text(), /Unknown sign-in provider/);
  });

  it('a disabled account stays out', async () => {
    const carl = (await gw.store.users.findByUsername('carl'))!;
    await gw.store.users.setStatus(carl.id, 'disabled');
    await assertRefused(await ssoSignIn(op, 'corp', 'carl'), 403, /disabled/);
    await gw.store.users.setStatus(carl.id, 'active');
  });

  it('two providers at once: both buttons on the login page; without auto_create only existing accounts get in, linked by verified email', async () => {
    const page = await (await fetch(`${gw.url}/_dashgate/login?next=%2Fx`)).text();
    assert.match(page, /href="\/_dashgate\/sso\/corp\/start\?next=%2Fx">Sign in with Corp SSO</);
    assert.match(page, /href="\/_dashgate\/sso\/partner\/start\?next=%2Fx">Sign in with Partner</);
    assert.match(page, /name="password"/, 'the password form is still there');

    await assertRefused(await ssoSignIn(other, 'partner', 'pat'), 403, /no account here for your Partner sign-in/);
    assert.equal(await gw.store.users.findByUsername('pat'), null);

    const flow = await ssoSignIn(other, 'partner', 'ana');
    assert.equal(flow.done.status, 303, flow.body);
    const ana = (await gw.store.users.findByUsername('ana'))!;
    assert.deepEqual((await gw.store.sso.listForUser(ana.id)).map((l) => l.provider), ['corp', 'partner']);
    assert.equal((await gw.store.sessions.listForUser(ana.id))[0]!.authMethod, 'sso:partner');
    assert.ok((await gw.store.audit.list({ action: 'sso.linked' })).some((e) => e.target === 'ana'));
  });

  it('link_existing links only on a verified email: an unverified one matching a local account gets nothing', async () => {
    const lina = await createUser(gw.store, 'lina', 'lina local passphrase', { email: 'lina@example.com' });
    other.accounts.set('lina-unverified', { sub: 'partner-lina', email: 'lina@example.com', email_verified: false, name: 'Not Lina', preferred_username: 'lina' });
    await assertRefused(await ssoSignIn(other, 'partner', 'lina-unverified'), 403, /no account here for your Partner sign-in/);
    assert.deepEqual(await gw.store.sso.listForUser(lina.id), []);
  });

  it("the admin console shows a user's provider links and can remove one (audited); that provider account then follows the provider's rules again", async () => {
    await createUser(gw.store, 'root', 'the administrator passphrase', { isAdmin: true, groups: ['admins'] });
    const admin = await signIn(gw.url, 'root', 'the administrator passphrase');
    const ana = (await gw.store.users.findByUsername('ana'))!;
    const page = await (await fetch(`${gw.url}/_dashgate/admin/users/${ana.id}`, { headers: { cookie: admin } })).text();
    assert.match(page, /<h2 id="sso-title">Single sign-on<\/h2>/);
    assert.ok(tableRows(page, 'table[aria-labelledby=sso-title]').some((cells) => cells[0] === 'partner' && cells[1] === 'partner-ana'));
    const res = await fetch(`${gw.url}/_dashgate/admin/users/${ana.id}/sso/unlink`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: admin, origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: hiddenFields(page).csrf!, provider: 'partner' }).toString(),
    });
    assert.equal(res.status, 303);
    assert.deepEqual((await gw.store.sso.listForUser(ana.id)).map((l) => l.provider), ['corp']);
    assert.ok((await gw.store.audit.list({ action: 'sso.unlinked' })).some((e) => e.target === 'ana' && e.actor === 'root'));
  });

  it('sign-out continues at the provider (RP-initiated logout) with the ID token and comes back to the sign-in page', async () => {
    const flow = await ssoSignIn(op, 'corp', 'ana');
    const shown = await fetch(`${gw.url}/_dashgate/logout`, { headers: { cookie: flow.session! } });
    // Regression: browsers apply form-action to the redirect after the post; with only 'self' Chromium blocked the way to the provider.
    assert.match(shown.headers.get('content-security-policy') ?? '', new RegExp(`form-action 'self' ${op.issuer.replace(/[.]/g, '\\.')}[ ;]`));
    const logoutPage = await shown.text();
    const res = await fetch(`${gw.url}/_dashgate/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: flow.session!, origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(hiddenFields(logoutPage)).toString(),
    });
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location')!);
    assert.equal(location.origin, op.issuer);
    assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${base}/_dashgate/login?signed_out=1`);
    assert.equal(location.searchParams.get('client_id'), 'dashgate');
    assert.ok((location.searchParams.get('id_token_hint') ?? '').split('.').length === 3, 'the ID token is the hint');
    // The session is over here already, whatever the provider does next.
    assert.equal((await fetch(`${gw.url}/x`, { redirect: 'manual', headers: { cookie: flow.session! } })).status, 303);
    const atProvider = await fetch(location, { redirect: 'manual' });
    assert.ok(atProvider.status < 500);
    assert.ok(op.endSessionRequests.some((r) => r.id_token_hint === location.searchParams.get('id_token_hint')));
  });

  it('a password sign-out is not sent to a provider', async () => {
    await createUser(gw.store, 'local', 'a local passphrase here');
    const cookie = await signIn(gw.url, 'local', 'a local passphrase here');
    const logoutPage = await (await fetch(`${gw.url}/_dashgate/logout`, { headers: { cookie } })).text();
    const res = await fetch(`${gw.url}/_dashgate/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(hiddenFields(logoutPage)).toString(),
    });
    assert.equal(res.headers.get('location'), '/_dashgate/login?signed_out=1');
  });

  it('an SSO user with an authenticator app is asked for the code; the session records both', async () => {
    const carl = (await gw.store.users.findByUsername('carl'))!;
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    await gw.store.factors.startTotp(carl.id, secret, Date.now());
    await gw.store.factors.confirmTotp(carl.id, Date.now(), 0);
    const flow = await ssoSignIn(op, 'corp', 'carl', { next: '/after' });
    assert.equal(flow.done.status, 303);
    assert.equal(flow.done.headers.get('location'), '/_dashgate/login/mfa?next=%2Fafter');
    assert.equal(flow.session, null, 'no session before the code');
    const carrier = flow.done.headers.getSetCookie().find((c) => c.startsWith('dashgate_sso_idt='))!;
    assert.match(carrier, /Path=\/_dashgate\/login; HttpOnly; SameSite=Lax/);
    const challenge = `${flow.done.headers.getSetCookie().find((c) => c.startsWith('dashgate_mfa='))!.split(';')[0]!}; ${carrier.split(';')[0]!}`;
    const form = hiddenFields(await (await fetch(`${gw.url}/_dashgate/login/mfa?next=%2Fafter`, { headers: { cookie: challenge } })).text());
    const res = await fetch(`${gw.url}/_dashgate/login/mfa`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: challenge, origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form, code: await generate({ secret }) }).toString(),
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/after');
    const [session] = await gw.store.sessions.listForUser(carl.id);
    assert.equal(session!.authMethod, 'sso:corp+totp');
    // The ID token crossed the second step (sealed in a cookie under /login) for sign-out at the provider.
    assert.equal((await gw.store.sso.idTokenOf(session!.id))?.provider, 'corp');
    assert.ok(res.headers.getSetCookie().some((c) => /^dashgate_sso_idt=;.*Max-Age=0/.test(c)), 'the carrier cookie is cleared');

    // The account page of an account without a password: no password form; a code confirms changes to 2FA.
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('dashgate_session='))!.split(';')[0]!;
    const account = await (await fetch(`${gw.url}/_dashgate/account`, { headers: { cookie } })).text();
    assert.match(account, /You sign in with Corp SSO; this account has no password here\./);
    assert.doesNotMatch(account, /Change password/);
    assert.match(account, /id="mfa-code"/);
    const manage = (code: string) =>
      fetch(`${gw.url}/_dashgate/account/totp/manage`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, origin: base, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: hiddenFields(account).csrf!, action: 'disable', code }).toString(),
      });
    assert.equal((await manage('000000')).status, 400);
    const off = await manage(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
    assert.equal(off.status, 303);
    assert.equal(off.headers.get('location'), '/_dashgate/account?done=mfa_off');
    assert.equal((await gw.store.factors.totp(carl.id))?.confirmedAt ?? null, null);
  });
});

describe('single sign-on only (password.enabled: false)', () => {
  let op: TestOp;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;

  before(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    op = await startTestOp({ clients: [{ client_id: 'only', client_secret: SECRET, redirect_uris: [`${base}/_dashgate/sso/corp/callback`] }] });
    upstream = await startRecordingUpstream();
    gw = await startGateway(
      upstream.url,
      { server: { public_url: base }, password: { enabled: false }, sso: { providers: [{ id: 'corp', preset: 'keycloak', issuer: op.issuer, client_id: 'only', client_secret_env: 'CORP_SECRET' }] } },
      { port, env: ENV },
    );
    await createUser(gw.store, 'pw', 'a password that must not work');
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await op.close();
  });

  it('the sign-in page goes straight to the only provider, keeping the page asked for', async () => {
    const res = await fetch(`${gw.url}/reports`, { redirect: 'manual', headers: { accept: 'text/html' } });
    assert.equal(res.status, 303);
    const login = await fetch(new URL(res.headers.get('location')!, gw.url), { redirect: 'manual' });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/_dashgate/sso/corp/start?next=%2Freports');
  });

  it('after signing out the page shows the button instead (no loop back into the provider), and no password form', async () => {
    const page = await fetch(`${gw.url}/_dashgate/login?signed_out=1`);
    assert.equal(page.status, 200);
    const body = await page.text();
    assert.match(body, /Sign in with Keycloak/);
    assert.doesNotMatch(body, /name="password"/);
    assert.doesNotMatch(body, /Forgot your password/);
  });

  it("the page helper's dialog learns there is no password form, only the provider", async () => {
    const info = (await (await fetch(`${gw.url}/_dashgate/api/session`)).json()) as { authenticated: boolean; passwords: boolean; providers: Array<{ id: string; name: string }> };
    assert.equal(info.authenticated, false);
    assert.equal(info.passwords, false);
    assert.deepEqual(info.providers, [{ id: 'corp', name: 'Keycloak' }]);
  });

  it('password sign-in and password reset are refused', async () => {
    const fields = hiddenFields(await (await fetch(`${gw.url}/_dashgate/login?signed_out=1`)).text());
    const res = await fetch(`${gw.url}/_dashgate/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: gw.url, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ ...fields, username: 'pw', password: 'a password that must not work' }).toString(),
    });
    assert.equal(res.status, 403);
    assert.deepEqual(((await res.json()) as { error: string }).error, 'passwords_disabled');
    assert.equal((await fetch(`${gw.url}/_dashgate/forgot`)).status, 404);
  });
});
