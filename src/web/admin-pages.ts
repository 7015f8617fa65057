import type { ApiToken } from '../auth/api-tokens.js';
import type { Passkey } from '../store/factors.js';
import type { GroupSummary } from '../store/groups.js';
import type { AuditEntry, Invite, SessionRecord, User } from '../store/types.js';
import { describeUserAgent, TOKEN_EXPIRY_CHOICES } from './account-pages.js';
import { html, type SafeHtml } from './html.js';
import { auditDetails, auditWho } from './audit-view.js';
import { csrfField as csrfInput, dataTable, pager, postButton, timeAgo } from './components.js';
import { renderConsoleLayout } from './console-layout.js';
import { notice, type Branding } from './pages.js';

const csrfField = (f: AdminFrame) => csrfInput(f.csrf);

/** What every admin page gets: the CSRF token of the admin's session and one-off messages. */
export interface AdminFrame {
  csrf: string;
  admin: User;
  /** The request's time (the injected clock): times are shown relative to it. */
  now: number;
  info?: string | undefined;
  error?: string | undefined;
  /** A link to show once (a new invitation or reset link). */
  link?: { label: string; url: string } | undefined;
}

export type AdminSection = 'dashboard' | 'users' | 'signups' | 'groups' | 'invites' | 'sessions' | 'audit';

const SECTIONS: ReadonlyArray<[AdminSection, string]> = [
  ['dashboard', 'Overview'],
  ['users', 'Users'],
  ['signups', 'Sign-ups'],
  ['groups', 'Groups'],
  ['invites', 'Invitations'],
  ['sessions', 'Sessions'],
  ['audit', 'Audit log'],
];

export const PAGE_SIZE = 25;

/** A console page: the bar with its sections, the title, the one-off notices, then `body`. */
export function frame(branding: Branding, section: AdminSection, title: string, f: AdminFrame, body: SafeHtml): string {
  const base = `${branding.prefix}/admin`;
  return renderConsoleLayout(branding, {
    title: `${title} · Admin`,
    nav: SECTIONS.map(([key, label]) => ({ key, label, href: key === 'dashboard' ? base : `${base}/${key}` })),
    current: section,
    user: f.admin,
    csrf: f.csrf,
    body: html`<h1 id="page-title">${title}</h1>
${notice('error', f.error)}${notice('info', f.info)}
${
  f.link
    ? html`<div class="notice notice-info" role="status"><p>${f.link.label} It works once; copy it now.</p><code class="secret" id="new-link">${f.link.url}</code></div>`
    : html``
}
${body}`,
  });
}

function action(f: AdminFrame, url: string, label: string, fields: Record<string, string> = {}, options: { danger?: boolean; aria?: string } = {}): SafeHtml {
  return postButton(f.csrf, url, label, fields, options);
}

function expirySelect(id: string, value: string): SafeHtml {
  const choices = TOKEN_EXPIRY_CHOICES.filter((c) => c.value !== 'never' && c.value !== '365d');
  return html`<select id="${id}" name="expires">${[{ value: '1d', label: '1 day' }, { value: '7d', label: '7 days' }, ...choices].map((c) => html`<option value="${c.value}"${c.value === value ? html` selected` : html``}>${c.label}</option>`)}</select>`;
}

/** What the invitation form was sent with, shown again when it is refused. */
export interface InviteFormValues {
  email: string;
  groups: string;
  expires: string;
  admin: boolean;
}

/** The users list's query: kept in the search form, the sort links and the pager. */
export interface UserListQuery {
  q: string;
  status: '' | 'active' | 'disabled' | 'pending';
  sort: 'username' | 'email' | 'created' | 'status';
  dir: 'asc' | 'desc';
  page: number;
}

