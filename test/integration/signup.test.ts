import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import type { ConfigInput } from '../../src/config/schema.js';
import { createUser, hiddenFields, signIn, startGateway, startRecordingUpstream } from '../helpers/harness.js';
import { tableRows } from '../helpers/html.js';

const PASSWORD = 'a sign-up passphrase';

async function withGateway(config: ConfigInput, work: (gw: Awaited<ReturnType<typeof startGateway>>) => Promise<void>): Promise<void> {
  const upstream = await startRecordingUpstream();
  const gw = await startGateway(upstream.url, config);
  try {
    await work(gw);
  } finally {
    await gw.close();
    await upstream.close();
  }
}

/** Links in the outbox (no SMTP configured), newest last, to one address. */
async function mailedLinks(dataDir: string, to: string): Promise<string[]> {
  const dir = join(dataDir, 'outbox');
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();
  } catch {
    return [];
  }
  const links: string[] = [];
  for (const file of files) {
    const mail = await simpleParser(readFileSync(join(dir, file)));
    const addressed = (Array.isArray(mail.to) ? mail.to : mail.to ? [mail.to] : []).some((a) => a.text.includes(to));
    const link = /https?:\/\/\S+\/_dashgate\/verify\?token=\S+/.exec(mail.text ?? '')?.[0];
    if (addressed && link) links.push(link);
  }
  return links;
}

async function waitForLinks(dataDir: string, to: string, count: number): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const links = await mailedLinks(dataDir, to);
    if (links.length >= count) return links;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`expected ${count} mail(s) to ${to}`);
}

async function signUp(url: string, fields: Record<string, string>, options: { csrf?: boolean } = {}) {
  const form = hiddenFields(await (await fetch(`${url}/_dashgate/signup`)).text());
  return fetch(`${url}/_dashgate/signup`, {
    method: 'POST',
    redirect: 'manual',
    headers: { origin: url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...(options.csrf === false ? {} : { csrf: form.csrf! }), password: PASSWORD, password2: PASSWORD, ...fields }).toString(),
  });
}

