import type { GroupSummary } from '../store/groups.js';
import type { AuditEntry, Invite, SessionRecord, User } from '../store/types.js';
import { describeUserAgent, TOKEN_EXPIRY_CHOICES } from './account-pages.js';
import { html, type SafeHtml } from './html.js';
import { notice, renderLayout, type Branding } from './pages.js';

/** What every admin page gets: the CSRF token of the admin's session and one-off messages. */
export interface AdminFrame {
  csrf: string;
  admin: User;
  info?: string | undefined;
  error?: string | undefined;
  /** A link to show once (a new invitation or reset link). */
  link?: { label: string; url: string } | undefined;
}

export type AdminSection = 'users' | 'signups' | 'groups' | 'invites' | 'sessions' | 'audit';

const SECTIONS: ReadonlyArray<[AdminSection, string]> = [
  ['users', 'Users'],
  ['signups', 'Sign-ups'],
  ['groups', 'Groups'],
  ['invites', 'Invitations'],
  ['sessions', 'Sessions'],
  ['audit', 'Audit log'],
];

export const PAGE_SIZE = 25;

const when = (ms: number | null) => (ms === null ? '—' : `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`);

function frame(branding: Branding, section: AdminSection, title: string, f: AdminFrame, body: SafeHtml): string {
  const base = `${branding.prefix}/admin`;
  return renderLayout(
    branding,
    `${title} · Admin`,
    html`<nav class="admin-nav" aria-label="Admin sections">
${SECTIONS.map(([key, label]) => html`<a href="${base}/${key}"${key === section ? html` aria-current="page"` : html``}>${label}</a>`)}
<a href="/" class="admin-nav-app">Back to the app</a>
</nav>
<h1 id="page-title">${title}</h1>
${notice('error', f.error)}${notice('info', f.info)}
${
  f.link
    ? html`<div class="notice notice-info" role="status"><p>${f.link.label} It works once; copy it now.</p><code class="secret" id="new-link">${f.link.url}</code></div>`
    : html``
}
${body}`,
    { wide: true },
  );
}

function csrfField(f: AdminFrame): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${f.csrf}">`;
}

/** A POST button in its own form (works without JavaScript). */
function action(f: AdminFrame, url: string, label: string, fields: Record<string, string> = {}, options: { danger?: boolean; aria?: string } = {}): SafeHtml {
  return html`<form method="post" action="${url}" class="inline-form">${csrfField(f)}${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}<button type="submit" class="button button-small ${options.danger ? 'button-danger' : 'button-secondary'}"${options.aria ? html` aria-label="${options.aria}"` : html``}>${label}</button></form>`;
}

function pager(url: string, params: Record<string, string>, page: number, hasNext: boolean): SafeHtml {
  const link = (p: number) => `${url}?${new URLSearchParams({ ...Object.fromEntries(Object.entries(params).filter(([, v]) => v !== '')), page: String(p) }).toString()}`;
  if (page <= 1 && !hasNext) return html``;
  return html`<nav class="pager" aria-label="Pages">${page > 1 ? html`<a href="${link(page - 1)}" rel="prev">← Previous</a>` : html`<span></span>`}<span class="muted">Page ${page}</span>${hasNext ? html`<a href="${link(page + 1)}" rel="next">Next →</a>` : html`<span></span>`}</nav>`;
}

function expirySelect(id: string, defaultValue: string): SafeHtml {
  const choices = TOKEN_EXPIRY_CHOICES.filter((c) => c.value !== 'never' && c.value !== '365d');
  return html`<select id="${id}" name="expires">${[{ value: '1d', label: '1 day' }, { value: '7d', label: '7 days' }, ...choices].map((c) => html`<option value="${c.value}"${c.value === defaultValue ? html` selected` : html``}>${c.label}</option>`)}</select>`;
}