export function renderUsersPage(
  branding: Branding,
  f: AdminFrame,
  view: { users: readonly User[]; query: UserListQuery; groups: readonly string[]; hasNext: boolean; total: number; invite?: InviteFormValues; mailGoesToOutbox?: boolean },
): string {
  const base = `${branding.prefix}/admin`;
  const { query } = view;
  const invite = view.invite ?? { email: '', groups: '', expires: '7d', admin: false };
  const kept = { q: query.q, status: query.status, sort: query.sort === 'username' ? '' : query.sort, dir: query.dir === 'asc' ? '' : query.dir };
  const listUrl = (params: Record<string, string>) => {
    const search = new URLSearchParams(Object.entries({ ...kept, ...params }).filter(([, v]) => v !== '')).toString();
    return `${base}/users${search ? `?${search}` : ''}`;
  };
  const statusOption = (value: string, label: string) => html`<option value="${value}"${query.status === value ? html` selected` : html``}>${label}</option>`;
  return frame(
    branding,
    'users',
    'Users',
    f,
    html`<form method="get" action="${base}/users" class="row search" role="search" aria-label="Find users">
<div><label for="q">Search by name, email or group</label><input id="q" name="q" type="search" value="${query.q}"></div>
<div class="narrow"><label for="status">Status</label><select id="status" name="status">${statusOption('', 'Any')}${statusOption('active', 'Active')}${statusOption('disabled', 'Disabled')}${statusOption('pending', 'Pending')}</select></div>
${query.sort !== 'username' ? html`<input type="hidden" name="sort" value="${query.sort}">` : html``}${query.dir !== 'asc' ? html`<input type="hidden" name="dir" value="${query.dir}">` : html``}
<button type="submit" class="button button-secondary">Search</button>
${query.q || query.status ? html`<a class="clear-link" href="${base}/users">Clear</a>` : html``}
</form>
<p class="muted" id="users-count">${view.total} user${view.total === 1 ? '' : 's'}${query.q ? html` matching “${query.q}”` : html``}${query.status ? html`, ${query.status}` : html``}</p>
<form method="post" action="${base}/users/bulk" id="bulk-form" class="bulk" aria-label="Change the ticked users">
${csrfField(f)}
<span class="muted">With the ticked users:</span>
<button type="submit" name="action" value="disable" class="button button-small button-secondary">Disable</button>
<button type="submit" name="action" value="enable" class="button button-small button-secondary">Enable</button>
<label for="bulk-group" class="visually-hidden">Group to add them to</label>
<input id="bulk-group" name="group" type="text" list="known-groups" placeholder="group" autocomplete="off">
<datalist id="known-groups">${view.groups.filter((g) => g !== 'admins').map((g) => html`<option value="${g}"></option>`)}</datalist>
<button type="submit" name="action" value="add_group" class="button button-small button-secondary">Add to group</button>
</form>
${dataTable({
  label: 'Users',
  rows: view.users,
  empty: 'No users match.',
  sort: { key: query.sort, dir: query.dir, href: (key, dir) => listUrl({ sort: key === 'username' ? '' : key, dir: dir === 'asc' ? '' : dir }) },
  columns: [
    { label: 'Select', hiddenLabel: true, cell: (u) => html`<input type="checkbox" form="bulk-form" name="user:${u.id}" value="1" aria-label="Select ${u.username}">`, className: 'select' },
    { label: 'Username', sortKey: 'username', cell: (u) => html`<a href="${base}/users/${u.id}">${u.username}</a>${u.isAdmin ? html` <span class="tag">admin</span>` : html``}${u.displayName ? html`<br><span class="muted">${u.displayName}</span>` : html``}` },
    { label: 'Email', sortKey: 'email', cell: (u) => u.email ?? '—', className: 'wrap' },
    { label: 'Groups', cell: (u) => u.groups.join(', ') || '—' },
    { label: 'Status', sortKey: 'status', cell: (u) => html`<span class="status status-${u.status}">${u.status}</span>` },
    { label: 'Created', sortKey: 'created', cell: (u) => timeAgo(u.createdAt, f.now) },
  ],
})}
${pager(`${base}/users`, kept, query.page, view.hasNext)}

<section class="panel" aria-labelledby="invite-title">
<h2 id="invite-title">Invite someone</h2>
<p class="hint">They get a single-use link to choose a username and a password; you never handle their password.${view.mailGoesToOutbox ? html` No mail server is configured: the link is shown here (and written to the outbox) for you to pass on.` : html``}</p>
<form method="post" action="${base}/invites" class="form">
${csrfField(f)}
<div class="row">
<div><label for="invite-email">Email <span class="optional">(optional)</span></label><input id="invite-email" name="email" type="email" autocomplete="off" value="${invite.email}"></div>
<div><label for="invite-groups">Groups <span class="optional">(comma-separated)</span></label><input id="invite-groups" name="groups" type="text" autocomplete="off" value="${invite.groups}"></div>
<div><label for="invite-expires">Link works for</label>${expirySelect('invite-expires', invite.expires)}</div>
</div>
<label class="check"><input type="checkbox" name="admin" value="1"${invite.admin ? html` checked` : html``}> Administrator</label>
<div><button type="submit" class="button button-primary">Create invitation</button></div>
</form>
</section>`,
  );
}

