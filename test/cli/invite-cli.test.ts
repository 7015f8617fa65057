/**
 * `dashgate invite create|list|revoke` and `dashgate users reset-link`, the real CLI in a child
 * process, on the data dir of a running gateway: the printed (and mailed) links are followed over
 * HTTP. The child is spawned asynchronously because it talks to the SMTP server in this process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findOpenInvite } from '../../src/auth/links.js';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream, type TestGateway } from '../helpers/harness.js';
import { linkIn, startMailCatcher } from '../helpers/mail-catcher.js';

const BIN = resolve(import.meta.dirname, '../../bin/dashgate.js');
const DAY = 86_400_000;
const OLD = 'the old passphrase';
const NEW = 'a brand new passphrase';

describe('dashgate invite and users reset-link (the real CLI in a child process)', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let mail: Awaited<ReturnType<typeof startMailCatcher>>;

  before(async () => {
    mail = await startMailCatcher();
    upstream = await startRecordingUpstream();
    gw = await startGateway(upstream.url);
    await createUser(gw.store, 'rita', OLD, { email: 'rita@example.com' });
    await createUser(gw.store, 'noemail', OLD);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await mail.close();
  });

  /** Runs the CLI on the gateway's data dir, with links pointing at the gateway and mail going to the catcher. */
  function dashgate(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env = {
      ...process.env,
      DASHGATE_LOG__LEVEL: 'silent',
      DASHGATE_SERVER__PUBLIC_URL: gw.url,
      DASHGATE_MAIL__SMTP__HOST: '127.0.0.1',
      DASHGATE_MAIL__SMTP__PORT: String(mail.port),
      DASHGATE_MAIL__SMTP__SECURITY: 'none',
    };
    const child = spawn(process.execPath, [BIN, ...args, '--data-dir', gw.gateway.config.data_dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    return new Promise((done, fail) => {
      child.on('error', fail);
      child.on('close', (code) => done({ code, stdout, stderr }));
    });
  }
  const linkLine = (stdout: string, page: string) => {
    const link = new RegExp(`^${gw.url}/_dashgate/${page}\\?token=[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}$`, 'm').exec(stdout)?.[0];
    assert.ok(link, stdout);
    return link;
  };
  const tokenOf = (link: string) => new URL(link).searchParams.get('token')!;
  async function submit(link: string, fields: Record<string, string>) {
    const page = await fetch(link);
    assert.equal(page.status, 200);
    const path = new URL(link).pathname;
    return fetch(`${gw.url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...hiddenFields(await page.text()), ...fields }).toString(),
    });
  }
  const mailsTo = (address: string) => mail.mails.filter((m) => m.to.includes(address));

  let listedId = '';

  it('invite create --no-mail prints a link that opens the invitation page, with the groups and expiry asked for', async () => {
    const before = Date.now();
    const run = await dashgate(['invite', 'create', '--email', 'xavier@example.com', '--groups', 'a,b', '--expires', '2d', '--no-mail']);
    assert.equal(run.code, 0, run.stderr);
    const link = linkLine(run.stdout, 'invite');
    const invite = await findOpenInvite(gw.store, tokenOf(link), Date.now, 'invite');
    assert.ok(invite, 'an open invitation behind the link');
    listedId = invite.id;
    assert.match(run.stdout, new RegExp(`^invitation ${invite.id} for xavier@example\\.com, valid until ${new Date(invite.expiresAt).toISOString()}:$`, 'm'));
    assert.equal(invite.email, 'xavier@example.com');
    assert.deepEqual(invite.groups, ['a', 'b']);
    assert.equal(invite.isAdmin, false);
    assert.equal(invite.createdBy, 'cli');
    assert.ok(invite.expiresAt >= before + 2 * DAY && invite.expiresAt <= Date.now() + 2 * DAY, 'expires in two days');
    assert.ok(!run.stdout.includes('mailed'));
    assert.deepEqual(mailsTo('xavier@example.com'), [], 'the CLI has exited: a mail it sent would be here');

    const page = await fetch(link);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /as <strong>xavier@example\.com<\/strong>/);
    const [audit] = await gw.store.audit.list({ action: 'invite.created' });
    assert.equal(audit?.actor, 'cli');
    assert.equal(audit?.target, 'xavier@example.com');
  });

  it('invite list shows the open invitation, as text and as JSON', async () => {
    const text = await dashgate(['invite', 'list']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^${listedId}  xavier@example\\.com  groups: a,b  expires \\d{4}-\\d\\d-\\d\\dT`, 'm'));
    const json = await dashgate(['invite', 'list', '--json']);
    const rows = JSON.parse(json.stdout) as Array<{ id: string; email: string | null; groups: string[]; admin: boolean; created_by: string }>;
    assert.deepEqual(
      rows.filter((r) => r.id === listedId).map(({ id, email, groups, admin, created_by }) => ({ id, email, groups, admin, created_by })),
      [{ id: listedId, email: 'xavier@example.com', groups: ['a', 'b'], admin: false, created_by: 'cli' }],
    );
  });

  it('invite create mails the printed link when mail is configured; the invitee signs up with it, as an admin', async () => {
    const run = await dashgate(['invite', 'create', '--email', 'yara@example.com', '--groups', 'ops', '--admin']);
    assert.equal(run.code, 0, run.stderr);
    const printed = linkLine(run.stdout, 'invite');
    assert.match(run.stdout, new RegExp(`mailed to yara@example\\.com via smtp://127\\.0\\.0\\.1:${mail.port} \\(none\\)`));
    const [message] = mailsTo('yara@example.com');
    assert.ok(message, 'the mail arrived before the CLI exited');
    assert.equal(message.subject, 'You are invited to Dash app');
    assert.equal(linkIn(message, 'invite'), printed);

    const accepted = await submit(printed, { username: 'yara', password: NEW, password2: NEW });
    assert.equal(accepted.status, 303);
    const yara = await gw.store.users.findByUsername('yara');
    assert.equal(yara?.isAdmin, true);
    assert.deepEqual(yara?.groups, ['admins', 'ops']);
    assert.equal((await fetch(printed)).status, 410);
  });

  it('invite revoke makes the link unusable and drops it from the list; a second revoke is a usage error', async () => {
    const created = await dashgate(['invite', 'create', '--groups', 'temp']);
    assert.equal(created.code, 0, created.stderr);
    const link = linkLine(created.stdout, 'invite');
    assert.match(created.stdout, /^invitation \S+, valid until /m);
    const id = (await findOpenInvite(gw.store, tokenOf(link), Date.now, 'invite'))!.id;
    assert.equal((await fetch(link)).status, 200);
    const fields = hiddenFields(await (await fetch(link)).text());

    const revoked = await dashgate(['invite', 'revoke', id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`revoked invitation ${id}`));
    assert.equal((await fetch(link)).status, 410);
    const late = await fetch(`${gw.url}/_dashgate/invite`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, username: 'late', password: NEW, password2: NEW }).toString(),
    });
    assert.equal(late.status, 410, 'a form opened before the revocation is refused too');
    assert.equal(await gw.store.users.findByUsername('late'), null);
    assert.ok(!(await dashgate(['invite', 'list'])).stdout.includes(id));

    const again = await dashgate(['invite', 'revoke', id]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /no open invitation/);
    assert.equal((await dashgate(['invite', 'revoke', 'no-such-id'])).code, 2);
  });

  it('refuses a bad --expires, a bad address and an address already in use with exit code 2 and one line, creating nothing', async () => {
    const open = (await gw.store.invites.listOpen(Date.now())).length;
    for (const [args, pattern] of [
      [['--expires', '2'], /--expires expects a duration with a unit/],
      [['--expires', 'soon'], /--expires expects a duration/],
      [['--expires', '0d'], /--expires expects a duration/],
      [['--expires', '3y'], /--expires expects a duration/],
      [['--email', 'not-an-email'], /"not-an-email" is not an email address/],
      [['--email', 'a@b'], /is not an email address/],
      [['--email', 'two words@example.com'], /is not an email address/],
      [['--email', 'RITA@example.com'], /[Aa]n account with RITA@example\.com already exists/],
    ] as const) {
      const run = await dashgate(['invite', 'create', '--no-mail', ...args]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.equal(run.stdout, '', 'no link printed');
    }
    assert.equal((await gw.store.invites.listOpen(Date.now())).length, open);
  });

  it('users reset-link prints a link that sets a new password once and ends every session', async () => {
    const session = await signIn(gw.url, 'rita', OLD);
    const run = await dashgate(['users', 'reset-link', 'Rita']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^reset link for rita, valid until \S+, once:$/m);
    const link = linkLine(run.stdout, 'reset');
    assert.deepEqual(mailsTo('rita@example.com'), [], 'not mailed without --mail');

    const done = await submit(link, { password: NEW, password2: NEW });
    assert.equal(done.status, 303);
    assert.equal((await fetch(`${gw.url}/data`, { headers: { cookie: session, accept: 'application/json' } })).status, 401);
    assert.ok(await signIn(gw.url, 'rita', NEW));
    await assert.rejects(signIn(gw.url, 'rita', OLD));
    assert.equal((await fetch(link)).status, 410);
    assert.equal((await gw.store.audit.list({ action: 'password.reset_link' }))[0]?.target, 'rita');
  });

  it('users reset-link --mail mails the printed link; a newer link voids the older', async () => {
    const older = linkLine((await dashgate(['users', 'reset-link', 'rita'])).stdout, 'reset');
    const run = await dashgate(['users', 'reset-link', 'rita', '--mail']);
    assert.equal(run.code, 0, run.stderr);
    const printed = linkLine(run.stdout, 'reset');
    assert.match(run.stdout, /mailed to rita@example\.com via smtp:/);
    const [message] = mailsTo('rita@example.com');
    assert.equal(message?.subject, 'Reset your Dash app password');
    assert.equal(linkIn(message!, 'reset'), printed);
    assert.equal((await fetch(older)).status, 410);
    assert.equal((await fetch(printed)).status, 200);
  });

  it('users reset-link refuses unknown and disabled users, and --mail without an address, with exit code 2', async () => {
    const unknown = await dashgate(['users', 'reset-link', 'nobody']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no user "nobody"/);
    assert.equal(unknown.stdout, '');

    const dora = await createUser(gw.store, 'dora', OLD, { email: 'dora@example.com' });
    await gw.store.users.setStatus(dora.id, 'disabled');
    const disabled = await dashgate(['users', 'reset-link', 'dora']);
    assert.equal(disabled.code, 2);
    assert.match(disabled.stderr, /"dora" is disabled; enable the account first/);

    const noEmail = await dashgate(['users', 'reset-link', 'noemail', '--mail']);
    assert.equal(noEmail.code, 2);
    assert.match(noEmail.stderr, /"noemail" has no email address/);
  });

  // Regression: the "--mail but no address" check ran after the link was made and printed: exit 2
  // (nothing done, said the exit code) yet a working link was printed and the user's earlier link voided.
  it('regression: users reset-link --mail for an account without an address fails before making a link', async () => {
    const earlier = linkLine((await dashgate(['users', 'reset-link', 'noemail'])).stdout, 'reset');
    const run = await dashgate(['users', 'reset-link', 'noemail', '--mail']);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '', 'no link printed by a command that failed');
    assert.equal((await fetch(earlier)).status, 200, 'the link handed out before still works');
  });
});
