import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isLastActiveAdmin } from '../auth/admins.js';
import { isSameOriginRequest } from '../auth/csrf.js';
import { createInvite, createResetToken, gatewayLink } from '../auth/links.js';
import { canonicalUsername } from '../auth/usernames.js';
import { parseDuration } from '../config/duration.js';
import { inviteMessage, resetMessage } from '../mail/messages.js';
import type { Identity } from '../pipeline/identify.js';
import { groupNameProblem } from '../store/groups.js';
import type { User } from '../store/types.js';
import {
  auditCsv,
  PAGE_SIZE,
  renderAuditPage,
  renderGroupPage,
  renderGroupsPage,
  renderInvitesPage,
  renderSessionsPage,
  renderSignupsPage,
  renderUserPage,
  renderUsersPage,
  type AdminFrame,
  type AuditFilter,
} from './admin-pages.js';
import { formField, type WebContext } from './context.js';
import { sendPage } from './login-routes.js';
import { renderMessagePage } from './pages.js';
import { enrolPath, mustEnrolFirst } from './second-factor-guard.js';

type Admin = Extract<Identity, { kind: 'user' }>;
type Extra = Omit<Partial<AdminFrame>, 'csrf' | 'admin'>;

const EMAIL = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;
const INVITE_EXPIRIES = new Set(['1d', '7d', '30d', '90d']);
const DONE: Record<string, string> = {
  status: 'Status changed. A disabled user is signed out everywhere.',
  admin: 'Role changed.',
  groups: 'Groups saved. They apply to the user’s next request.',
  sessions: 'Signed out.',
  mfa: 'Two-factor sign-in was reset: the user signs in with the password alone and can enrol again.',
  deleted: 'User deleted.',
  sso_unlinked: 'The single sign-on link was removed: that provider account no longer signs in as this user (a new link follows the provider’s rules at its next sign-in).',
  group: 'Group saved.',
  revoked: 'Invitation revoked.',
  approved: 'Approved: the account can sign in now.',
  rejected: 'Rejected: the account is deleted.',
};

/**
 * `/_dashgate/admin`: users, groups, invitations, sessions and the audit log, for administrators
 * only. Server-rendered, no JavaScript; every change is a POST with the admin session's CSRF token
 * from the same origin, and every change is audited with the admin as actor.
 */
