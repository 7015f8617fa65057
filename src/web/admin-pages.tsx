import type { ComponentChildren } from 'preact';
import type { ApiToken } from '../auth/api-tokens.js';
import type { Passkey } from '../store/factors.js';
import type { GroupSummary } from '../store/groups.js';
import type { AuditEntry, Invite, SessionRecord, User } from '../store/types.js';
import { describeUserAgent, TOKEN_EXPIRY_CHOICES } from './account-pages.js';
import { AuditDetails, AuditWho } from './audit-view.js';
import { CsrfField, DataTable, Notice, Pager, PostButton, TimeAgo } from './components.js';
import { renderConsolePage } from './console-layout.js';
import type { Branding } from './pages.js';

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

/** A console page: the bar with its sections, the title, the one-off notices, then the page's own content. */
export function frame(branding: Branding, section: AdminSection, title: string, f: AdminFrame, body: ComponentChildren): string {
  const base = `${branding.prefix}/admin`;
  return renderConsolePage({
    branding,
    title: `${title} · Admin`,
    nav: SECTIONS.map(([key, label]) => ({ key, label, href: key === 'dashboard' ? base : `${base}/${key}` })),
    current: section,
    user: f.admin,
    csrf: f.csrf,
    children: (
      <>
        <h1 id="page-title">{title}</h1>
        <Notice kind="error">{f.error}</Notice>
        <Notice kind="info">{f.info}</Notice>
        {f.link ? (
          <div class="notice notice-info" role="status">
            <p>{f.link.label} It works once; copy it now.</p>
            <code class="secret" id="new-link">{f.link.url}</code>
          </div>
        ) : null}
        {body}
      </>
    ),
  });
}

/** A one-button form that posts to `url` with the admin's CSRF token. */
const Action = ({ f, url, label, fields, danger, aria }: { f: AdminFrame; url: string; label: string; fields?: Record<string, string>; danger?: boolean; aria?: string }) => (
  <PostButton csrf={f.csrf} url={url} label={label} fields={fields ?? {}} danger={danger ?? false} {...(aria ? { aria } : {})} />
);