export function renderUsersPage(branding: Branding, f: AdminFrame, view: { users: readonly User[]; q: string; page: number; hasNext: boolean; total: number }): string {
  const base = `${branding.prefix}/admin`;
  return frame(
    branding,
    'users',
    'Users',
    f,
    html`<form method="get" action="${base}/users" class="row search" role="search">
<div><label for="q">Search by name, email or group</label><input id="q" name="q" type="text" value="${view.q}"></div>
<button type="submit" class="button button-secondary">Search</button>
</form>
<p class="muted">${view.total} user${view.total === 1 ? '' : 's'}${view.q ? html` matching “${view.q}”` : html``}</p>
<table class="table">
<thead><tr><th scope="col">Username</th><th scope="col">Email</th><th scope="col">Groups</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead>
<tbody>
${view.users.map(
  (u) => html`<tr>
<td><a href="${base}/users/${u.id}">${u.username}</a>${u.isAdmin ? html` <span class="tag">admin</span>` : html``}${u.displayName ? html`<br><span class="muted">${u.displayName}</span>` : html``}</td>
<td>${u.email ?? '—'}</td><td>${u.groups.join(', ') || '—'}</td><td>${u.status}</td><td>${when(u.createdAt).slice(0, 10)}</td>
</tr>`,
)}
</tbody></table>
${pager(`${base}/users`, { q: view.q }, view.page, view.hasNext)}

<h2 id="invite-title">Invite someone</h2>
<p class="hint">They get a single-use link to choose a username and a password; you never handle their password.</p>
<form method="post" action="${base}/invites" class="form" aria-labelledby="invite-title">
${csrfField(f)}
<div class="row">
<div><label for="invite-email">Email <span class="optional">(the link is mailed there)</span></label><input id="invite-email" name="email" type="email" autocomplete="off"></div>
<div><label for="invite-groups">Groups <span class="optional">(comma-separated)</span></label><input id="invite-groups" name="groups" type="text" autocomplete="off"></div>
<div><label for="invite-expires">Link works for</label>${expirySelect('invite-expires', '7d')}</div>
</div>
<label class="check"><input type="checkbox" name="admin" value="1"> Administrator</label>
<button type="submit" class="button button-primary">Create invitation</button>
</form>`,
  );
}

export function renderUserPage(
  branding: Branding,
  f: AdminFrame,
  view: { user: User; sessions: readonly SessionRecord[]; lastAdmin: boolean; twoFactor: boolean; ssoLinks?: ReadonlyArray<{ provider: string; subject: string; email: string | null; lastLoginAt: number | null }> },
): string {
  const { user } = view;
  const base = `${branding.prefix}/admin/users/${user.id}`;
  return frame(
    branding,
    'users',
    user.username,
    f,
    html`<dl class="facts">
<dt>Name</dt><dd>${user.displayName ?? '—'}</dd>
<dt>Email</dt><dd>${user.email ?? '—'}</dd>
<dt>Status</dt><dd>${user.status}</dd>
<dt>Role</dt><dd>${user.isAdmin ? 'Administrator' : 'User'}</dd>
<dt>Two-factor</dt><dd>${view.twoFactor ? 'on (authenticator app)' : 'off'}</dd>
<dt>Created</dt><dd>${when(user.createdAt)}</dd>
</dl>
${view.lastAdmin ? html`<p class="notice notice-info">This is the last active administrator: it cannot be disabled, demoted or deleted.</p>` : html``}

<h2>Account</h2>
<div class="actions">
${view.lastAdmin ? html`` : user.status === 'active' ? action(f, `${base}/status`, 'Disable', { status: 'disabled' }) : action(f, `${base}/status`, 'Enable', { status: 'active' })}
${view.lastAdmin ? html`` : user.isAdmin ? action(f, `${base}/admin`, 'Remove administrator', { admin: '0' }) : action(f, `${base}/admin`, 'Make administrator', { admin: '1' })}
${action(f, `${base}/reset-link`, 'Create a password reset link')}
${user.email ? action(f, `${base}/reset-link`, 'Mail a password reset link', { mail: '1' }) : html``}
${view.twoFactor ? action(f, `${base}/mfa-reset`, 'Reset two-factor sign-in') : html``}
</div>

<h2 id="groups-title">Groups</h2>
<form method="post" action="${base}/groups" class="form" aria-labelledby="groups-title">
${csrfField(f)}
<label for="user-groups">Groups <span class="optional">(comma-separated; new names create groups)</span></label>
<input id="user-groups" name="groups" type="text" value="${user.groups.join(', ')}" autocomplete="off">
<button type="submit" class="button button-primary">Save groups</button>
</form>

${
  view.ssoLinks && view.ssoLinks.length
    ? html`<h2 id="sso-title">Single sign-on</h2>
<table class="table" aria-labelledby="sso-title"><thead><tr><th scope="col">Provider</th><th scope="col">Subject</th><th scope="col">Email there</th><th scope="col">Last sign-in</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead><tbody>
${view.ssoLinks.map((l) => html`<tr><td>${l.provider}</td><td><code>${l.subject}</code></td><td>${l.email ?? '—'}</td><td>${l.lastLoginAt ? when(l.lastLoginAt) : '—'}</td><td>${action(f, `${base}/sso/unlink`, `Unlink ${l.provider}`, { provider: l.provider })}</td></tr>`)}
</tbody></table>`
    : html``
}

<h2 id="sessions-title">Signed-in browsers</h2>
${
  view.sessions.length === 0
    ? html`<p class="muted">None.</p>`
    : html`<table class="table" aria-labelledby="sessions-title"><thead><tr><th scope="col">Device</th><th scope="col">Address</th><th scope="col">Signed in</th><th scope="col">Last seen</th><th scope="col">How</th></tr></thead><tbody>
${view.sessions.map((s) => html`<tr><td>${describeUserAgent(s.userAgent)}</td><td>${s.ip ?? '—'}</td><td>${when(s.createdAt)}</td><td>${when(s.lastSeenAt)}</td><td>${s.authMethod}</td></tr>`)}
</tbody></table>
<div class="actions">${action(f, `${base}/sessions/revoke`, 'Sign out all of them')}</div>`
}

${
  view.lastAdmin
    ? html``
    : html`<h2 id="delete-title">Delete</h2>
<form method="post" action="${base}/delete" class="form" aria-labelledby="delete-title">
${csrfField(f)}
<label for="confirm">Type the username to confirm</label>
<input id="confirm" name="confirm" type="text" autocomplete="off" required>
<button type="submit" class="button button-danger">Delete ${user.username}</button>
</form>`
}`,
  );
}

