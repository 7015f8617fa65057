import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newTotpSecret } from '../../src/auth/totp.js';
import type { User } from '../../src/store/types.js';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';

const PASSWORD = 'second factor policy passphrase';

/**
 * The second-factor policy (`mfa.required`) on the gateway's own pages. The app was guarded, but
 * the admin console and the account page's token form never asked the same question, so a
 * session the policy sends to enrol could still administer the gateway or mint a credential
 * that reaches the app without any factor.
 */
describe('second-factor policy on the gateway’s own pages', () => {
  for (const required of ['admins', 'all'] as const) {
    describe(`mfa.required: ${required}`, () => {
      let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
      let gw: TestGateway;
      let root: User;
      let victim: User;

      before(async () => {
        upstream = await startRecordingUpstream();
        // cache_ttl 0s: a factor set up in the store counts on the next request.
        gw = await startGateway(upstream.url, { mfa: { required }, session: { cache_ttl: '0s' } });
        root = await createUser(gw.store, 'root', PASSWORD, { isAdmin: true, groups: ['admins'] });
        victim = await createUser(gw.store, 'victim', PASSWORD);
      });
      after(async () => {
        await gw.close();
        await upstream.close();
      });

      const get = (path: string, cookie: string) => fetch(`${gw.url}/_dashgate${path}`, { redirect: 'manual', headers: { cookie } });
      const post = (path: string, cookie: string, fields: Record<string, string>) =>
        fetch(`${gw.url}/_dashgate${path}`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
      /** The session's CSRF token, from the account page every signed-in user may open. */
      const csrfOf = async (cookie: string) => hiddenFields(await (await get('/account', cookie)).text()).csrf!;

      it('regression: an administrator without a second factor is sent to set one up instead of reaching the admin console, and cannot make another user admin', async () => {
        const cookie = await signIn(gw.url, 'root', PASSWORD);
        for (const path of ['/admin', '/admin/users', `/admin/users/${victim.id}`, '/admin/audit', '/admin/audit.csv', '/admin/sessions']) {
          const page = await get(path, cookie);
          assert.equal(page.status, 303, `GET ${path}`);
          assert.equal(page.headers.get('location'), '/_dashgate/account?enrol=1', `GET ${path}`);
        }
        const csrf = await csrfOf(cookie);
        const promote = await post(`/admin/users/${victim.id}/admin`, cookie, { csrf, admin: '1' });
        assert.equal(promote.status, 403);
        assert.equal((await gw.store.users.findById(victim.id))!.isAdmin, false, 'the POST made another user admin');
        const disable = await post(`/admin/users/${victim.id}/status`, cookie, { csrf, status: 'disabled' });
        assert.equal(disable.status, 403);
        assert.equal((await gw.store.users.findById(victim.id))!.status, 'active');
        assert.equal((await gw.store.audit.list({ action: 'user.admin_granted' })).length, 0);

        // Enrolment is still open to them, and once a factor exists the console is theirs.
        const setup = await post('/account/totp/setup', cookie, { csrf });
        assert.equal(setup.status, 200, 'the account page still lets them set up a factor');
        await gw.store.factors.startTotp(root.id, await newTotpSecret(), Date.now());
        await gw.store.factors.confirmTotp(root.id, Date.now(), 1);
        assert.equal((await get('/admin/users', cookie)).status, 200);
        await gw.store.factors.removeAll(root.id);
      });

      it('regression: a user the policy covers cannot mint an API token without a second factor, so no Bearer token reaches the app without one', async () => {
        const username = required === 'all' ? 'victim' : 'root';
        const user = required === 'all' ? victim : root;
        const cookie = await signIn(gw.url, username, PASSWORD);
        const csrf = await csrfOf(cookie);
        const minted = await post('/account/tokens', cookie, { csrf, name: 'no factor', expires: 'never' });
        assert.equal(minted.status, 403);
        assert.doesNotMatch(await minted.text(), /dgt_/, 'no token on the page');
        assert.deepEqual(await gw.store.apiTokens.listForUser(user.id), []);
        assert.equal(upstream.requests.length, 0, 'nothing reached the app');

        // What enrolment needs stays open: the TOTP setup and the passkey ceremony.
        assert.equal((await post('/account/totp/setup', cookie, { csrf })).status, 200);
        const passkeyOptions = await fetch(`${gw.url}/_dashgate/account/passkeys/options`, {
          method: 'POST',
          headers: { cookie, origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf }).toString(),
        });
        assert.equal(passkeyOptions.status, 200);

        await gw.store.factors.startTotp(user.id, await newTotpSecret(), Date.now());
        await gw.store.factors.confirmTotp(user.id, Date.now(), 1);
        const withFactor = await post('/account/tokens', cookie, { csrf, name: 'with factor', expires: '30d' });
        assert.equal(withFactor.status, 200);
        const token = /id="new-token">(dgt_[^<]+)</.exec(await withFactor.text())?.[1];
        assert.ok(token);
        assert.equal((await fetch(`${gw.url}/data`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } })).status, 200);
        await gw.store.factors.removeAll(user.id);
      });

      if (required === 'admins') {
        it('a user the policy does not cover still mints tokens with a password-only session', async () => {
          const cookie = await signIn(gw.url, 'victim', PASSWORD);
          const minted = await post('/account/tokens', cookie, { csrf: await csrfOf(cookie), name: 'plain', expires: '30d' });
          assert.equal(minted.status, 200);
          assert.match(await minted.text(), /id="new-token">dgt_/);
        });
      }
    });
  }
});
