import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { generate } from 'otplib';
import { FlowSeal } from '../../src/auth/sso/flow-seal.js';
import { testClock } from '../helpers/clock.js';
import { startGithubStandIn, type GithubStandIn } from '../helpers/github-standin.js';
import { createUser, freePort, hiddenFields, rawRequest, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';
import { startTestOp, type OpAccount, type TestOp } from '../helpers/oidc-op.js';
import { cookiePair, finishSso as callback, startSso as start, type SsoFlow as Flow } from '../helpers/sso-flow.js';

/**
 * Trying to break single sign-on from the outside, over real HTTP: a real OpenID Provider
 * (oidc-provider) and the GitHub stand-in, the gateway's start/callback/second-step/sign-out
 * routes, and what the app behind it receives. Tests named plainly document a defence that holds;
 * tests named "regression: …" guard flaws that were found here and fixed.
 */
const ENV = { CORP_SECRET: 'corp client secret', PARTNER_SECRET: 'partner client secret', GH_SECRET: 'github app secret', CLOCK_SECRET: 'clock client secret' };
const TOTP_SECRETS = { tia: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', tom: 'KRUGS4ZANFZSAYJAORSXG5BAONSWG4TF' };

/** A browser's cookie store, as far as Path and removal go (RFC 6265 §5.1.4 path-match). */
class BrowserJar {
  private readonly cookies = new Map<string, { value: string; path: string }>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const path = attributes.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      if (value === '' || attributes.some((a) => a.toLowerCase() === 'max-age=0')) this.cookies.delete(name);
      else this.cookies.set(name, { value, path });
    }
  }

  /** The Cookie header a browser would send to `url`. */
  header(url: string): string {
    const requestPath = new URL(url).pathname;
    const matches = (cookiePath: string) => requestPath === cookiePath || (requestPath.startsWith(cookiePath) && (cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/'));
    return [...this.cookies].filter(([, c]) => matches(c.path)).map(([name, c]) => `${name}=${c.value}`).join('; ');
  }

  names(): string[] {
    return [...this.cookies.keys()];
  }
}

/** Links in the gateway's outbox (no SMTP configured) to one address, waiting up to `ms` for at least one. */
async function waitForMailedLinks(dataDir: string, to: string, kind: 'reset' | 'verify', ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const links: string[] = [];
    let files: string[] = [];
    try {
      files = readdirSync(join(dataDir, 'outbox')).filter((f) => f.endsWith('.eml')).sort();
    } catch {
      files = [];
    }
    for (const file of files) {
      const mail = await simpleParser(readFileSync(join(dataDir, 'outbox', file)));
      const addressed = (Array.isArray(mail.to) ? mail.to : mail.to ? [mail.to] : []).some((a) => a.text.includes(to));
      const link = new RegExp(`https?://\\S+/_dashgate/${kind}\\?token=\\S+`).exec(mail.text ?? '')?.[0];
      if (addressed && link) links.push(link);
    }
    if (links.length > 0 || Date.now() > deadline) return links;
    await new Promise((done) => setTimeout(done, 50));
  }
}

describe('single sign-on under attack', () => {
  let op: TestOp;
  let partner: TestOp;
  let gh: GithubStandIn;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let base: string;
  let clockGw: TestGateway;
  const clock = testClock(Date.now());

  before(async () => {
    const port = await freePort();
    const clockPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    const clockBase = `http://127.0.0.1:${clockPort}`;
    const accounts: Record<string, OpAccount> = {
      ana: { sub: 'sub-ana', email: 'ana@example.com', email_verified: true, name: 'Ana', preferred_username: 'ana', groups: ['staff'] },
      vic: { sub: 'sub-vic', email: 'vic@example.com', email_verified: true, name: 'Victim', preferred_username: 'vic', groups: [] },
      mal: { sub: 'sub-mal', email: 'mal@example.com', email_verified: true, name: 'Mallory', preferred_username: 'mal', groups: [] },
      // The provider gives a group that happens to be called "admins".
      ella: { sub: 'sub-ella', email: 'ella@example.com', email_verified: true, name: 'Ella', preferred_username: 'ella', groups: ['admins', 'analysts'] },
      // ... and as one string instead of an array.
      sam: { sub: 'sub-sam', email: 'sam@example.com', email_verified: true, name: 'Sam', preferred_username: 'sam', groups: 'admins' as unknown as string[] },
      // email_verified as the string "false".
      fay: { sub: 'sub-fay', email: 'fay@example.com', email_verified: 'false' as unknown as boolean, name: 'Fay', preferred_username: 'fay' },
      // An email that differs from a local account's only in case.
      mixed: { sub: 'sub-mixed', email: 'mixed@example.com', email_verified: true, name: 'Mixed', preferred_username: 'mixed-sso' },
      // A provider username that is a local administrator's, in other spellings.
      root1: { sub: 'sub-root1', email: 'r1@example.com', email_verified: true, name: 'Not root', preferred_username: 'ROOT' },
      root2: { sub: 'sub-root2', email: 'r2@example.com', email_verified: true, name: 'Not root', preferred_username: 'ｒｏｏｔ' },
      tia: { sub: 'sub-tia', email: 'tia@example.com', email_verified: true, name: 'Tia', preferred_username: 'tia' },
      tom: { sub: 'sub-tom', email: 'tom@example.com', email_verified: true, name: 'Tom', preferred_username: 'tom' },
      dan: { sub: 'sub-dan', email: 'dan@example.com', email_verified: true, name: 'Dan', preferred_username: 'dan' },
      dora: { sub: 'sub-dora', email: 'dora@example.com', email_verified: true, name: 'Dora', preferred_username: 'dora' },
      pia: { sub: 'sub-pia', email: 'pia@example.com', email_verified: true, name: 'Pia', preferred_username: 'pia' },
      // The provider's account data says "amr: mfa", but no second factor was used at this sign-in.
      amy: { sub: 'sub-amy', email: 'amy@example.com', email_verified: true, name: 'Amy', preferred_username: 'amy', amr: ['mfa'] },
    };
    op = await startTestOp({
      clients: [
        { client_id: 'corp', client_secret: ENV.CORP_SECRET, redirect_uris: [`${base}/_dashgate/sso/corp/callback`], post_logout_redirect_uris: [`${base}/_dashgate/login?signed_out=1`] },
        { client_id: 'clock', client_secret: ENV.CLOCK_SECRET, redirect_uris: [`${clockBase}/_dashgate/sso/corp/callback`] },
      ],
      accounts,
    });
    partner = await startTestOp({
      clients: [{ client_id: 'partner', client_secret: ENV.PARTNER_SECRET, redirect_uris: [`${base}/_dashgate/sso/partner/callback`] }],
      accounts: {
        pat: { sub: 'partner-pat', email: 'pat@partner.net', email_verified: true, name: 'Pat', preferred_username: 'pat' },
        pvic: { sub: 'partner-pvic', email: 'pvic@example.com', email_verified: true, name: 'Partner victim', preferred_username: 'pvic' },
        proot: { sub: 'partner-root', email: 'root@example.com', email_verified: true, name: 'Someone at the partner', preferred_username: 'proot' },
        lina: { sub: 'partner-lina', email: 'lina@example.com', email_verified: true, name: 'Lina', preferred_username: 'lina', groups: ['ops', 'analysts'] },
      },
    });
    gh = await startGithubStandIn({
      clientId: 'Iv1.sec',
      clientSecret: ENV.GH_SECRET,
      redirectUri: `${base}/_dashgate/sso/github/callback`,
      users: [
        // A member of the allowed organisation who also created an organisation called "finance" (anyone can create one).
        { id: 9001, login: 'org-maker', name: 'Org Maker', email: null, emails: [{ email: 'maker@acme.example', primary: true, verified: true }], orgs: ['acme', 'finance'], teams: [] },
      ],
    });
    upstream = await startRecordingUpstream();
    gw = await startGateway(
      upstream.url,
      {
        server: { public_url: base },
        signup: { mode: 'open' },
        access: {
          rules: [
            { path: '/ops/**', groups: ['admins'] },
            { path: '/finance/**', groups: ['finance'] },
          ],
        },
        sso: {
          logout_at_provider: true,
          providers: [
            // No groups_map: provider groups with valid names are given as they are.
            { id: 'corp', name: 'Corp', issuer: op.issuer, client_id: 'corp', client_secret_env: 'CORP_SECRET', scopes: ['openid', 'email', 'profile', 'groups'], allowed_domains: ['example.com'] },
            { id: 'partner', name: 'Partner', issuer: partner.issuer, client_id: 'partner', client_secret_env: 'PARTNER_SECRET', link_existing: true },
            { id: 'github', preset: 'github', client_id: 'Iv1.sec', client_secret_env: 'GH_SECRET', allowed_groups: ['acme'], github: { web_url: gh.webUrl, api_url: gh.apiUrl } },
          ],
        },
      },
      { port, env: ENV },
    );
    clockGw = await startGateway(
      upstream.url,
      { server: { public_url: clockBase }, sso: { providers: [{ id: 'corp', issuer: op.issuer, client_id: 'clock', client_secret_env: 'CLOCK_SECRET', allowed_domains: ['example.com'] }] } },
      { port: clockPort, env: ENV, now: clock.now },
    );
    await createUser(gw.store, 'root', 'the administrator passphrase', { isAdmin: true, groups: ['admins'], email: 'root@example.com' });
  });
  after(async () => {
    await gw.close();
    await clockGw.close();
    await upstream.close();
    await op.close();
    await partner.close();
    await gh.close();
  });
  beforeEach(() => {
    op.tamper = null;
  });

  /** Start at the gateway, sign in at the provider as `login`, come back with the flow cookie. */
  async function ssoSignIn(provider: TestOp, providerId: string, login: string, options: { next?: string; gateway?: TestGateway } = {}): Promise<Flow> {
    const begun = await start((options.gateway ?? gw).url, providerId, options.next ?? '/');
    const callbackUrl = await provider.authorize(begun.authorizationUrl, login);
    return callback(callbackUrl, begun.flowCookie);
  }

  async function githubSignIn(login: string): Promise<Flow> {
    const begun = await start(gw.url, 'github');
    return callback(gh.approve(begun.authorizationUrl, login), begun.flowCookie);
  }

  async function giveTotp(username: string, secret: string): Promise<void> {
    const user = (await gw.store.users.findByUsername(username))!;
    await gw.store.factors.startTotp(user.id, secret, Date.now());
    await gw.store.factors.confirmTotp(user.id, Date.now(), 0);
  }

  /** SSO first step for a user with an authenticator app: the challenge cookie(s) and the second step's form. */
  async function firstStepNeedingCode(login: string): Promise<{ cookies: string; form: Record<string, string>; flow: Flow }> {
    const flow = await ssoSignIn(op, 'corp', login, { next: '/after' });
    assert.equal(flow.done.status, 303, flow.body);
    assert.equal(flow.done.headers.get('location'), '/_dashgate/login/mfa?next=%2Fafter');
    const cookies = ['dashgate_mfa', 'dashgate_sso_idt'].map((n) => cookiePair(flow.setCookies, n)).filter((c): c is string => c !== null).join('; ');
    const form = hiddenFields(await (await fetch(`${gw.url}/_dashgate/login/mfa?next=%2Fafter`, { headers: { cookie: cookies } })).text());
    return { cookies, form, flow };
  }

  function postCode(cookies: string, form: Record<string, string>, code: string): Promise<Response> {
    return fetch(`${gw.url}/_dashgate/login/mfa`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: cookies, origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form, code }).toString(),
    });
  }

  // ---- login CSRF, flow binding, the flow cookie ------------------------------------------

  it("login CSRF: the attacker's callback (their code and state) finishing in the victim's browser signs nobody in, and the code is not even redeemed", async () => {
    // The attacker starts a flow in their own browser and stops at the callback URL, unused.
    const attacker = await start(gw.url, 'corp');
    const attackersCallback = await op.authorize(attacker.authorizationUrl, 'mal');
    const redeemed = op.tokenRequests.ok;
    // The victim's browser: no flow at all, then with a flow of its own.
    const bare = await callback(attackersCallback, null);
    assert.equal(bare.done.status, 400, bare.body);
    assert.equal(bare.session, null);
    const victim = await start(gw.url, 'corp');
    const mixed = await callback(attackersCallback, victim.flowCookie);
    assert.equal(mixed.done.status, 400, mixed.body);
    assert.match(mixed.body, /state/);
    assert.equal(mixed.session, null);
    assert.equal(op.tokenRequests.ok, redeemed, 'the state check comes before the code is redeemed');
    assert.equal(await gw.store.users.findByUsername('mal'), null);
  });

  it("a flow cookie started for one provider is refused at another provider's callback", async () => {
    const corp = await start(gw.url, 'corp');
    const partnerFlow = await start(gw.url, 'partner');
    const partnerCallback = await partner.authorize(partnerFlow.authorizationUrl, 'pat');
    const crossed = await callback(partnerCallback, corp.flowCookie);
    assert.equal(crossed.done.status, 400, crossed.body);
    assert.match(crossed.body, /does not match a sign-in started in this browser/);
    assert.equal(crossed.session, null);
  });

  it('a tampered, truncated, oversize or foreign-key flow cookie is refused before anything is redeemed', async () => {
    const begun = await start(gw.url, 'corp');
    const callbackUrl = await op.authorize(begun.authorizationUrl, 'ana');
    const value = begun.flowCookie.slice('dashgate_sso='.length);
    const flipped = value.slice(0, 40) + (value[40] === 'A' ? 'B' : 'A') + value.slice(41);
    const redeemed = op.tokenRequests.ok;
    for (const bad of [flipped, value.slice(0, 60), 'A'.repeat(5000), `${value}x`, 'eyJraW5kIjoiZmxvdyJ9']) {
      const res = await callback(callbackUrl, `dashgate_sso=${bad}`);
      assert.equal(res.done.status, 400, res.body);
      assert.match(res.body, /does not match a sign-in started in this browser/);
      assert.equal(res.session, null);
    }
    // A flow sealed by another gateway (another key) is foreign here.
    const other = await start(clockGw.url, 'corp');
    assert.equal((await callback(callbackUrl, other.flowCookie)).done.status, 400);
    assert.equal(op.tokenRequests.ok, redeemed);
    // The untouched cookie still works: the refusals above were about the cookie only.
    const good = await callback(callbackUrl, begun.flowCookie);
    assert.equal(good.done.status, 303, good.body);
  });

  it("the flow cookie expires after FlowSeal.TTL_MS by the gateway's clock, and is refused after a successful sign-in (replay)", async () => {
    const late = await start(clockGw.url, 'corp');
    const lateCallback = await op.authorize(late.authorizationUrl, 'vic');
    clock.advance(FlowSeal.TTL_MS + 1000);
    const redeemed = op.tokenRequests.ok;
    const expired = await callback(lateCallback, late.flowCookie);
    assert.equal(expired.done.status, 400, expired.body);
    assert.match(expired.body, /in the last 10 minutes/);
    assert.equal(op.tokenRequests.ok, redeemed, 'an expired flow redeems nothing');

    const inTime = await start(clockGw.url, 'corp');
    const inTimeCallback = await op.authorize(inTime.authorizationUrl, 'vic');
    clock.advance(FlowSeal.TTL_MS - 5000);
    const ok = await callback(inTimeCallback, inTime.flowCookie);
    assert.equal(ok.done.status, 303, ok.body);
    assert.ok(ok.setCookies.some((c) => /^dashgate_sso=;.*Max-Age=0/.test(c)), 'cleared after use');
    const replay = await callback(inTimeCallback, inTime.flowCookie);
    assert.equal(replay.done.status, 400, replay.body);
    assert.equal(replay.session, null);
  });

  // ---- open redirect through next ---------------------------------------------------------

  it('the page to return to (next) can never leave the gateway: every off-site spelling becomes a local path', async () => {
    const attempts = [
      '//evil.example/x',
      '/\\evil.example/x',
      '\\\\evil.example',
      '/%2F%2Fevil.example',
      '/%2f/evil.example',
      '/%5Cevil.example',
      '/%5C%5Cevil.example',
      '/\t/evil.example',
      '/%09/evil.example',
      '/.//evil.example',
      '/x/..//evil.example',
      '/%2e%2e//evil.example',
      'https://evil.example/',
      'http:evil.example',
      'javascript:alert(1)',
      '/%252F%252Fevil.example',
      '///evil.example',
    ];
    for (const next of attempts) {
      const flow = await ssoSignIn(op, 'corp', 'ana', { next });
      assert.equal(flow.done.status, 303, `${next}: ${flow.body}`);
      const location = flow.done.headers.get('location')!;
      assert.ok(location.startsWith('/') && !location.startsWith('//') && !location.startsWith('/\\'), `${JSON.stringify(next)} → ${location}`);
      assert.equal(new URL(location, base).origin, base, `${JSON.stringify(next)} → ${location}`);
    }
  });

  // ---- linking and account takeover --------------------------------------------------------

  it('email_verified given as the string "false" is not a verified address (allowed_domains refuses it)', async () => {
    const flow = await ssoSignIn(op, 'corp', 'fay');
    assert.equal(flow.done.status, 403, flow.body);
    assert.match(flow.body, /unverified or missing email/);
    assert.equal(await gw.store.users.findByUsername('fay'), null);
  });

  it('an address that differs from a local account only in case is that account: no second account with the same email', async () => {
    const local = await createUser(gw.store, 'mixed-local', 'a local passphrase here', { email: 'Mixed@Example.COM' });
    const flow = await ssoSignIn(op, 'corp', 'mixed');
    assert.equal(flow.done.status, 403, flow.body);
    assert.match(flow.body, /already exists here/);
    assert.equal(flow.session, null);
    assert.equal(await gw.store.users.findByUsername('mixed-sso'), null);
    assert.deepEqual(await gw.store.sso.listForUser(local.id), [], 'without link_existing nothing links');
  });

  it("a provider username that is a local administrator's (other case, full-width) neither signs in as nor links to that account", async () => {
    const root = (await gw.store.users.findByUsername('root'))!;
    for (const login of ['root1', 'root2']) {
      const flow = await ssoSignIn(op, 'corp', login);
      assert.equal(flow.done.status, 403, flow.body);
      assert.match(flow.body, /An account named "root" already exists/);
      assert.equal(flow.session, null);
    }
    assert.deepEqual(await gw.store.sso.listForUser(root.id), []);
  });

  // Regression (fixed in this change): link_existing links a provider account to a Dashgate *administrator* by email alone.
  // src/auth/sso/accounts.ts, resolveAccount: `if (provider.linkExisting && verifiedEmail) user =
  // findByEmail(verifiedEmail)` links whatever account has that address, admins included. Whoever
  // controls accounts at that provider (here a partner's IdP, which may mark any address
  // "verified") becomes the administrator, without the admin's password; and if the provider also
  // sends amr=["mfa"], the admin's own TOTP/passkey is skipped too (sso-routes.ts finishSso). This
  // contradicts docs/sso.md "Admin rights are not taken from the provider".
  // Fix: never auto-link an account with isAdmin (nor, arguably, one with a second factor): refuse
  // with a page saying an administrator must link it, audit it, and provide an explicit
  // admin-side "link" action (the refusal messages already promise one, but none exists).
  it('regression: link_existing must not hand a local administrator account to whoever has its email at the provider', async () => {
    const root = (await gw.store.users.findByUsername('root'))!;
    const flow = await ssoSignIn(partner, 'partner', 'proot');
    const linked = (await gw.store.sso.find('partner', 'partner-root'))?.userId ?? null;
    assert.notEqual(linked, root.id, 'a partner account was linked to the administrator "root" by email');
    assert.equal(flow.session, null, 'a partner account signed in as the administrator "root"');
  });

  // Regression (fixed in this change): link_existing links to accounts whose email was never verified: a self-service sign-up
  // that is still pending (signup.mode open/domain, address not confirmed, not approved).
  // src/auth/sso/accounts.ts, resolveAccount: findByEmail() returns any account, whatever its
  // status, and store.sso.link() runs *before* the `user.status !== 'active'` check, so the link
  // is made (silently: no sso.linked audit entry on a refusal) even though the sign-in is refused.
  // An attacker signs up as "mallory" with the victim's address and a password of their choosing
  // (pre-account hijacking); the victim's first SSO sign-in is told "waiting for an administrator"
  // and their provider identity is now bound to mallory's account; once an admin approves it, the
  // victim and the attacker (password) share one account. With auto_create instead, the same
  // pending sign-up blocks the victim ("email_taken").
  // Fix: in resolveAccount, only link (and only count as email_taken) accounts that are active
  // and whose address is known to be verified (not pending sign-ups); do the status check before
  // store.sso.link(); audit every link.
  it("regression: link_existing must not bind a victim's provider identity to an attacker's pending, unverified sign-up", async () => {
    const form = hiddenFields(await (await fetch(`${gw.url}/_dashgate/signup`)).text());
    const signup = await fetch(`${gw.url}/_dashgate/signup`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form, username: 'mallory', email: 'pvic@example.com', password: 'mallory knows this passphrase', password2: 'mallory knows this passphrase' }).toString(),
    });
    assert.equal(signup.status, 200);
    const mallory = (await gw.store.users.findByUsername('mallory'))!;
    assert.equal(mallory.status, 'pending');

    const first = await ssoSignIn(partner, 'partner', 'pvic');
    assert.equal(first.session, null);
    const linkedTo = (await gw.store.sso.find('partner', 'partner-pvic'))?.userId ?? null;
    // An administrator approves the pending account; the victim signs in again.
    await gw.store.users.setStatus(mallory.id, 'active');
    const second = await ssoSignIn(partner, 'partner', 'pvic');
    const attackerCanSignIn = await signIn(gw.url, 'mallory', 'mallory knows this passphrase').then(() => true, () => false);
    assert.notEqual(linkedTo, mallory.id, "the victim's partner identity was linked to mallory's pending, unverified sign-up");
    assert.ok(second.session === null || !attackerCanSignIn, 'the victim now signs in to the account whose password mallory set');
  });

  // Regression (fixed in this change): an account created by SSO (no password) can get a password through "forgot password",
  // and from then on signs in without the provider: the allowlists (allowed_domains,
  // allowed_groups), the provider disabling the person, and amr are never consulted again.
  // docs/sso.md promises "someone removed from the domain or group is out at their next sign-in".
  // src/web/reset-routes.ts, requestReset: `sendable` only asks for an active account with an
  // email; it does not look at whether the account has a password or an SSO link.
  // Fix: do not send reset links to accounts without a password hash (SSO-only and token-only
  // service accounts), or to accounts linked to a provider unless an admin allows it; and have
  // POST /login refuse accounts that have SSO links when the operator wants SSO-only users.
  it('regression: an SSO-only account must not be able to set itself a password and keep signing in after the provider shuts it out', async () => {
    const first = await ssoSignIn(op, 'corp', 'pia');
    assert.equal(first.done.status, 303, first.body);
    assert.equal((await gw.store.users.findByUsername('pia'))!.passwordHash, null);
    const forgot = hiddenFields(await (await fetch(`${gw.url}/_dashgate/forgot`)).text());
    const asked = await fetch(`${gw.url}/_dashgate/forgot`, {
      method: 'POST',
      headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...forgot, login: 'pia' }).toString(),
    });
    assert.equal(asked.status, 200);
    const [link] = await waitForMailedLinks(gw.gateway.config.data_dir, 'pia@example.com', 'reset', 2000);
    let passwordWorks = false;
    if (link) {
      const fields = hiddenFields(await (await fetch(link)).text());
      const reset = await fetch(`${gw.url}/_dashgate/reset`, {
        method: 'POST',
        redirect: 'manual',
        headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...fields, password: 'pia set this herself', password2: 'pia set this herself' }).toString(),
      });
      assert.equal(reset.status, 303);
      // The provider now moves Pia out of the allowed domain: SSO refuses her...
      op.accounts.get('pia')!.email = 'pia@elsewhere.org';
      const refused = await ssoSignIn(op, 'corp', 'pia');
      assert.equal(refused.done.status, 403, refused.body);
      // ...but the password she set herself still lets her in.
      passwordWorks = await signIn(gw.url, 'pia', 'pia set this herself').then(() => true, () => false);
    }
    assert.equal(passwordWorks, false, 'the password pia gave herself through "forgot password" signs her in although the provider now shuts her out');
    assert.equal(link, undefined, 'a reset link was mailed to an account that has no password and signs in through SSO');
  });

  // ---- groups -------------------------------------------------------------------------------

  // Regression (fixed in this change): a provider group named "admins" (array or single string) makes the user a member of
  // Dashgate's "admins" group, which everywhere else follows the administrator role
  // (admin-routes.ts refuses to edit it directly: "Membership of admins follows the administrator
  // role"; invites and setup add it only with isAdmin). Access rules written as `groups: [admins]`
  // and the app (X-Forwarded-Groups / X-Dashgate-Jwt) then treat a non-admin as an admin; in
  // Keycloak/Okta/Entra a group of that name is common and often managed by someone else.
  // src/auth/sso/accounts.ts, mapGroups: without groups_map every valid group name passes.
  // Fix: never give "admins" from a provider in mapGroups (and refuse "admins" as a groups_map
  // target in src/config/schema.ts), and keep "admins" out of the re-sync (see the re-sync bug).
  it('regression: a provider group called "admins" must not put a non-administrator into Dashgate\'s admins group', async () => {
    const outcomes: Array<{ login: string; groups: string[]; isAdmin: boolean; ops: number }> = [];
    for (const login of ['ella', 'sam']) {
      const flow = await ssoSignIn(op, 'corp', login);
      assert.equal(flow.done.status, 303, flow.body);
      const user = (await gw.store.users.findByUsername(login))!;
      const ops = await fetch(`${gw.url}/ops/panel`, { redirect: 'manual', headers: { cookie: flow.session!, accept: 'text/html' } });
      outcomes.push({ login, groups: [...user.groups], isAdmin: user.isAdmin, ops: ops.status });
    }
    assert.deepEqual(
      outcomes.map((o) => ({ ...o, groups: o.groups.filter((g) => g === 'admins') })),
      [
        { login: 'ella', groups: [], isAdmin: false, ops: 403 },
        { login: 'sam', groups: [], isAdmin: false, ops: 403 },
      ],
    );
  });

  // Regression (fixed in this change): with the github preset and no groups_map, every organisation the user belongs to becomes a
  // Dashgate group of the same name. GitHub organisation names are a global namespace anyone can
  // register for free, so any member of the allowed org can create an org called "finance" (or
  // whatever a Dashgate group is called, if still free on GitHub) and give themselves that group.
  // src/auth/sso/accounts.ts, mapGroups (pass-through) together with client.ts githubProfile
  // (orgs → groups). Fix: for GitHub without groups_map, give only the orgs named in
  // allowed_groups (or no groups at all), or make groups_map required for the github preset when
  // groups are to be used; say so in docs/sso.md.
  it('regression: a GitHub organisation the user created must not become a Dashgate group', async () => {
    const flow = await githubSignIn('org-maker');
    assert.equal(flow.done.status, 303, flow.body);
    const finance = await fetch(`${gw.url}/finance/salaries`, { redirect: 'manual', headers: { cookie: flow.session!, accept: 'text/html' } });
    const user = (await gw.store.users.findByUsername('org-maker'))!;
    assert.equal(finance.status, 403, `the self-made "finance" org opened /finance (groups: ${user.groups.join(',')})`);
    assert.ok(!user.groups.includes('finance'));
  });

  // Regression (fixed in this change): the re-sync removes groups an administrator granted in Dashgate. At the first sign-in
  // through link_existing, src/auth/sso/accounts.ts resolveAccount records as "synced" (given by
  // the provider) *every* mapped provider group, including ones the account already had locally
  // (`recordLogin(..., { syncedGroups: managedGroups })`). When the provider later stops sending
  // such a group, the next sign-in removes it, although the provider never added it. docs/sso.md
  // step 4 and the sso_identities comment ("a re-sync removes only what it added") promise the
  // opposite. The same happens to an administrator's "admins" membership when a provider once sent
  // a group of that name (isAdmin stays true, the group goes).
  // Fix: record as synced only the groups the provider actually added:
  // `managedGroups.filter(g => previous.has(g) || !user.groups.includes(g))`.
  it('regression: a group granted in Dashgate survives the re-sync even when the provider once sent a group of the same name', async () => {
    const lina = await createUser(gw.store, 'lina', 'lina local passphrase', { email: 'lina@example.com', groups: ['ops'] });
    const first = await ssoSignIn(partner, 'partner', 'lina');
    assert.equal(first.done.status, 303, first.body);
    assert.deepEqual((await gw.store.users.findById(lina.id))!.groups, ['analysts', 'ops']);
    partner.accounts.get('lina')!.groups = ['analysts'];
    const second = await ssoSignIn(partner, 'partner', 'lina');
    assert.equal(second.done.status, 303, second.body);
    assert.deepEqual((await gw.store.users.findById(lina.id))!.groups, ['analysts', 'ops'], '"ops" was granted in Dashgate before the provider ever signed lina in');
  });

  // ---- the second step after SSO --------------------------------------------------------------

  it("the second step belongs to the SSO user: another user's code, a relabelled or foreign challenge, and a disabled account all fail", async () => {
    for (const login of ['tia', 'tom']) assert.equal((await ssoSignIn(op, 'corp', login)).done.status, 303);
    await giveTotp('tia', TOTP_SECRETS.tia);
    await giveTotp('tom', TOTP_SECRETS.tom);
    const tia = (await gw.store.users.findByUsername('tia'))!;
    const tom = (await gw.store.users.findByUsername('tom'))!;

    const sessionsBefore = (await gw.store.sessions.listForUser(tia.id)).length;
    const step = await firstStepNeedingCode('tia');
    assert.equal(step.flow.session, null, 'no session before the code');
    // Tom's valid code with Tia's challenge.
    const wrong = await postCode(step.cookies, step.form, await generate({ secret: TOTP_SECRETS.tom }));
    assert.equal(wrong.status, 401);
    assert.equal(cookiePair(wrong.headers.getSetCookie(), 'dashgate_session'), null);
    // Tia's challenge altered: its sealed claims (user id, first factor, expiry) cannot be read or
    // changed, a header relabelled to another purpose no longer decrypts, and a token sealed for
    // another purpose (the form's CSRF token) is not a challenge.
    const challenge = /dashgate_mfa=([^;]+)/.exec(step.cookies)![1]!;
    const [header, ...rest] = challenge.split('.');
    const relabelled = [Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(header!, 'base64url').toString()), typ: 'dashgate-csrf-form+jwt' })).toString('base64url'), ...rest].join('.');
    const ciphertext = rest[2]!;
    const flipped = [header, rest[0], rest[1], `${ciphertext.slice(0, 5)}${ciphertext[5] === 'A' ? 'B' : 'A'}${ciphertext.slice(6)}`, rest[3]].join('.');
    for (const forged of [relabelled, flipped, step.form.csrf!]) {
      assert.notEqual(forged, challenge);
      const res = await postCode(`dashgate_mfa=${forged}`, step.form, await generate({ secret: TOTP_SECRETS.tia }));
      assert.equal(res.status, 303);
      assert.match(res.headers.get('location') ?? '', /^\/_dashgate\/login\?/, `${forged} was accepted`);
      assert.equal(cookiePair(res.headers.getSetCookie(), 'dashgate_session'), null);
    }
    // Disabled between the provider and the code.
    await gw.store.users.setStatus(tia.id, 'disabled');
    const disabled = await postCode(step.cookies, step.form, await generate({ secret: TOTP_SECRETS.tia }));
    assert.equal(disabled.status, 303);
    assert.match(disabled.headers.get('location') ?? '', /^\/_dashgate\/login\?/);
    assert.equal(cookiePair(disabled.headers.getSetCookie(), 'dashgate_session'), null);
    await gw.store.users.setStatus(tia.id, 'active');
    assert.equal((await gw.store.sessions.listForUser(tia.id)).length, sessionsBefore, 'no new session for tia');
    assert.deepEqual((await gw.store.sessions.listForUser(tom.id)).filter((s) => s.authMethod !== 'sso:corp'), [], 'none for tom either');
  });

  it('"sso:<id>+mfa" comes only from the ID token\'s amr: an account claim amr=mfa the provider did not put in the ID token still gets the second step', async () => {
    assert.equal((await ssoSignIn(op, 'corp', 'amy')).done.status, 303);
    const amy = (await gw.store.users.findByUsername('amy'))!;
    for (const session of await gw.store.sessions.listForUser(amy.id)) assert.equal(session.authMethod, 'sso:corp');
    await giveTotp('amy', TOTP_SECRETS.tia);
    const step = await firstStepNeedingCode('amy');
    assert.equal(step.flow.session, null);
    const res = await postCode(step.cookies, step.form, await generate({ secret: TOTP_SECRETS.tia }));
    assert.equal(res.status, 303);
    const sessions = await gw.store.sessions.listForUser(amy.id);
    assert.ok(sessions.some((s) => s.authMethod === 'sso:corp+totp'));
    assert.ok(!sessions.some((s) => s.authMethod.endsWith('+mfa')));
  });

  // ---- account state ----------------------------------------------------------------------------

  it('an account disabled after the flow started stays out; a deleted account takes its provider link with it', async () => {
    assert.equal((await ssoSignIn(op, 'corp', 'dan')).done.status, 303);
    const dan = (await gw.store.users.findByUsername('dan'))!;
    const begun = await start(gw.url, 'corp');
    await gw.store.users.setStatus(dan.id, 'disabled');
    const flow = await callback(await op.authorize(begun.authorizationUrl, 'dan'), begun.flowCookie);
    assert.equal(flow.done.status, 403, flow.body);
    assert.match(flow.body, /disabled/);
    assert.equal(flow.session, null);
    await gw.store.users.setStatus(dan.id, 'pending');
    const pending = await ssoSignIn(op, 'corp', 'dan');
    assert.equal(pending.done.status, 403);
    assert.match(pending.body, /waiting for an administrator/);

    assert.equal((await ssoSignIn(op, 'corp', 'dora')).done.status, 303);
    const dora = (await gw.store.users.findByUsername('dora'))!;
    await gw.store.users.setGroups(dora.id, ['finance']);
    await gw.store.users.remove(dora.id);
    assert.equal(await gw.store.sso.find('corp', 'sub-dora'), null);
    const again = await ssoSignIn(op, 'corp', 'dora');
    assert.equal(again.done.status, 303, again.body);
    const fresh = (await gw.store.users.findByUsername('dora'))!;
    assert.notEqual(fresh.id, dora.id);
    assert.ok(!fresh.groups.includes('finance'), 'the deleted account is not revived');
  });

  // ---- sign-out and what the app sees -----------------------------------------------------------

  it('sign-out at the provider: Host and X-Forwarded-* cannot change the end-session address or the post_logout_redirect_uri', async () => {
    const flow = await ssoSignIn(op, 'corp', 'ana');
    const page = await (await fetch(`${gw.url}/_dashgate/logout`, { headers: { cookie: flow.session! } })).text();
    const res = await rawRequest(gw.url, '/_dashgate/logout', {
      method: 'POST',
      headers: {
        host: 'evil.example',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        forwarded: 'host=evil.example;proto=https',
        origin: base,
        cookie: flow.session!,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(hiddenFields(page)).toString(),
    });
    assert.equal(res.status, 303, res.body);
    const location = new URL(String(res.headers.location));
    assert.equal(location.origin, op.issuer);
    assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${base}/_dashgate/login?signed_out=1`);
    assert.ok(!String(res.headers.location).includes('evil.example'));
  });

  it('the start ignores Host and X-Forwarded-Host: the redirect_uri is always built from public_url', async () => {
    const res = await rawRequest(gw.url, '/_dashgate/sso/corp/start?next=%2F', { headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
    assert.equal(res.status, 303);
    assert.equal(new URL(String(res.headers.location)).searchParams.get('redirect_uri'), `${base}/_dashgate/sso/corp/callback`);
  });

  it("the app never receives the ID token, the flow/challenge/carrier cookies or the session cookie after an SSO + TOTP sign-in in a browser", async () => {
    const jar = new BrowserJar();
    const get = async (url: string, extra: Record<string, string> = {}) => {
      const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url), ...extra } });
      jar.store(res);
      return res;
    };
    const startRes = await get(`${gw.url}/_dashgate/sso/corp/start?next=%2Fdash%2F`);
    const sso = startRes.headers.getSetCookie().find((c) => c.startsWith('dashgate_sso='))!;
    assert.match(sso, /Path=\/_dashgate\/sso\/; HttpOnly; SameSite=Lax/);
    await get(await op.authorize(startRes.headers.get('location')!, 'tia'));
    assert.ok(jar.names().includes('dashgate_mfa') && jar.names().includes('dashgate_sso_idt'));
    // While the second step is pending, the app (reached anonymously) sees none of it.
    const before = upstream.requests.length;
    await get(`${gw.url}/public-probe`, { accept: 'text/html' });
    assert.equal(upstream.requests.length, before, 'anonymous: not proxied');
    const form = hiddenFields(await (await get(`${gw.url}/_dashgate/login/mfa?next=%2Fdash%2F`)).text());
    // The previous test's code may still be the last accepted step: wait for a fresh one.
    let code = await generate({ secret: TOTP_SECRETS.tia });
    let done = await fetch(`${gw.url}/_dashgate/login/mfa`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: jar.header(`${gw.url}/_dashgate/login/mfa`), origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form, code }).toString(),
    });
    if (done.status === 401) {
      const wait = 30_000 - (Date.now() % 30_000) + 200;
      await new Promise((resolve) => setTimeout(resolve, wait));
      code = await generate({ secret: TOTP_SECRETS.tia });
      done = await fetch(`${gw.url}/_dashgate/login/mfa`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: jar.header(`${gw.url}/_dashgate/login/mfa`), origin: base, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form, code }).toString(),
      });
    }
    assert.equal(done.status, 303, await done.clone().text());
    jar.store(done);
    const tia = (await gw.store.users.findByUsername('tia'))!;
    const session = (await gw.store.sessions.listForUser(tia.id)).find((s) => s.authMethod === 'sso:corp+totp');
    assert.ok(session, 'the session records SSO and the code');
    const kept = await gw.store.sso.idTokenOf(session.id);
    assert.ok(kept, 'the ID token is kept for sign-out at the provider');

    const app = await get(`${gw.url}/dash/`, { 'x-forwarded-user': 'root', 'x-forwarded-groups': 'admins', 'x-dashgate-jwt': 'forged' });
    assert.equal(app.status, 200);
    const seen = upstream.requests.at(-1)!;
    assert.equal(seen.url, '/dash/');
    assert.equal(seen.headers['x-forwarded-user'], 'tia');
    assert.ok(!String(seen.headers['x-forwarded-groups'] ?? '').includes('admins'));
    assert.notEqual(seen.headers['x-dashgate-jwt'], 'forged');
    assert.doesNotMatch(String(seen.headers.cookie ?? ''), /dashgate_/);
    const everything = seen.rawHeaders.join('\n');
    const [, payload, signature] = kept.idToken.split('.');
    assert.ok(!everything.includes(signature!) && !everything.includes(payload!), 'the ID token reached the app');
  });
});