export function registerAdminRoutes(app: FastifyInstance, ctx: WebContext): void {
  const base = `${ctx.prefix}/admin`;

  /** The signed-in admin, or null after answering: anonymous → sign in, others → 403. */
  async function requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<Admin | null> {
    const identity = await ctx.identify(request);
    if (identity.kind !== 'user') {
      const next = request.method === 'GET' ? request.url : base;
      await reply.redirect(`${ctx.prefix}/login?next=${encodeURIComponent(next)}`, 303);
      return null;
    }
    if (!identity.user.isAdmin) {
      await sendPage(reply, 403, renderMessagePage(ctx.branding, { title: 'Administrators only', message: 'This part of the gateway is for administrators.', action: { href: '/', label: `Back to ${ctx.branding.appName}` } }));
      return null;
    }
    if (await mustEnrolFirst(ctx, identity)) {
      // The policy covers this administrator and they have no factor: the console waits until they set one up.
      if (request.method === 'GET' || request.method === 'HEAD') await reply.redirect(enrolPath(ctx), 303);
      else await sendPage(reply, 403, renderMessagePage(ctx.branding, { title: 'Set up two-factor sign-in first', message: 'Two-factor sign-in is required for administrators here. Set it up on your account page, then come back.', action: { href: enrolPath(ctx), label: 'Set it up' } }));
      return null;
    }
    return identity;
  }

  /** requireAdmin plus CSRF and same-origin checks, for every POST. */
  async function requireAdminForm(request: FastifyRequest, reply: FastifyReply): Promise<Admin | null> {
    const admin = await requireAdmin(request, reply);
    if (!admin) return null;
    if (isSameOriginRequest(request.raw, ctx.expectedOrigin(request.scope)) && ctx.csrf.verifySessionToken(formField(request.body, 'csrf'), admin.session.id)) return admin;
    await sendPage(reply, 403, renderMessagePage(ctx.branding, { title: 'Request refused', message: 'The form expired or came from another site. Go back, reload the page and try again.', action: { href: base, label: 'Back to the admin console' } }));
    return null;
  }

  const frame = (admin: Admin, extra: Extra = {}): AdminFrame => ({ csrf: ctx.csrf.tokenForSession(admin.session.id), admin: admin.user, ...extra });
  const audit = (admin: Admin, request: FastifyRequest, action: string, target: string | null, detail?: Record<string, unknown>) =>
    ctx.store.audit.record({ action, actor: admin.user.username, target, ip: request.scope.clientIp, ...(detail ? { detail } : {}) });
  const doneInfo = (request: FastifyRequest) => DONE[String((request.query as Record<string, unknown>).done)];
  const pageOf = (request: FastifyRequest) => Math.max(1, Math.min(10_000, Number.parseInt(String((request.query as Record<string, unknown>).page ?? '1'), 10) || 1));
  /** After a user changes: cached sessions and tokens re-read the user on their next request. */
  const forget = (userId: string) => {
    ctx.sessions.forgetUser(userId);
    ctx.apiTokens.forgetUser(userId);
  };

  async function findUser(request: FastifyRequest): Promise<User | null> {
    const id = (request.params as { id?: string }).id ?? '';
    return /^[0-9a-f-]{36}$/.test(id) ? ctx.store.users.findById(id) : null;
  }

  // ---- users --------------------------------------------------------------------------------

  async function showUsers(request: FastifyRequest, reply: FastifyReply, admin: Admin, status: number, extra: Extra = {}) {
    const q = String((request.query as Record<string, unknown>).q ?? '').trim().slice(0, 100);
    const page = pageOf(request);
    const needle = q.toLowerCase();
    const all = (await ctx.store.users.list()).filter(
      (u) => !needle || u.username.includes(needle) || (u.email ?? '').toLowerCase().includes(needle) || (u.displayName ?? '').toLowerCase().includes(needle) || u.groups.some((g) => g.toLowerCase() === needle),
    );
    const users = all.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
    return sendPage(reply, status, renderUsersPage(ctx.branding, frame(admin, { info: doneInfo(request), ...extra }), { users, q, page, hasNext: all.length > page * PAGE_SIZE, total: all.length }));
  }

  app.get(base, async function adminHome(request, reply) {
    if (!(await requireAdmin(request, reply))) return reply;
    return reply.redirect(`${base}/users`, 303);
  });

  app.get(`${base}/users`, async function listUsers(request, reply) {
    const admin = await requireAdmin(request, reply);
    return admin ? showUsers(request, reply, admin, 200) : reply;
  });

  async function showUser(reply: FastifyReply, admin: Admin, user: User, status: number, extra: Extra = {}) {
    const now = ctx.now();
    const sessions = (await ctx.store.sessions.listForUser(user.id)).filter((s) => s.expiresAt > now);
    const twoFactor = (await ctx.store.factors.totp(user.id))?.confirmedAt != null;
    const ssoLinks = await ctx.store.sso.listForUser(user.id);
    return sendPage(reply, status, renderUserPage(ctx.branding, frame(admin, extra), { user, sessions, twoFactor, ssoLinks, lastAdmin: await isLastActiveAdmin(ctx.store, user.id) }));
  }

  app.get(`${base}/users/:id`, async function showOneUser(request, reply) {
    const admin = await requireAdmin(request, reply);
    if (!admin) return reply;
    const user = await findUser(request);
    if (!user) return sendPage(reply, 404, renderMessagePage(ctx.branding, { title: 'No such user', message: 'The user does not exist (any more).', action: { href: `${base}/users`, label: 'All users' } }));
    return showUser(reply, admin, user, 200, { info: doneInfo(request) });
  });

  /** Registers a POST on one user: finds the user (404 otherwise) and runs `change`. */
  function userAction(path: string, change: (request: FastifyRequest, reply: FastifyReply, admin: Admin, user: User) => Promise<unknown>) {
    app.post(`${base}/users/:id${path}`, async (request, reply) => {
      const admin = await requireAdminForm(request, reply);
      if (!admin) return reply;
      const user = await findUser(request);
      if (!user) return sendPage(reply, 404, renderMessagePage(ctx.branding, { title: 'No such user', message: 'The user does not exist (any more).', action: { href: `${base}/users`, label: 'All users' } }));
      return change(request, reply, admin, user);
    });
  }
  const backToUser = (reply: FastifyReply, user: User, done: string) => reply.redirect(`${base}/users/${user.id}?done=${done}`, 303);
  const lastAdminRefusal = (reply: FastifyReply, admin: Admin, user: User) => showUser(reply, admin, user, 409, { error: 'This is the last active administrator. Make another user an administrator first.' });

  userAction('/status', async (request, reply, admin, user) => {
    const status = formField(request.body, 'status');
    if (status !== 'active' && status !== 'disabled') return showUser(reply, admin, user, 400, { error: 'Unknown status.' });
    if (status === 'disabled' && (await isLastActiveAdmin(ctx.store, user.id))) return lastAdminRefusal(reply, admin, user);
    await ctx.store.users.setStatus(user.id, status);
    if (status === 'disabled') await ctx.sessions.invalidateUserSessions(user.id);
    forget(user.id);
    await audit(admin, request, status === 'disabled' ? 'user.disabled' : 'user.enabled', user.username);
    return backToUser(reply, user, 'status');
  });

  userAction('/admin', async (request, reply, admin, user) => {
    const makeAdmin = formField(request.body, 'admin') === '1';
    if (!makeAdmin && (await isLastActiveAdmin(ctx.store, user.id))) return lastAdminRefusal(reply, admin, user);
    await ctx.store.users.setAdmin(user.id, makeAdmin);
    const groups = makeAdmin ? [...new Set([...user.groups, 'admins'])] : user.groups.filter((g) => g !== 'admins');
    await ctx.store.users.setGroups(user.id, groups);
    forget(user.id);
    await audit(admin, request, makeAdmin ? 'user.admin_granted' : 'user.admin_revoked', user.username);
    return backToUser(reply, user, 'admin');
  });

  userAction('/groups', async (request, reply, admin, user) => {
    const groups = [...new Set(formField(request.body, 'groups').split(',').map((g) => g.trim()).filter(Boolean))];
    const problem = groups.map(groupNameProblem).find((p) => p !== null);
    if (problem) return showUser(reply, admin, user, 400, { error: problem });
    // The admins group follows the administrator role (set above), not this field.
    const kept = user.isAdmin ? [...new Set([...groups, 'admins'])] : groups.filter((g) => g !== 'admins');
    await ctx.store.users.setGroups(user.id, kept);
    forget(user.id);
    await audit(admin, request, 'user.groups_set', user.username, { from: user.groups, to: kept });
    return backToUser(reply, user, 'groups');
  });

  userAction('/reset-link', async (request, reply, admin, user) => {
    if (user.status !== 'active') return showUser(reply, admin, user, 400, { error: 'Enable the account first.' });
    const mail = formField(request.body, 'mail') === '1';
    if (mail && !user.email) return showUser(reply, admin, user, 400, { error: 'This user has no email address.' });
    const { token, expiresAt } = await createResetToken(ctx.store, ctx.now, user);
    const link = gatewayLink(ctx.linkBase(), ctx.prefix, 'reset', token);
    await audit(admin, request, 'password.reset_link', user.username, { mailed: mail });
    if (mail) {
      await ctx.mailer.send(resetMessage({ appName: ctx.branding.appName, to: user.email!, link, username: user.username, expiresAt }));
      return showUser(reply, admin, user, 200, { info: `A reset link was sent to ${user.email}. It works once, for 30 minutes.` });
    }
    return showUser(reply, admin, user, 200, { link: { label: `Password reset link for ${user.username}, valid 30 minutes.`, url: link } });
  });

  userAction('/mfa-reset', async (request, reply, admin, user) => {
    await ctx.store.factors.removeAll(user.id);
    ctx.secondFactor.forget(user.id);
    await audit(admin, request, 'mfa.reset', user.username);
    return backToUser(reply, user, 'mfa');
  });

  userAction('/sso/unlink', async (request, reply, admin, user) => {
    const provider = formField(request.body, 'provider');
    const removed = await ctx.store.sso.unlink(provider, user.id);
    if (removed === 0) return showUser(reply, admin, user, 404, { error: 'That link does not exist (any more).' });
    await audit(admin, request, 'sso.unlinked', user.username, { provider });
    return backToUser(reply, user, 'sso_unlinked');
  });

  userAction('/sessions/revoke', async (request, reply, admin, user) => {
    const ended = await ctx.sessions.invalidateUserSessions(user.id, user.id === admin.user.id ? admin.session.id : undefined);
    await audit(admin, request, 'session.revoked', user.username, { count: ended, by: 'admin' });
    return backToUser(reply, user, 'sessions');
  });

  userAction('/delete', async (request, reply, admin, user) => {
    if (canonicalUsername(formField(request.body, 'confirm')) !== user.username) return showUser(reply, admin, user, 400, { error: `Type “${user.username}” to confirm.` });
    if (await isLastActiveAdmin(ctx.store, user.id)) return lastAdminRefusal(reply, admin, user);
    await ctx.sessions.invalidateUserSessions(user.id);
    await ctx.store.users.remove(user.id);
    forget(user.id);
    await audit(admin, request, 'user.deleted', user.username);
    return reply.redirect(`${base}/users?done=deleted`, 303);
  });

  // ---- invitations --------------------------------------------------------------------------

  app.post(`${base}/invites`, async function invite(request, reply) {
    const admin = await requireAdminForm(request, reply);
    if (!admin) return reply;
    const body = request.body;
    const email = formField(body, 'email').trim() || null;
    const groups = [...new Set(formField(body, 'groups').split(',').map((g) => g.trim()).filter(Boolean))];
    const expires = formField(body, 'expires');
    const isAdmin = formField(body, 'admin') === '1';
    const problem =
      (email !== null && !EMAIL.test(email) ? 'That email address is not valid.' : null) ??
      groups.map(groupNameProblem).find((p) => p !== null) ??
      (!INVITE_EXPIRIES.has(expires) ? 'Choose how long the link works.' : null) ??
      (email !== null && (await ctx.store.users.findByEmail(email)) ? `An account with ${email} already exists.` : null);
    if (problem) return showUsers(request, reply, admin, 400, { error: problem });
    const { token, invite: created } = await createInvite(ctx.store, ctx.now, { email, groups, isAdmin, createdBy: admin.user.username, ttlMs: parseDuration(expires)! });
    const link = gatewayLink(ctx.linkBase(), ctx.prefix, 'invite', token);
    await audit(admin, request, 'invite.created', email, { id: created.id, groups, admin: isAdmin, expires_at: created.expiresAt });
    let info: string | undefined;
    if (email) {
      try {
        await ctx.mailer.send(inviteMessage({ appName: ctx.branding.appName, to: email, link, invitedBy: admin.user.displayName ?? admin.user.username, expiresAt: created.expiresAt }));
        info = `The invitation was sent to ${email}.`;
      } catch (err) {
        request.log.error({ err, to: email }, 'invitation mail failed');
        info = `The invitation could not be mailed to ${email}; pass the link on yourself.`;
      }
    }
    return showInvites(reply, admin, 200, { info, link: { label: `Invitation link${email ? ` for ${email}` : ''}.`, url: link } });
  });

  async function showInvites(reply: FastifyReply, admin: Admin, status: number, extra: Extra = {}) {
    return sendPage(reply, status, renderInvitesPage(ctx.branding, frame(admin, extra), { invites: await ctx.store.invites.listOpen(ctx.now()) }));
  }

  app.get(`${base}/invites`, async function listInvites(request, reply) {
    const admin = await requireAdmin(request, reply);
    return admin ? showInvites(reply, admin, 200, { info: doneInfo(request) }) : reply;
  });

  app.post(`${base}/invites/revoke`, async function revokeInvite(request, reply) {
    const admin = await requireAdminForm(request, reply);
    if (!admin) return reply;
    const id = formField(request.body, 'id');
    if (!(await ctx.store.invites.revoke(id, ctx.now()))) return showInvites(reply, admin, 404, { error: 'That invitation was already used, revoked or expired.' });
    await audit(admin, request, 'invite.revoked', null, { id });
    return reply.redirect(`${base}/invites?done=revoked`, 303);
  });

  // ---- sign-ups ----------------------------------------------------------------------------

  async function showSignups(reply: FastifyReply, admin: Admin, status: number, extra: Extra = {}) {
    const pending = (await ctx.store.users.list()).filter((u) => u.status === 'pending');
    const verified = await ctx.store.emailTokens.usedBy('verify', pending.map((u) => u.id));
    return sendPage(reply, status, renderSignupsPage(ctx.branding, frame(admin, extra), { pending: pending.map((user) => ({ user, verified: verified.has(user.id) })), mode: ctx.signup.mode }));
  }

  app.get(`${base}/signups`, async function listSignups(request, reply) {
    const admin = await requireAdmin(request, reply);
    return admin ? showSignups(reply, admin, 200, { info: doneInfo(request) }) : reply;
  });

  for (const verb of ['approve', 'reject'] as const) {
    app.post(`${base}/signups/${verb}`, async (request, reply) => {
      const admin = await requireAdminForm(request, reply);
      if (!admin) return reply;
      const user = await ctx.store.users.findById(formField(request.body, 'id'));
      if (!user || user.status !== 'pending') return showSignups(reply, admin, 404, { error: 'That sign-up was already decided.' });
      if (verb === 'approve') await ctx.store.users.setStatus(user.id, 'active');
      else await ctx.store.users.remove(user.id);
      forget(user.id);
      await audit(admin, request, verb === 'approve' ? 'signup.approved' : 'signup.rejected', user.username);
      return reply.redirect(`${base}/signups?done=${verb === 'approve' ? 'approved' : 'rejected'}`, 303);
    });
  }

  // ---- groups -------------------------------------------------------------------------------

  async function showGroups(reply: FastifyReply, admin: Admin, status: number, extra: Extra = {}) {
    return sendPage(reply, status, renderGroupsPage(ctx.branding, frame(admin, extra), { groups: await ctx.store.groups.list() }));
  }

  app.get(`${base}/groups`, async function listGroups(request, reply) {
    const admin = await requireAdmin(request, reply);
    return admin ? showGroups(reply, admin, 200, { info: doneInfo(request) }) : reply;
  });

  app.post(`${base}/groups`, async function createGroup(request, reply) {
    const admin = await requireAdminForm(request, reply);
    if (!admin) return reply;
    const name = formField(request.body, 'name').trim();
    const problem = groupNameProblem(name);
    if (problem) return showGroups(reply, admin, 400, { error: problem });
    if (!(await ctx.store.groups.create(name))) return showGroups(reply, admin, 409, { error: `Group “${name}” already exists.` });
    await audit(admin, request, 'group.created', name);
    return reply.redirect(`${base}/groups?done=group`, 303);
  });

  app.post(`${base}/groups/rename`, async function renameGroup(request, reply) {
    const admin = await requireAdminForm(request, reply);
    if (!admin) return reply;
    const from = formField(request.body, 'from');
    const to = formField(request.body, 'to').trim();
    if (from === 'admins') return showGroups(reply, admin, 400, { error: 'The admins group keeps its name.' });
    const problem = groupNameProblem(to);
    if (problem) return showGroups(reply, admin, 400, { error: problem });
    const members = await ctx.store.groups.members(from);
    if (!(await ctx.store.groups.rename(from, to))) return showGroups(reply, admin, 409, { error: `Cannot rename “${from}” to “${to}”: it does not exist, or the new name is taken.` });
    await forgetMembers(members ?? []);
    await audit(admin, request, 'group.renamed', to, { from });
    return reply.redirect(`${base}/groups?done=group`, 303);
  });

  app.post(`${base}/groups/delete`, async function deleteGroup(request, reply) {
    const admin = await requireAdminForm(request, reply);
    if (!admin) return reply;
    const name = formField(request.body, 'name');
    if (name === 'admins') return showGroups(reply, admin, 400, { error: 'The admins group cannot be deleted.' });
    const members = await ctx.store.groups.members(name);
    if (!(await ctx.store.groups.remove(name))) return showGroups(reply, admin, 404, { error: `No group “${name}”.` });
    await forgetMembers(members ?? []);
    await audit(admin, request, 'group.removed', name);
    return reply.redirect(`${base}/groups?done=group`, 303);
  });

  async function forgetMembers(usernames: readonly string[]) {
    for (const name of usernames) {
      const user = await ctx.store.users.findByUsername(name);
      if (user) forget(user.id);
    }
  }

  async function showGroup(reply: FastifyReply, admin: Admin, name: string, status: number, extra: Extra = {}) {
    const members = await ctx.store.groups.members(name);
    if (members === null) return sendPage(reply, 404, renderMessagePage(ctx.branding, { title: 'No such group', message: `There is no group “${name}”.`, action: { href: `${base}/groups`, label: 'All groups' } }));
    return sendPage(reply, status, renderGroupPage(ctx.branding, frame(admin, extra), { name, members }));
  }

  app.get(`${base}/groups/:name`, async function showOneGroup(request, reply) {
    const admin = await requireAdmin(request, reply);
    return admin ? showGroup(reply, admin, (request.params as { name: string }).name, 200, { info: doneInfo(request) }) : reply;
  });

  for (const verb of ['add', 'remove'] as const) {
    app.post(`${base}/groups/:name/members${verb === 'remove' ? '/remove' : ''}`, async (request, reply) => {
      const admin = await requireAdminForm(request, reply);
      if (!admin) return reply;
      const group = (request.params as { name: string }).name;
      if ((await ctx.store.groups.members(group)) === null) return showGroup(reply, admin, group, 404);
      const user = await ctx.store.users.findByUsername(canonicalUsername(formField(request.body, 'username')));
      if (!user) return showGroup(reply, admin, group, 404, { error: 'No such user.' });
      if (group === 'admins') return showGroup(reply, admin, group, 400, { error: 'Membership of admins follows the administrator role: change it on the user’s page.' });
      const changed = verb === 'add' ? await ctx.store.groups.addMember(group, user.id) : await ctx.store.groups.removeMember(group, user.id);
      if (changed) {
        forget(user.id);
        await audit(admin, request, verb === 'add' ? 'group.grant' : 'group.revoke', user.username, { group });
      }
      return reply.redirect(`${base}/groups/${encodeURIComponent(group)}?done=group`, 303);
    });
  }

  // ---- sessions -----------------------------------------------------------------------------

  app.get(`${base}/sessions`, async function listSessions(request, reply) {
    const admin = await requireAdmin(request, reply);
    if (!admin) return reply;
    const page = pageOf(request);
    const rows = await ctx.store.sessions.listActive(ctx.now(), PAGE_SIZE + 1, (page - 1) * PAGE_SIZE);
    return sendPage(
      reply,
      200,
      renderSessionsPage(ctx.branding, frame(admin, { info: doneInfo(request) }), { sessions: rows.slice(0, PAGE_SIZE), page, hasNext: rows.length > PAGE_SIZE, currentSessionId: admin.session.id }),
    );
  });

  app.post(`${base}/sessions/revoke`, async function revokeSession(request, reply) {
    const admin = await requireAdminForm(request, reply);
    if (!admin) return reply;
    const record = await ctx.store.sessions.findById(formField(request.body, 'id'));
    if (record && record.id !== admin.session.id) {
      await ctx.sessions.invalidateSession(record.id);
      const owner = await ctx.store.users.findById(record.userId);
      await audit(admin, request, 'session.revoked', owner?.username ?? null, { session_ip: record.ip, by: 'admin' });
    }
    return reply.redirect(`${base}/sessions?done=sessions`, 303);
  });

  // ---- audit log ----------------------------------------------------------------------------

  function auditQuery(request: FastifyRequest): { filter: AuditFilter; options: { user?: string; action?: string; from?: number; to?: number } } {
    const q = request.query as Record<string, unknown>;
    const text = (name: string) => String(q[name] ?? '').trim().slice(0, 100);
    const day = (name: string) => (/^\d{4}-\d{2}-\d{2}$/.test(text(name)) ? text(name) : '');
    const filter: AuditFilter = { user: text('user'), action: text('action'), from: day('from'), to: day('to') };
    return {
      filter,
      options: {
        ...(filter.user ? { user: canonicalUsername(filter.user) } : {}),
        ...(filter.action ? { action: filter.action } : {}),
        ...(filter.from ? { from: Date.parse(`${filter.from}T00:00:00Z`) } : {}),
        // "To" includes that whole day.
        ...(filter.to ? { to: Date.parse(`${filter.to}T00:00:00Z`) + 86_400_000 } : {}),
      },
    };
  }

  app.get(`${base}/audit`, async function showAudit(request, reply) {
    const admin = await requireAdmin(request, reply);
    if (!admin) return reply;
    const page = pageOf(request);
    const { filter, options } = auditQuery(request);
    const entries = await ctx.store.audit.list({ ...options, limit: PAGE_SIZE * 2 + 1, offset: (page - 1) * PAGE_SIZE * 2 });
    return sendPage(reply, 200, renderAuditPage(ctx.branding, frame(admin), { entries: entries.slice(0, PAGE_SIZE * 2), filter, page, hasNext: entries.length > PAGE_SIZE * 2 }));
  });

  app.get(`${base}/audit.csv`, async function exportAudit(request, reply) {
    const admin = await requireAdmin(request, reply);
    if (!admin) return reply;
    const { options } = auditQuery(request);
    const entries = await ctx.store.audit.list({ ...options, limit: 100_000 });
    await audit(admin, request, 'audit.exported', null, { entries: entries.length });
    return reply
      .code(200)
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="dashgate-audit-${new Date(ctx.now()).toISOString().slice(0, 10)}.csv"`)
      .send(auditCsv(entries));
  });
}