export function renderUserPage(
  branding: Branding,
  f: AdminFrame,
  view: {
    user: User;
    sessions: readonly SessionRecord[];
    lastAdmin: boolean;
    twoFactor: boolean;
    passkeys?: readonly Passkey[];
    tokens?: readonly ApiToken[];
    audit?: readonly AuditEntry[];
    ssoLinks?: ReadonlyArray<{ provider: string; subject: string; email: string | null; lastLoginAt: number | null }>;
  },
): string {
  const { user } = view;
  const base = `${branding.prefix}/admin/users/${user.id}`;
  return frame(
    branding,
    'users',
    user.username,
    f,
    html`<p class="crumbs"><a href="${branding.prefix}/admin/users">← All users</a></p>
<dl class="facts">
<dt>Name</dt><dd>${user.displayName ?? '—'}</dd>
<dt>Email</dt><dd>${user.email ?? '—'}</dd>
<dt>Status</dt><dd>${user.status}</dd>
<dt>Role</dt><dd>${user.isAdmin ? 'Administrator' : 'User'}</dd>
<dt>Two-factor</dt><dd>${view.twoFactor ? 'on (authenticator app)' : 'off'}</dd>
<dt>Created</dt><dd>${timeAgo(user.createdAt, f.now)}</dd>
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
<div><button type="submit" class="button button-primary">Save groups</button></div>
</form>

${
  view.ssoLinks && view.ssoLinks.length
    ? html`<h2 id="sso-title">Single sign-on</h2>
${dataTable({
  labelledBy: 'sso-title',
  rows: view.ssoLinks,
  columns: [
    { label: 'Provider', cell: (l) => l.provider },
    { label: 'Subject', cell: (l) => html`<code>${l.subject}</code>`, className: 'wrap' },
    { label: 'Email there', cell: (l) => l.email ?? '—', className: 'wrap' },
    { label: 'Last sign-in', cell: (l) => timeAgo(l.lastLoginAt, f.now) },
    { label: 'Action', hiddenLabel: true, cell: (l) => action(f, `${base}/sso/unlink`, `Unlink ${l.provider}`, { provider: l.provider }) },
  ],
})}`
    : html``
}

<h2 id="factors-title">Second factors</h2>
<p>Authenticator app: <strong>${view.twoFactor ? 'on' : 'off'}</strong>.</p>
${dataTable({
  labelledBy: 'factors-title',
  rows: view.passkeys ?? [],
  empty: 'No passkeys.',
  columns: [
    { label: 'Passkey', cell: (p) => p.name },
    { label: 'Added', cell: (p) => timeAgo(p.createdAt, f.now) },
    { label: 'Last used', cell: (p) => timeAgo(p.lastUsedAt, f.now) },
  ],
})}

<h2 id="tokens-title">API tokens</h2>
${dataTable({
  labelledBy: 'tokens-title',
  rows: view.tokens ?? [],
  empty: 'No API tokens.',
  columns: [
    { label: 'Name', cell: (t) => t.name },
    { label: 'Created', cell: (t) => timeAgo(t.createdAt, f.now) },
    { label: 'Expires', cell: (t) => (t.expiresAt === null ? 'never' : timeAgo(t.expiresAt, f.now)) },
    { label: 'Last used', cell: (t) => timeAgo(t.lastUsedAt, f.now) },
  ],
})}

<h2 id="sessions-title">Signed-in browsers</h2>
${
  view.sessions.length === 0
    ? html`<p class="muted">None.</p>`
    : html`${dataTable({
        labelledBy: 'sessions-title',
        rows: view.sessions,
        columns: [
          { label: 'Device', cell: (s) => describeUserAgent(s.userAgent) },
          { label: 'Address', cell: (s) => s.ip ?? '—' },
          { label: 'Signed in', cell: (s) => timeAgo(s.createdAt, f.now) },
          { label: 'Last seen', cell: (s) => timeAgo(s.lastSeenAt, f.now) },
          { label: 'How', cell: (s) => s.authMethod },
        ],
      })}
<div class="actions">${action(f, `${base}/sessions/revoke`, 'Sign out all of them')}</div>`
}

<h2 id="recent-title">Recent activity</h2>
${dataTable({
  labelledBy: 'recent-title',
  rows: view.audit ?? [],
  empty: 'Nothing recorded yet.',
  columns: [
    { label: 'When', cell: (e) => timeAgo(e.at, f.now) },
    { label: 'Who', cell: (e) => auditWho(e) },
    { label: 'What', cell: (e) => html`<code>${e.action}</code>` },
    { label: 'Details', cell: (e) => auditDetails(e), className: 'detail' },
  ],
})}
<p><a href="${branding.prefix}/admin/audit?user=${encodeURIComponent(user.username)}">All of ${user.username}’s audit entries</a></p>

${
  view.lastAdmin
    ? html``
    : html`<section class="panel panel-danger" aria-labelledby="delete-title"><h2 id="delete-title">Delete</h2>
<form method="post" action="${base}/delete" class="form">
${csrfField(f)}
<label for="confirm">Type the username to confirm</label>
<input id="confirm" name="confirm" type="text" autocomplete="off" required>
<div><button type="submit" class="button button-danger">Delete ${user.username}</button></div>
</form></section>`
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
    html`${dataTable({
      label: 'Groups',
      rows: view.groups,
      empty: 'No groups yet.',
      columns: [
        { label: 'Group', cell: (g) => html`<a href="${base}/${encodeURIComponent(g.name)}">${g.name}</a>` },
        { label: 'Members', cell: (g) => g.members },
        {
          label: 'Rename',
          cell: (g) =>
            html`<form method="post" action="${base}/rename" class="inline-form row-form">${csrfField(f)}<input type="hidden" name="from" value="${g.name}"><label class="visually-hidden" for="rename-${g.name}">New name for ${g.name}</label><input id="rename-${g.name}" name="to" type="text" required><button type="submit" class="button button-secondary button-small">Rename</button></form>`,
        },
        { label: 'Delete', hiddenLabel: true, cell: (g) => (g.name === 'admins' ? html`` : action(f, `${base}/delete`, 'Delete', { name: g.name }, { danger: true, aria: `Delete group ${g.name}` })) },
      ],
    })}
<h2 id="new-group-title">New group</h2>
<form method="post" action="${base}" class="form" aria-labelledby="new-group-title">${csrfField(f)}
<label for="group-name">Name</label><input id="group-name" name="name" type="text" required>
<div><button type="submit" class="button button-primary">Create group</button></div></form>`,
  );
}

export function renderGroupPage(branding: Branding, f: AdminFrame, view: { name: string; members: readonly string[] }): string {
  const base = `${branding.prefix}/admin/groups/${encodeURIComponent(view.name)}`;
  return frame(
    branding,
    'groups',
    `Group ${view.name}`,
    f,
    html`<p class="crumbs"><a href="${branding.prefix}/admin/groups">← All groups</a></p>
${dataTable({
  label: `Members of ${view.name}`,
  rows: view.members,
  empty: 'No members.',
  columns: [
    { label: 'Member', cell: (m) => m },
    { label: 'Remove', hiddenLabel: true, cell: (m) => action(f, `${base}/members/remove`, 'Remove', { username: m }, { aria: `Remove ${m} from ${view.name}` }) },
  ],
})}
<h2 id="add-member-title">Add a member</h2>
<form method="post" action="${base}/members" class="form" aria-labelledby="add-member-title">${csrfField(f)}
<label for="member">Username</label><input id="member" name="username" type="text" required autocomplete="off">
<div><button type="submit" class="button button-primary">Add</button></div></form>`,
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
${dataTable({
  label: 'Pending sign-ups',
  rows: view.pending,
  empty: 'Nobody is waiting.',
  columns: [
    { label: 'Username', cell: ({ user }) => user.username },
    { label: 'Email', cell: ({ user }) => user.email ?? '—', className: 'wrap' },
    { label: 'Address confirmed', cell: ({ verified }) => (verified ? 'yes' : 'not yet') },
    { label: 'Asked', cell: ({ user }) => timeAgo(user.createdAt, f.now) },
    {
      label: 'Decide',
      hiddenLabel: true,
      cell: ({ user }) => html`<div class="actions">${action(f, `${base}/approve`, 'Approve', { id: user.id }, { aria: `Approve ${user.username}` })}${action(f, `${base}/reject`, 'Reject', { id: user.id }, { danger: true, aria: `Reject ${user.username}` })}</div>`,
    },
  ],
})}`,
  );
}