function ExpirySelect({ id, value }: { id: string; value: string }) {
  const choices = [{ value: '1d', label: '1 day' }, { value: '7d', label: '7 days' }, ...TOKEN_EXPIRY_CHOICES.filter((c) => c.value !== 'never' && c.value !== '365d')];
  return (
    <select id={id} name="expires">
      {choices.map((c) => (
        <option value={c.value} selected={c.value === value}>
          {c.label}
        </option>
      ))}
    </select>
  );
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
  const statuses: ReadonlyArray<[string, string]> = [['', 'Any'], ['active', 'Active'], ['disabled', 'Disabled'], ['pending', 'Pending']];
  return frame(
    branding,
    'users',
    'Users',
    f,
    <>
      <form method="get" action={`${base}/users`} class="row search" role="search" aria-label="Find users">
        <div>
          <label for="q">Search by name, email or group</label>
          <input id="q" name="q" type="search" value={query.q} />
        </div>
        <div class="narrow">
          <label for="status">Status</label>
          <select id="status" name="status">
            {statuses.map(([value, label]) => (
              <option value={value} selected={query.status === value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        {query.sort !== 'username' ? <input type="hidden" name="sort" value={query.sort} /> : null}
        {query.dir !== 'asc' ? <input type="hidden" name="dir" value={query.dir} /> : null}
        <button type="submit" class="button button-secondary">
          Search
        </button>
        {query.q || query.status ? (
          <a class="clear-link" href={`${base}/users`}>
            Clear
          </a>
        ) : null}
      </form>
      <p class="muted" id="users-count">
        {view.total} user{view.total === 1 ? '' : 's'}
        {query.q ? ` matching “${query.q}”` : ''}
        {query.status ? `, ${query.status}` : ''}
      </p>
      <form method="post" action={`${base}/users/bulk`} id="bulk-form" class="bulk" aria-label="Change the ticked users">
        <CsrfField token={f.csrf} />
        <span class="muted">With the ticked users:</span>
        <button type="submit" name="action" value="disable" class="button button-small button-secondary">
          Disable
        </button>
        <button type="submit" name="action" value="enable" class="button button-small button-secondary">
          Enable
        </button>
        <label for="bulk-group" class="visually-hidden">
          Group to add them to
        </label>
        <input id="bulk-group" name="group" type="text" list="known-groups" placeholder="group" autocomplete="off" />
        <datalist id="known-groups">
          {view.groups.filter((g) => g !== 'admins').map((g) => (
            <option value={g}></option>
          ))}
        </datalist>
        <button type="submit" name="action" value="add_group" class="button button-small button-secondary">
          Add to group
        </button>
      </form>
      <DataTable
        label="Users"
        rows={view.users}
        empty="No users match."
        sort={{ key: query.sort, dir: query.dir, href: (key, dir) => listUrl({ sort: key === 'username' ? '' : key, dir: dir === 'asc' ? '' : dir }) }}
        columns={[
          { label: 'Select', hiddenLabel: true, className: 'select', cell: (u) => <input type="checkbox" form="bulk-form" name={`user:${u.id}`} value="1" aria-label={`Select ${u.username}`} /> },
          {
            label: 'Username',
            sortKey: 'username',
            cell: (u) => (
              <>
                <a href={`${base}/users/${u.id}`}>{u.username}</a>
                {u.isAdmin ? (
                  <>
                    {' '}
                    <span class="tag">admin</span>
                  </>
                ) : null}
                {u.displayName ? (
                  <>
                    <br />
                    <span class="muted">{u.displayName}</span>
                  </>
                ) : null}
              </>
            ),
          },
          { label: 'Email', sortKey: 'email', className: 'wrap', cell: (u) => u.email ?? '—' },
          { label: 'Groups', cell: (u) => u.groups.join(', ') || '—' },
          { label: 'Status', sortKey: 'status', cell: (u) => <span class={`status status-${u.status}`}>{u.status}</span> },
          { label: 'Created', sortKey: 'created', cell: (u) => <TimeAgo at={u.createdAt} now={f.now} /> },
        ]}
      />
      <Pager url={`${base}/users`} params={kept} page={query.page} hasNext={view.hasNext} />

      <section class="panel" aria-labelledby="invite-title">
        <h2 id="invite-title">Invite someone</h2>
        <p class="hint">
          They get a single-use link to choose a username and a password; you never handle their password.
          {view.mailGoesToOutbox ? ' No mail server is configured: the link is shown here (and written to the outbox) for you to pass on.' : ''}
        </p>
        <form method="post" action={`${base}/invites`} class="form">
          <CsrfField token={f.csrf} />
          <div class="row">
            <div>
              <label for="invite-email">
                Email <span class="optional">(optional)</span>
              </label>
              <input id="invite-email" name="email" type="email" autocomplete="off" value={invite.email} />
            </div>
            <div>
              <label for="invite-groups">
                Groups <span class="optional">(comma-separated)</span>
              </label>
              <input id="invite-groups" name="groups" type="text" autocomplete="off" value={invite.groups} />
            </div>
            <div>
              <label for="invite-expires">Link works for</label>
              <ExpirySelect id="invite-expires" value={invite.expires} />
            </div>
          </div>
          <label class="check">
            <input type="checkbox" name="admin" value="1" checked={invite.admin} /> Administrator
          </label>
          <div>
            <button type="submit" class="button button-primary">
              Create invitation
            </button>
          </div>
        </form>
      </section>
    </>,
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
    <>
      <p class="crumbs">
        <a href={`${branding.prefix}/admin/users`}>← All users</a>
      </p>
      <dl class="facts">
        <dt>Name</dt>
        <dd>{user.displayName ?? '—'}</dd>
        <dt>Email</dt>
        <dd>{user.email ?? '—'}</dd>
        <dt>Status</dt>
        <dd>{user.status}</dd>
        <dt>Role</dt>
        <dd>{user.isAdmin ? 'Administrator' : 'User'}</dd>
        <dt>Two-factor</dt>
        <dd>{view.twoFactor ? 'on (authenticator app)' : 'off'}</dd>
        <dt>Created</dt>
        <dd>
          <TimeAgo at={user.createdAt} now={f.now} />
        </dd>
      </dl>
      {view.lastAdmin ? <p class="notice notice-info">This is the last active administrator: it cannot be disabled, demoted or deleted.</p> : null}

      <h2>Account</h2>
      <div class="actions">
        {view.lastAdmin ? null : user.status === 'active' ? <Action f={f} url={`${base}/status`} label="Disable" fields={{ status: 'disabled' }} /> : <Action f={f} url={`${base}/status`} label="Enable" fields={{ status: 'active' }} />}
        {view.lastAdmin ? null : user.isAdmin ? <Action f={f} url={`${base}/admin`} label="Remove administrator" fields={{ admin: '0' }} /> : <Action f={f} url={`${base}/admin`} label="Make administrator" fields={{ admin: '1' }} />}
        <Action f={f} url={`${base}/reset-link`} label="Create a password reset link" />
        {user.email ? <Action f={f} url={`${base}/reset-link`} label="Mail a password reset link" fields={{ mail: '1' }} /> : null}
        {view.twoFactor ? <Action f={f} url={`${base}/mfa-reset`} label="Reset two-factor sign-in" /> : null}
      </div>

      <h2 id="groups-title">Groups</h2>
      <form method="post" action={`${base}/groups`} class="form" aria-labelledby="groups-title">
        <CsrfField token={f.csrf} />
        <label for="user-groups">
          Groups <span class="optional">(comma-separated; new names create groups)</span>
        </label>
        <input id="user-groups" name="groups" type="text" value={user.groups.join(', ')} autocomplete="off" />
        <div>
          <button type="submit" class="button button-primary">
            Save groups
          </button>
        </div>
      </form>

      {view.ssoLinks && view.ssoLinks.length ? (
        <>
          <h2 id="sso-title">Single sign-on</h2>
          <DataTable
            labelledBy="sso-title"
            rows={view.ssoLinks}
            columns={[
              { label: 'Provider', cell: (l) => l.provider },
              { label: 'Subject', className: 'wrap', cell: (l) => <code>{l.subject}</code> },
              { label: 'Email there', className: 'wrap', cell: (l) => l.email ?? '—' },
              { label: 'Last sign-in', cell: (l) => <TimeAgo at={l.lastLoginAt} now={f.now} /> },
              { label: 'Action', hiddenLabel: true, cell: (l) => <Action f={f} url={`${base}/sso/unlink`} label={`Unlink ${l.provider}`} fields={{ provider: l.provider }} /> },
            ]}
          />
        </>
      ) : null}

      <h2 id="factors-title">Second factors</h2>
      <p>
        Authenticator app: <strong>{view.twoFactor ? 'on' : 'off'}</strong>.
      </p>
      <DataTable
        labelledBy="factors-title"
        rows={view.passkeys ?? []}
        empty="No passkeys."
        columns={[
          { label: 'Passkey', cell: (p) => p.name },
          { label: 'Added', cell: (p) => <TimeAgo at={p.createdAt} now={f.now} /> },
          { label: 'Last used', cell: (p) => <TimeAgo at={p.lastUsedAt} now={f.now} /> },
        ]}
      />

      <h2 id="tokens-title">API tokens</h2>
      <DataTable
        labelledBy="tokens-title"
        rows={view.tokens ?? []}
        empty="No API tokens."
        columns={[
          { label: 'Name', cell: (t) => t.name },
          { label: 'Created', cell: (t) => <TimeAgo at={t.createdAt} now={f.now} /> },
          { label: 'Expires', cell: (t) => (t.expiresAt === null ? 'never' : <TimeAgo at={t.expiresAt} now={f.now} />) },
          { label: 'Last used', cell: (t) => <TimeAgo at={t.lastUsedAt} now={f.now} /> },
        ]}
      />

      <h2 id="sessions-title">Signed-in browsers</h2>
      {view.sessions.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <>
          <DataTable
            labelledBy="sessions-title"
            rows={view.sessions}
            columns={[
              { label: 'Device', cell: (s) => describeUserAgent(s.userAgent) },
              { label: 'Address', cell: (s) => s.ip ?? '—' },
              { label: 'Signed in', cell: (s) => <TimeAgo at={s.createdAt} now={f.now} /> },
              { label: 'Last seen', cell: (s) => <TimeAgo at={s.lastSeenAt} now={f.now} /> },
              { label: 'How', cell: (s) => s.authMethod },
            ]}
          />
          <div class="actions">
            <Action f={f} url={`${base}/sessions/revoke`} label="Sign out all of them" />
          </div>
        </>
      )}

      <h2 id="recent-title">Recent activity</h2>
      <DataTable
        labelledBy="recent-title"
        rows={view.audit ?? []}
        empty="Nothing recorded yet."
        columns={[
          { label: 'When', cell: (e) => <TimeAgo at={e.at} now={f.now} /> },
          { label: 'Who', cell: (e) => <AuditWho entry={e} /> },
          { label: 'What', cell: (e) => <code>{e.action}</code> },
          { label: 'Details', className: 'detail', cell: (e) => <AuditDetails entry={e} /> },
        ]}
      />
      <p>
        <a href={`${branding.prefix}/admin/audit?user=${encodeURIComponent(user.username)}`}>All of {user.username}’s audit entries</a>
      </p>

      {view.lastAdmin ? null : (
        <section class="panel panel-danger" aria-labelledby="delete-title">
          <h2 id="delete-title">Delete</h2>
          <form method="post" action={`${base}/delete`} class="form">
            <CsrfField token={f.csrf} />
            <label for="confirm">Type the username to confirm</label>
            <input id="confirm" name="confirm" type="text" autocomplete="off" required />
            <div>
              <button type="submit" class="button button-danger">
                Delete {user.username}
              </button>
            </div>
          </form>
        </section>
      )}
    </>,
  );
}

export function renderGroupsPage(branding: Branding, f: AdminFrame, view: { groups: readonly GroupSummary[] }): string {
  const base = `${branding.prefix}/admin/groups`;
  return frame(
    branding,
    'groups',
    'Groups',
    f,
    <>
      <DataTable
        label="Groups"
        rows={view.groups}
        empty="No groups yet."
        columns={[
          { label: 'Group', cell: (g) => <a href={`${base}/${encodeURIComponent(g.name)}`}>{g.name}</a> },
          { label: 'Members', cell: (g) => g.members },
          {
            label: 'Rename',
            cell: (g) => (
              <form method="post" action={`${base}/rename`} class="inline-form row-form">
                <CsrfField token={f.csrf} />
                <input type="hidden" name="from" value={g.name} />
                <label class="visually-hidden" for={`rename-${g.name}`}>
                  New name for {g.name}
                </label>
                <input id={`rename-${g.name}`} name="to" type="text" required />
                <button type="submit" class="button button-secondary button-small">
                  Rename
                </button>
              </form>
            ),
          },
          { label: 'Delete', hiddenLabel: true, cell: (g) => (g.name === 'admins' ? null : <Action f={f} url={`${base}/delete`} label="Delete" fields={{ name: g.name }} danger aria={`Delete group ${g.name}`} />) },
        ]}
      />
      <h2 id="new-group-title">New group</h2>
      <form method="post" action={base} class="form" aria-labelledby="new-group-title">
        <CsrfField token={f.csrf} />
        <label for="group-name">Name</label>
        <input id="group-name" name="name" type="text" required />
        <div>
          <button type="submit" class="button button-primary">
            Create group
          </button>
        </div>
      </form>
    </>,
  );
}

export function renderGroupPage(branding: Branding, f: AdminFrame, view: { name: string; members: readonly string[] }): string {
  const base = `${branding.prefix}/admin/groups/${encodeURIComponent(view.name)}`;
  return frame(
    branding,
    'groups',
    `Group ${view.name}`,
    f,
    <>
      <p class="crumbs">
        <a href={`${branding.prefix}/admin/groups`}>← All groups</a>
      </p>
      <DataTable
        label={`Members of ${view.name}`}
        rows={view.members}
        empty="No members."
        columns={[
          { label: 'Member', cell: (m) => m },
          { label: 'Remove', hiddenLabel: true, cell: (m) => <Action f={f} url={`${base}/members/remove`} label="Remove" fields={{ username: m }} aria={`Remove ${m} from ${view.name}`} /> },
        ]}
      />
      <h2 id="add-member-title">Add a member</h2>
      <form method="post" action={`${base}/members`} class="form" aria-labelledby="add-member-title">
        <CsrfField token={f.csrf} />
        <label for="member">Username</label>
        <input id="member" name="username" type="text" required autocomplete="off" />
        <div>
          <button type="submit" class="button button-primary">
            Add
          </button>
        </div>
      </form>
    </>,
  );
}

export function renderSignupsPage(branding: Branding, f: AdminFrame, view: { pending: ReadonlyArray<{ user: User; verified: boolean }>; mode: string }): string {
  const base = `${branding.prefix}/admin/signups`;
  return frame(
    branding,
    'signups',
    'Pending sign-ups',
    f,
    <>
      <p class="muted">
        Sign-up mode: <strong>{view.mode}</strong> (signup.mode in dashgate.yaml).
      </p>
      <DataTable
        label="Pending sign-ups"
        rows={view.pending}
        empty="Nobody is waiting."
        columns={[
          { label: 'Username', cell: ({ user }) => user.username },
          { label: 'Email', className: 'wrap', cell: ({ user }) => user.email ?? '—' },
          { label: 'Address confirmed', cell: ({ verified }) => (verified ? 'yes' : 'not yet') },
          { label: 'Asked', cell: ({ user }) => <TimeAgo at={user.createdAt} now={f.now} /> },
          {
            label: 'Decide',
            hiddenLabel: true,
            cell: ({ user }) => (
              <div class="actions">
                <Action f={f} url={`${base}/approve`} label="Approve" fields={{ id: user.id }} aria={`Approve ${user.username}`} />
                <Action f={f} url={`${base}/reject`} label="Reject" fields={{ id: user.id }} danger aria={`Reject ${user.username}`} />
              </div>
            ),
          },
        ]}
      />
    </>,
  );
}

export function renderInvitesPage(branding: Branding, f: AdminFrame, view: { invites: readonly Invite[] }): string {
  const base = `${branding.prefix}/admin/invites`;
  return frame(
    branding,
    'invites',
    'Invitations',
    f,
    <DataTable
      label="Open invitations"
      rows={view.invites}
      empty="No open invitations. Invite people from the Users page."
      columns={[
        {
          label: 'For',
          className: 'wrap',
          cell: (i) => (
            <>
              {i.email ?? 'anyone with the link'}
              {i.isAdmin ? (
                <>
                  {' '}
                  <span class="tag">admin</span>
                </>
              ) : null}
            </>
          ),
        },
        { label: 'Groups', cell: (i) => i.groups.join(', ') || '—' },
        { label: 'By', cell: (i) => i.createdBy ?? '—' },
        { label: 'Expires', cell: (i) => <TimeAgo at={i.expiresAt} now={f.now} /> },
        { label: 'Revoke', hiddenLabel: true, cell: (i) => <Action f={f} url={`${base}/revoke`} label="Revoke" fields={{ id: i.id }} aria={`Revoke the invitation for ${i.email ?? i.id}`} /> },
      ]}
    />,
  );
}

export function renderSessionsPage(branding: Branding, f: AdminFrame, view: { sessions: ReadonlyArray<SessionRecord & { username: string }>; page: number; hasNext: boolean; currentSessionId: string }): string {
  const base = `${branding.prefix}/admin/sessions`;
  return frame(
    branding,
    'sessions',
    'Active sessions',
    f,
    <>
      <DataTable
        label="Active sessions"
        rows={view.sessions}
        empty="Nobody is signed in."
        columns={[
          { label: 'User', cell: (s) => s.username },
          { label: 'Device', cell: (s) => describeUserAgent(s.userAgent) },
          { label: 'Address', cell: (s) => s.ip ?? '—' },
          { label: 'Last seen', cell: (s) => <TimeAgo at={s.lastSeenAt} now={f.now} /> },
          {
            label: 'Revoke',
            hiddenLabel: true,
            cell: (s) =>
              s.id === view.currentSessionId ? <span class="muted">this browser</span> : <Action f={f} url={`${base}/revoke`} label="Sign out" fields={{ id: s.id }} aria={`Sign out ${s.username} on ${describeUserAgent(s.userAgent)}`} />,
          },
        ]}
      />
      <Pager url={base} params={{}} page={view.page} hasNext={view.hasNext} />
    </>,
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
  const exportQuery = new URLSearchParams(Object.fromEntries(Object.entries(params).filter(([, v]) => v !== ''))).toString();
  return frame(
    branding,
    'audit',
    'Audit log',
    f,
    <>
      <form method="get" action={base} class="row search" role="search" aria-label="Filter the audit log">
        <div>
          <label for="audit-user">User</label>
          <input id="audit-user" name="user" type="text" value={view.filter.user} />
        </div>
        <div>
          <label for="audit-action">
            Action <span class="optional">(login. for all sign-in events)</span>
          </label>
          <input id="audit-action" name="action" type="text" value={view.filter.action} />
        </div>
        <div>
          <label for="audit-from">From</label>
          <input id="audit-from" name="from" type="date" value={view.filter.from} />
        </div>
        <div>
          <label for="audit-to">To</label>
          <input id="audit-to" name="to" type="date" value={view.filter.to} />
        </div>
        <button type="submit" class="button button-secondary">
          Filter
        </button>
      </form>
      <p>
        <a href={`${base}.csv?${exportQuery}`} download>
          Export these entries as CSV
        </a>
      </p>
      <DataTable
        label="Audit log entries"
        rows={view.entries}
        empty="No entries match."
        rowId={(e) => `audit-${e.id}`}
        columns={[
          { label: 'When', cell: (e) => <TimeAgo at={e.at} now={f.now} /> },
          { label: 'Who', cell: (e) => <AuditWho entry={e} /> },
          { label: 'What', cell: (e) => <code>{e.action}</code> },
          { label: 'Whom', cell: (e) => e.target ?? '—' },
          { label: 'From', cell: (e) => e.ip ?? '—' },
          { label: 'Details', className: 'detail', cell: (e) => <AuditDetails entry={e} /> },
        ]}
      />
      <Pager url={base} params={params} page={view.page} hasNext={view.hasNext} />
    </>,
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
