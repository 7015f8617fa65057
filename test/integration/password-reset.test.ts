import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createInvite } from '../../src/auth/links.js';
import { testClock } from '../helpers/clock.js';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';
import { linkIn, startMailCatcher } from '../helpers/mail-catcher.js';

const OLD = 'the old passphrase';
const NEW = 'a brand new passphrase';

/** Password reset and invitations with mail delivered to a real SMTP server, links taken from the messages. */
describe('password reset and invitations by mail', () => {
  let mail: Awaited<ReturnType<typeof startMailCatcher>>;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  const clock = testClock(Date.now());

  before(async () => {
    mail = await startMailCatcher();
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url, { mail: { from: 'Dash <dash@example.com>', smtp: { host: '127.0.0.1', port: mail.port, security: 'none' } }, branding: { app_name: 'Payroll' } }, { now: clock.now });
    await createUser(gw.store, 'rita', OLD, { email: 'rita@example.com' });
    await createUser(gw.store, 'noemail', OLD);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await mail.close();
  });

  async function form(path: string, fields: Record<string, string>) {
    return fetch(`${gw.url}/_dashgate/${path}`, { method: 'POST', redirect: 'manual', headers: { origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  }
  async function forgot(login: string) {
    const csrf = hiddenFields(await (await fetch(`${gw.url}/_dashgate/forgot`)).text()).csrf!;
    const res = await form('forgot', { csrf, login });
    return { status: res.status, body: await res.text() };
  }
  async function resetWith(link: string, password: string) {
    const page = await fetch(link);
    if (page.status !== 200) return page.status;
    const fields = hiddenFields(await page.text());
    return (await form('reset', { ...fields, password, password2: password })).status;
  }
  const json = (cookie: string) => fetch(`${gw.url}/data`, { headers: { cookie, accept: 'application/json' } }).then((r) => r.status);

  it('answers the same for an account, an unknown name and an account without email; only the account gets mail', async () => {
    const real = await forgot('rita');
    const unknown = await forgot('nobody-here');
    const noEmail = await forgot('noemail');
    assert.equal(real.status, 200);
    assert.deepEqual(unknown, real);
    assert.deepEqual(noEmail, real);
    const [message] = await mail.waitFor('rita@example.com');
    assert.equal(message!.subject, 'Reset your Payroll password');
    assert.ok(!message!.text.includes(OLD), 'no password in the mail');
    assert.match(message!.html, /Choose a new password/);
    await new Promise((done) => setTimeout(done, 100));
    assert.deepEqual(mail.mails.map((m) => m.to[0]), ['rita@example.com'], 'nobody else got mail');
  });

  it('the link sets a new password once, ends every session, and the old password stops working', async () => {
    const laptop = await signIn(gw.url, 'rita', OLD);
    const phone = await signIn(gw.url, 'rita', OLD);
    const [message] = await mail.waitFor('rita@example.com');
    const link = linkIn(message!, 'reset');
    const tampered = link.replace(/token=([^.]+)\.(.)/, (_m, id: string, c: string) => `token=${id}.${c === 'A' ? 'B' : 'A'}`);
    assert.equal(await resetWith(tampered, NEW), 410);
    assert.equal(await resetWith(link, 'short'), 400, 'the password policy applies');
    assert.equal(await resetWith(link, NEW), 303);
    assert.equal(await json(laptop), 401);
    assert.equal(await json(phone), 401);
    await assert.rejects(signIn(gw.url, 'rita', OLD));
    assert.ok(await signIn(gw.url, 'rita', NEW));
    assert.equal(await resetWith(link, 'yet another passphrase'), 410, 'single use');
  });

  it('a newer link voids the older one, and links expire after 30 minutes', async () => {
    // Each request's mail is awaited before the next request: they travel on separate connections.
    await forgot('rita@example.com');
    await mail.waitFor('rita@example.com', 2);
    await forgot('rita');
    const mails = await mail.waitFor('rita@example.com', 3);
    const [older, newer] = [linkIn(mails[1]!, 'reset'), linkIn(mails[2]!, 'reset')];
    assert.equal((await fetch(older)).status, 410);
    assert.equal((await fetch(newer)).status, 200);
    clock.advance(31 * 60_000);
    assert.equal((await fetch(newer)).status, 410);
  });

  it('an invitation mailed from the admin console arrives and can be used once', async () => {
    await createUser(gw.store, 'boss', OLD, { isAdmin: true, groups: ['admins'] });
    const boss = await signIn(gw.url, 'boss', OLD);
    const csrf = hiddenFields(await (await fetch(`${gw.url}/_dashgate/admin/users`, { headers: { cookie: boss } })).text()).csrf!;
    const res = await fetch(`${gw.url}/_dashgate/admin/invites`, {
      method: 'POST',
      headers: { cookie: boss, origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, email: 'ivy@example.com', groups: 'hr', expires: '1d' }).toString(),
    });
    assert.match(await res.text(), /The invitation was sent to ivy@example\.com/);
    const [message] = await mail.waitFor('ivy@example.com');
    assert.equal(message!.subject, 'You are invited to Payroll');
    assert.match(message!.text, /boss invited you/);
    const link = linkIn(message!, 'invite');
    const fields = hiddenFields(await (await fetch(link)).text());
    const accepted = await form('invite', { ...fields, username: 'ivy', password: NEW, password2: NEW });
    assert.equal(accepted.status, 303);
    const ivy = await gw.store.users.findByUsername('ivy');
    assert.deepEqual(ivy!.groups, ['hr']);
    assert.equal(ivy!.email, 'ivy@example.com');
    assert.equal((await fetch(link)).status, 410);
  });

  it('expired and revoked invitations are refused', async () => {
    const expiring = await createInvite(gw.store, clock.now, { email: null, groups: [], isAdmin: false, createdBy: 'test', ttlMs: 60_000 });
    const revoked = await createInvite(gw.store, clock.now, { email: null, groups: [], isAdmin: false, createdBy: 'test', ttlMs: 60_000 });
    assert.equal((await fetch(`${gw.url}/_dashgate/invite?token=${expiring.token}`)).status, 200);
    await gw.store.invites.revoke(revoked.invite.id, clock.now());
    assert.equal((await fetch(`${gw.url}/_dashgate/invite?token=${revoked.token}`)).status, 410);
    clock.advance(61_000);
    assert.equal((await fetch(`${gw.url}/_dashgate/invite?token=${expiring.token}`)).status, 410);
  });

  // Last: it uses up the address's reset allowance.
  it('asking for resets does not slow down signing in from the same address (regression: they shared a counter)', async () => {
    for (let i = 0; i < 25; i++) await forgot(`someone-${i}`);
    assert.ok(await signIn(gw.url, 'noemail', OLD), 'a right password still signs in at once');
  });
});