export function renderGroupsPage(branding: Branding, f: AdminFrame, view: { groups: readonly GroupSummary[] }): string {
  const base = `${branding.prefix}/admin/groups`;
  return frame(
    branding,
    'groups',
    'Groups',
    f,
    html`<table class="table"><thead><tr><th scope="col">Group</th><th scope="col">Members</th><th scope="col">Rename</th><th scope="col"><span class="visually-hidden">Delete</span></th></tr></thead><tbody>
${view.groups.map(
  (g) => html`<tr><td><a href="${base}/${encodeURIComponent(g.name)}">${g.name}</a></td><td>${g.members}</td>
<td><form method="post" action="${base}/rename" class="inline-form row-form">${csrfField(f)}<input type="hidden" name="from" value="${g.name}"><label class="visually-hidden" for="rename-${g.name}">New name for ${g.name}</label><input id="rename-${g.name}" name="to" type="text" required><button type="submit" class="button button-secondary button-small">Rename</button></form></td>
<td>${g.name === 'admins' ? html`` : action(f, `${base}/delete`, 'Delete', { name: g.name }, { danger: true, aria: `Delete group ${g.name}` })}</td></tr>`,
)}
</tbody></table>
<h2 id="new-group-title">New group</h2>
<form method="post" action="${base}" class="form" aria-labelledby="new-group-title">${csrfField(f)}
<label for="group-name">Name</label><input id="group-name" name="name" type="text" required>
<button type="submit" class="button button-primary">Create group</button></form>`,
  );
}

export function renderGroupPage(branding: Branding, f: AdminFrame, view: { name: string; members: readonly string[] }): string {
  const base = `${branding.prefix}/admin/groups/${encodeURIComponent(view.name)}`;
  return frame(
    branding,
    'groups',
    `Group ${view.name}`,
    f,
    html`${
      view.members.length === 0
        ? html`<p class="muted">No members.</p>`
        : html`<table class="table"><thead><tr><th scope="col">Member</th><th scope="col"><span class="visually-hidden">Remove</span></th></tr></thead><tbody>
${view.members.map((m) => html`<tr><td>${m}</td><td>${action(f, `${base}/members/remove`, 'Remove', { username: m }, { aria: `Remove ${m} from ${view.name}` })}</td></tr>`)}
</tbody></table>`
    }
<h2 id="add-member-title">Add a member</h2>
<form method="post" action="${base}/members" class="form" aria-labelledby="add-member-title">${csrfField(f)}
<label for="member">Username</label><input id="member" name="username" type="text" required autocomplete="off">
<button type="submit" class="button button-primary">Add</button></form>`,
  );
}

export function renderSignupsPage(branding: Branding, f: AdminFrame, view: { pending: ReadonlyArray<{ user: User; verified: boolean }>; mode: string }): string {
  const base = `${branding.prefix}/admin/signups`;
  return frame(
    branding,
    'signups',
    'Pending sign-ups',
    f,
    html`<p class="muted">Sign-up mode: <strong>${view.mode}</strong> (signup.mode in dashgate.yaml).</p>
${
  view.pending.length === 0
    ? html`<p class="muted">Nobody is waiting.</p>`
    : html`<table class="table"><thead><tr><th scope="col">Username</th><th scope="col">Email</th><th scope="col">Address confirmed</th><th scope="col">Asked</th><th scope="col"><span class="visually-hidden">Decide</span></th></tr></thead><tbody>
${view.pending.map(
  ({ user, verified }) => html`<tr><td>${user.username}</td><td>${user.email ?? '—'}</td><td>${verified ? 'yes' : 'not yet'}</td><td>${when(user.createdAt)}</td>
<td><div class="actions">${action(f, `${base}/approve`, 'Approve', { id: user.id }, { aria: `Approve ${user.username}` })}${action(f, `${base}/reject`, 'Reject', { id: user.id }, { danger: true, aria: `Reject ${user.username}` })}</div></td></tr>`,
)}
</tbody></table>`
}`,
  );
}