export function renderInvitesPage(branding: Branding, f: AdminFrame, view: { invites: readonly Invite[] }): string {
  const base = `${branding.prefix}/admin/invites`;
  return frame(
    branding,
    'invites',
    'Invitations',
    f,
    dataTable({
      label: 'Open invitations',
      rows: view.invites,
      empty: 'No open invitations. Invite people from the Users page.',
      columns: [
        { label: 'For', cell: (i) => html`${i.email ?? 'anyone with the link'}${i.isAdmin ? html` <span class="tag">admin</span>` : html``}`, className: 'wrap' },
        { label: 'Groups', cell: (i) => i.groups.join(', ') || '—' },
        { label: 'By', cell: (i) => i.createdBy ?? '—' },
        { label: 'Expires', cell: (i) => timeAgo(i.expiresAt, f.now) },
        { label: 'Revoke', hiddenLabel: true, cell: (i) => action(f, `${base}/revoke`, 'Revoke', { id: i.id }, { aria: `Revoke the invitation for ${i.email ?? i.id}` }) },
      ],
    }),
  );
}

export function renderSessionsPage(branding: Branding, f: AdminFrame, view: { sessions: ReadonlyArray<SessionRecord & { username: string }>; page: number; hasNext: boolean; currentSessionId: string }): string {
  const base = `${branding.prefix}/admin/sessions`;
  return frame(
    branding,
    'sessions',
    'Active sessions',
    f,
    html`${dataTable({
      label: 'Active sessions',
      rows: view.sessions,
      empty: 'Nobody is signed in.',
      columns: [
        { label: 'User', cell: (s) => s.username },
        { label: 'Device', cell: (s) => describeUserAgent(s.userAgent) },
        { label: 'Address', cell: (s) => s.ip ?? '—' },
        { label: 'Last seen', cell: (s) => timeAgo(s.lastSeenAt, f.now) },
        {
          label: 'Revoke',
          hiddenLabel: true,
          cell: (s) => (s.id === view.currentSessionId ? html`<span class="muted">this browser</span>` : action(f, `${base}/revoke`, 'Sign out', { id: s.id }, { aria: `Sign out ${s.username} on ${describeUserAgent(s.userAgent)}` })),
        },
      ],
    })}
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
    html`<form method="get" action="${base}" class="row search" role="search" aria-label="Filter the audit log">
<div><label for="audit-user">User</label><input id="audit-user" name="user" type="text" value="${view.filter.user}"></div>
<div><label for="audit-action">Action <span class="optional">(login. for all sign-in events)</span></label><input id="audit-action" name="action" type="text" value="${view.filter.action}"></div>
<div><label for="audit-from">From</label><input id="audit-from" name="from" type="date" value="${view.filter.from}"></div>
<div><label for="audit-to">To</label><input id="audit-to" name="to" type="date" value="${view.filter.to}"></div>
<button type="submit" class="button button-secondary">Filter</button>
</form>
<p><a href="${base}.csv?${new URLSearchParams(Object.fromEntries(Object.entries(params).filter(([, v]) => v !== ''))).toString()}" download>Export these entries as CSV</a></p>
${dataTable({
  label: 'Audit log entries',
  rows: view.entries,
  empty: 'No entries match.',
  rowId: (e) => `audit-${e.id}`,
  columns: [
    { label: 'When', cell: (e) => timeAgo(e.at, f.now) },
    { label: 'Who', cell: (e) => auditWho(e) },
    { label: 'What', cell: (e) => html`<code>${e.action}</code>` },
    { label: 'Whom', cell: (e) => e.target ?? '—' },
    { label: 'From', cell: (e) => e.ip ?? '—' },
    { label: 'Details', cell: (e) => auditDetails(e), className: 'detail' },
  ],
})}
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