async function confirm(link: string) {
  const page = await fetch(link);
  assert.equal(page.status, 200);
  const fields = hiddenFields(await page.text());
  const origin = new URL(link).origin;
  return fetch(`${origin}/_dashgate/verify`, { method: 'POST', redirect: 'manual', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
}

describe('self-service sign-up', () => {
  it('is closed by default: no sign-up page, no link on the login page', async () => {
    await withGateway({}, async (gw) => {
      assert.equal((await fetch(`${gw.url}/_dashgate/signup`)).status, 404);
      assert.ok(!(await (await fetch(`${gw.url}/_dashgate/login`)).text()).includes('Create an account'));
    });
  });

  it('domain mode: only allowed domains; the account works after the address is confirmed, once', async () => {
    await withGateway({ signup: { mode: 'domain', allowed_domains: ['example.com'] } }, async (gw) => {
      const dataDir = gw.gateway.config.data_dir;
      assert.match(await (await fetch(`${gw.url}/_dashgate/login`)).text(), /Create an account/);
      const wrong = await signUp(gw.url, { username: 'eve', email: 'eve@evil.example' });
      assert.equal(wrong.status, 400);
      assert.match(await wrong.text(), /open to addresses at example\.com/);
      assert.equal((await signUp(gw.url, { username: 'nina', email: 'nina@example.com' }, { csrf: false })).status, 403);

      const ok = await signUp(gw.url, { username: 'nina', email: 'Nina@Example.com' });
      assert.equal(ok.status, 200);
      const okBody = await ok.text();
      assert.match(okBody, /Check your email/);
      const nina = await gw.store.users.findByUsername('nina');
      assert.equal(nina!.status, 'pending');
      await assert.rejects(signIn(gw.url, 'nina', PASSWORD), 'a pending account cannot sign in');

      const [link] = await waitForLinks(dataDir, 'nina@example.com', 1);
      assert.equal((await gw.store.users.findByUsername('nina'))!.status, 'pending', 'opening the link (GET) changes nothing');
      const confirmed = await confirm(link!);
      assert.equal(confirmed.status, 303);
      assert.equal(confirmed.headers.get('location'), '/');
      assert.match(confirmed.headers.get('set-cookie') ?? '', /dashgate_session=/);
      assert.equal((await gw.store.users.findByUsername('nina'))!.status, 'active');
      assert.equal((await fetch(link!)).status, 410, 'single use');

      // An address already in use: the same answer, and no mail.
      const again = await signUp(gw.url, { username: 'nina2', email: 'nina@example.com' });
      assert.equal(again.status, 200);
      assert.equal(await again.text(), okBody);
      await new Promise((done) => setTimeout(done, 200));
      assert.equal((await mailedLinks(dataDir, 'nina@example.com')).length, 1);
      assert.equal(await gw.store.users.findByUsername('nina2'), null);

      const log = await gw.store.audit.list({ user: 'nina' });
      for (const action of ['signup.created', 'signup.verified', 'signup.approved']) assert.ok(log.some((e) => e.action === action), action);
    });
  });

  it('open mode: a confirmed account waits for an administrator, who approves or rejects it', async () => {
    await withGateway({ signup: { mode: 'open' } }, async (gw) => {
      const dataDir = gw.gateway.config.data_dir;
      await createUser(gw.store, 'root', PASSWORD, { isAdmin: true, groups: ['admins'] });
      const root = await signIn(gw.url, 'root', PASSWORD);
      assert.equal((await signUp(gw.url, { username: 'omar', email: 'omar@anywhere.example' })).status, 200);
      assert.equal((await signUp(gw.url, { username: 'olga', email: 'olga@anywhere.example' })).status, 200);
      const [link] = await waitForLinks(dataDir, 'omar@anywhere.example', 1);
      const confirmed = await confirm(link!);
      assert.equal(confirmed.status, 200);
      assert.match(await confirmed.text(), /An administrator will now approve your account/);
      assert.equal((await gw.store.users.findByUsername('omar'))!.status, 'pending');
      await assert.rejects(signIn(gw.url, 'omar', PASSWORD));

      const page = await (await fetch(`${gw.url}/_dashgate/admin/signups`, { headers: { cookie: root } })).text();
      const rows = tableRows(page).map((cells) => cells.slice(0, 3));
      assert.deepEqual(rows.find((r) => r[0] === 'omar'), ['omar', 'omar@anywhere.example', 'yes']);
      assert.deepEqual(rows.find((r) => r[0] === 'olga'), ['olga', 'olga@anywhere.example', 'not yet']);
      const csrf = hiddenFields(page).csrf!;
      const decide = (verb: string, username: string) =>
        gw.store.users.findByUsername(username).then((u) =>
          fetch(`${gw.url}/_dashgate/admin/signups/${verb}`, {
            method: 'POST',
            redirect: 'manual',
            headers: { cookie: root, origin: gw.url, 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ csrf, id: u!.id }).toString(),
          }),
        );
      assert.equal((await decide('approve', 'omar')).status, 303);
      assert.ok(await signIn(gw.url, 'omar', PASSWORD));
      assert.equal((await decide('reject', 'olga')).status, 303);
      assert.equal(await gw.store.users.findByUsername('olga'), null);
      assert.equal((await decide('approve', 'omar')).status, 404, 'already decided');
    });
  });

  it('open mode with auto_approve: confirming the address signs the user in', async () => {
    await withGateway({ signup: { mode: 'open', auto_approve: true } }, async (gw) => {
      assert.equal((await signUp(gw.url, { username: 'ada', email: 'ada@anywhere.example' })).status, 200);
      const [link] = await waitForLinks(gw.gateway.config.data_dir, 'ada@anywhere.example', 1);
      const confirmed = await confirm(link!);
      assert.equal(confirmed.status, 303);
      assert.equal((await gw.store.users.findByUsername('ada'))!.status, 'active');
    });
  });

  it('refuses a domain mode without domains, with the setting\'s path', async () => {
    const upstream = await startRecordingUpstream();
    try {
      await assert.rejects(startGateway(upstream.url, { signup: { mode: 'domain' } }), /signup\.allowed_domains: mode "domain" needs at least one domain/);
    } finally {
      await upstream.close();
    }
  });
});