export function renderInvitesPage(branding: Branding, f: AdminFrame, view: { invites: readonly Invite[] }): string {
  const base = `${branding.prefix}/admin/invites`;
  return frame(
    branding,
    'invites',
    'Invitations',
    f,
    html`${
      view.invites.length === 0
        ? html`<p class="muted">No open invitations. Invite people from the Users page.</p>`
        : html`<table class="table"><thead><tr><th scope="col">For</th><th scope="col">Groups</th><th scope="col">By</th><th scope="col">Expires</th><th scope="col"><span class="visually-hidden">Revoke</span></th></tr></thead><tbody>
${view.invites.map((i) => html`<tr><td>${i.email ?? 'anyone with the link'}${i.isAdmin ? html` <span class="tag">admin</span>` : html``}</td><td>${i.groups.join(', ') || '—'}</td><td>${i.createdBy ?? '—'}</td><td>${when(i.expiresAt)}</td><td>${action(f, `${base}/revoke`, 'Revoke', { id: i.id }, { aria: `Revoke the invitation for ${i.email ?? i.id}` })}</td></tr>`)}
</tbody></table>`
    }`,
  );
}

export function renderSessionsPage(branding: Branding, f: AdminFrame, view: { sessions: ReadonlyArray<SessionRecord & { username: string }>; page: number; hasNext: boolean; currentSessionId: string }): string {
  const base = `${branding.prefix}/admin/sessions`;
  return frame(
    branding,
    'sessions',
    'Active sessions',
    f,
    html`<table class="table"><thead><tr><th scope="col">User</th><th scope="col">Device</th><th scope="col">Address</th><th scope="col">Last seen</th><th scope="col"><span class="visually-hidden">Revoke</span></th></tr></thead><tbody>
${view.sessions.map(
  (s) => html`<tr><td>${s.username}</td><td>${describeUserAgent(s.userAgent)}</td><td>${s.ip ?? '—'}</td><td>${when(s.lastSeenAt)}</td><td>${
    s.id === view.currentSessionId ? html`<span class="muted">this browser</span>` : action(f, `${base}/revoke`, 'Sign out', { id: s.id }, { aria: `Sign out ${s.username} on ${describeUserAgent(s.userAgent)}` })
  }</td></tr>`,
)}
</tbody></table>
${pager(base, {}, view.page, view.hasNext)}`,
  );
}

export interface AuditFilter {
  user: string;
  action: string;
  from: string;
  to: string;
}

export function renderAuditPage(branding: Branding, f: AdminFrame, view: { entries: readonly AuditEntry[]; filter: AuditFilter; page: number; hasNext: boolean }): string {
  const base = `${branding.prefix}/admin/audit`;
  const params = { ...view.filter };
  return frame(
    branding,
    'audit',
    'Audit log',
    f,
    html`<form method="get" action="${base}" class="row search" role="search">
<div><label for="audit-user">User</label><input id="audit-user" name="user" type="text" value="${view.filter.user}"></div>
<div><label for="audit-action">Action <span class="optional">(e.g. login. for all sign-in events)</span></label><input id="audit-action" name="action" type="text" value="${view.filter.action}"></div>
<div><label for="audit-from">From</label><input id="audit-from" name="from" type="date" value="${view.filter.from}"></div>
<div><label for="audit-to">To</label><input id="audit-to" name="to" type="date" value="${view.filter.to}"></div>
<button type="submit" class="button button-secondary">Filter</button>
</form>
<p><a href="${base}.csv?${new URLSearchParams(Object.fromEntries(Object.entries(params).filter(([, v]) => v !== ''))).toString()}" download>Export these entries as CSV</a></p>
<table class="table"><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Whom</th><th scope="col">From</th><th scope="col">Details</th></tr></thead><tbody>
${view.entries.map((e) => html`<tr><td>${when(e.at)}</td><td>${e.actor ?? '—'}</td><td>${e.action}</td><td>${e.target ?? '—'}</td><td>${e.ip ?? '—'}</td><td class="detail">${e.detail ? JSON.stringify(e.detail) : ''}</td></tr>`)}
</tbody></table>
${pager(base, params, view.page, view.hasNext)}`,
  );
}

/** RFC 4180 CSV; cells that a spreadsheet would run as a formula are prefixed with "'". */
export function auditCsv(entries: readonly AuditEntry[]): string {
  const cell = (value: string) => {
    const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
    return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const rows = entries.map((e) => [new Date(e.at).toISOString(), e.actor ?? '', e.action, e.target ?? '', e.ip ?? '', e.detail ? JSON.stringify(e.detail) : ''].map(cell).join(','));
  return `${['at', 'actor', 'action', 'target', 'ip', 'detail'].join(',')}\r\n${rows.map((r) => `${r}\r\n`).join('')}`;
}
