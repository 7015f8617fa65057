import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';
import { startGithubStandIn, type GithubStandIn } from '../helpers/github-standin.js';
import { finishSso, startSso } from '../helpers/sso-flow.js';

const SECRET = 'github oauth app secret';

/**
 * The github preset against a local stand-in that speaks GitHub's OAuth web flow and REST API
 * shapes: code flow with PKCE and state, the verified primary email (not the public one), orgs
 * and teams as groups, the org allowlist, and the API's own refusals.
 */
describe('single sign-on with GitHub (local stand-in for github.com and api.github.com)', () => {
  let gh: GithubStandIn;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;

  before(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    gh = await startGithubStandIn({
      clientId: 'Iv1.dashgate',
      clientSecret: SECRET,
      redirectUri: `${base}/_dashgate/sso/github/callback`,
      users: [
        {
          id: 4242,
          login: 'Octo-Dev',
          name: 'Octo Dev',
          email: 'octo@public.example',
          emails: [
            { email: 'octo@public.example', primary: false, verified: false },
            { email: 'octo@acme.example', primary: true, verified: true },
          ],
          orgs: ['acme'],
          teams: [{ org: 'acme', slug: 'data-team' }],
        },
        { id: 7, login: 'outsider', name: null, email: null, emails: [{ email: 'out@else.example', primary: true, verified: true }], orgs: ['other-org'], teams: [] },
        // In 150 organisations: the allowed one is on the second page of /user/orgs.
        { id: 9, login: 'busy', name: 'Busy', email: null, emails: [{ email: 'busy@acme.example', primary: true, verified: true }], orgs: [...Array.from({ length: 149 }, (_, i) => `club-${i}`), 'acme'], teams: [] },
        { id: 8, login: 'unverified', name: 'U', email: null, emails: [{ email: 'u@acme.example', primary: true, verified: false }], orgs: ['acme'], teams: [] },
      ],
    });
    upstream = await startRecordingUpstream();
    gw = await startGateway(
      upstream.url,
      {
        server: { public_url: base },
        sso: {
          providers: [
            {
              id: 'github',
              preset: 'github',
              client_id: 'Iv1.dashgate',
              client_secret_env: 'GH_SECRET',
              allowed_groups: ['acme'],
              groups_map: { 'acme/data-team': 'analysts', acme: 'staff' },
              github: { web_url: gh.webUrl, api_url: gh.apiUrl },
            },
          ],
        },
      },
      { port, env: { GH_SECRET: SECRET } },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await gh.close();
  });

  async function signInAs(login: string, edit?: (callback: URL) => void) {
    const begun = await startSso(gw.url, 'github', '/board');
    const authorize = new URL(begun.authorizationUrl);
    const callback = new URL(gh.approve(authorize.href, login));
    edit?.(callback);
    return { authorize, ...(await finishSso(callback.href, begun.flowCookie)) };
  }

  it('asks GitHub for read:user, user:email and read:org with PKCE (S256) and state, and no nonce', async () => {
    const { authorize } = await signInAs('Octo-Dev');
    assert.equal(authorize.origin + authorize.pathname, `${gh.webUrl}/login/oauth/authorize`);
    assert.equal(authorize.searchParams.get('scope'), 'read:user user:email read:org');
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorize.searchParams.get('state'));
    assert.equal(authorize.searchParams.get('nonce'), null);
    const seen = gh.authorizations.at(-1)!;
    assert.equal(seen.state, authorize.searchParams.get('state'));
    assert.equal(seen.codeChallengeMethod, 'S256');
  });

  it('signs in with the login as username, the verified primary email, and orgs and teams mapped to groups', async () => {
    const { done, session, body } = await signInAs('Octo-Dev');
    assert.equal(done.status, 303, body);
    assert.equal(done.headers.get('location'), '/board');
    assert.ok(session);
    const user = (await gw.store.users.findByUsername('octo-dev'))!;
    assert.equal(user.email, 'octo@acme.example', 'the verified primary address, not the unverified public one');
    assert.equal(user.displayName, 'Octo Dev');
    assert.deepEqual(user.groups, ['analysts', 'staff']);
    assert.equal((await gw.store.sso.listForUser(user.id))[0]!.subject, '4242', 'linked by the numeric id, which survives renames');

    // The code was redeemed with the verifier and the client credentials; the API was called with the token and a User-Agent.
    const tokenRequest = gh.requests.find((r) => r.url === '/web/login/oauth/access_token')!;
    const form = new URLSearchParams(tokenRequest.body);
    assert.match(form.get('code_verifier') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(form.get('client_secret'), SECRET);
    const apiCall = gh.requests.find((r) => r.url === '/api/user')!;
    assert.match(String(apiCall.headers.authorization), /^Bearer gho_/);
    assert.equal(apiCall.headers['user-agent'], 'Dashgate');

    const page = await fetch(`${gw.url}/board`, { headers: { cookie: session } });
    assert.equal(page.status, 200);
    assert.equal(upstream.requests.at(-1)!.headers['x-forwarded-user'], 'octo-dev');
  });

  it('a renamed GitHub login still reaches the same account (the id decides)', async () => {
    const octo = gh.users.get('Octo-Dev')!;
    gh.users.set('Octo-Renamed', { ...octo, login: 'Octo-Renamed' });
    const { done } = await signInAs('Octo-Renamed');
    assert.equal(done.status, 303);
    assert.equal(await gw.store.users.findByUsername('octo-renamed'), null, 'no second account');
  });

  it('reads every page of organisations (Link: rel="next"), so a member of many still gets in', async () => {
    const { done, body } = await signInAs('busy');
    assert.equal(done.status, 303, body);
    assert.ok(gh.requests.some((r) => r.url.startsWith('/api/user/orgs') && r.url.includes('page=2')));
    assert.deepEqual((await gw.store.users.findByUsername('busy'))!.groups, ['staff']);
  });

  it('refuses someone outside the allowed organisation, with a page that says so', async () => {
    const { done, body, session } = await signInAs('outsider');
    assert.equal(done.status, 403);
    assert.match(body, /not in a group that may sign in here/);
    assert.equal(session, null);
    assert.equal(await gw.store.users.findByUsername('outsider'), null);
  });

  it('without a verified primary email the account is made with no email', async () => {
    const { done, body } = await signInAs('unverified');
    assert.equal(done.status, 303, body);
    assert.equal((await gw.store.users.findByUsername('unverified'))!.email, null);
  });

  it('a code GitHub does not know (or a second use) is refused with a clear page', async () => {
    const { done, body, session } = await signInAs('Octo-Dev', (callback) => callback.searchParams.set('code', 'not-a-real-code'));
    assert.equal(done.status, 400, body);
    assert.match(body, /Sign-in with GitHub failed/);
    assert.match(body, /bad_verification_code/);
    assert.equal(session, null);
  });

  it('a wrong state is refused before GitHub is asked anything', async () => {
    const before = gh.requests.filter((r) => r.url.endsWith('/access_token')).length;
    const { done, body } = await signInAs('Octo-Dev', (callback) => callback.searchParams.set('state', 'forged'));
    assert.equal(done.status, 400);
    assert.match(body, /state/);
    assert.equal(gh.requests.filter((r) => r.url.endsWith('/access_token')).length, before);
  });
});
