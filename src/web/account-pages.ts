import type { ApiToken } from '../auth/api-tokens.js';
import type { Passkey } from '../store/factors.js';
import type { SessionRecord, User } from '../store/types.js';
import { html, SafeHtml } from './html.js';
import { notice, renderLayout, type Branding } from './pages.js';

export interface AccountView {
  user: User;
  /** false: the account signs in without a password (single sign-on): no password form. */
  hasPassword?: boolean;
  /** Names of the providers this account signs in with. */
  signInProviders?: readonly string[];
  csrf: string;
  tokens: readonly ApiToken[];
  sessions: readonly SessionRecord[];
  currentSessionId: string;
  twoFactor: { enabled: boolean; recoveryCodesLeft: number };
  passkeys: readonly Passkey[];
  now: number;
  /** A token just created: shown this once. */
  newToken?: { name: string; token: string };
  info?: string;
  error?: string;
}

export const TOKEN_EXPIRY_CHOICES = [
  { value: '30d', label: '30 days' },
  { value: '90d', label: '90 days' },
  { value: '365d', label: '1 year' },
  { value: 'never', label: 'Never' },
] as const;

/** `/_dashgate/account`: who you are, your groups, your API tokens, sign out. */
export function renderAccountPage(branding: Branding, view: AccountView): string {
  const { user } = view;
  const date = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString().slice(0, 10));
  return renderLayout(
    branding,
    'Your account',
    html`<h1 id="page-title">Your account</h1>
<p class="lead">Signed in to ${branding.appName} as <strong>${user.username}</strong>.</p>
${notice('error', view.error)}${notice('info', view.info)}
<dl class="facts">
<dt>Username</dt><dd>${user.username}</dd>
<dt>Name</dt><dd>${user.displayName ?? '—'}</dd>
<dt>Email</dt><dd>${user.email ?? '—'}</dd>
<dt>Groups</dt><dd>${user.groups.length > 0 ? user.groups.join(', ') : 'none'}</dd>
${user.isAdmin ? html`<dt>Role</dt><dd>Administrator</dd>` : html``}
</dl>

<h2 id="tokens-title">API tokens</h2>
<p class="hint">For scripts and notebooks: send <code>Authorization: Bearer &lt;token&gt;</code>. A token acts as you, with your groups.</p>
${
  view.newToken
    ? html`<div class="notice notice-info" role="status"><p>New token <strong>${view.newToken.name}</strong>. Copy it now: it is not shown again.</p>
<code class="secret" id="new-token">${view.newToken.token}</code></div>`
    : html``
}
${
  view.tokens.length === 0
    ? html`<p class="muted">No tokens yet.</p>`
    : html`<table class="table" aria-labelledby="tokens-title">
<thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>
${view.tokens.map(
  (t) => html`<tr>
<td>${t.name}</td><td>${date(t.createdAt)}</td><td>${t.expiresAt !== null && t.expiresAt <= view.now ? 'expired' : t.expiresAt === null ? 'never' : date(t.expiresAt)}</td><td>${date(t.lastUsedAt)}</td>
<td><form method="post" action="${branding.prefix}/account/tokens/revoke" class="inline-form">
<input type="hidden" name="csrf" value="${view.csrf}"><input type="hidden" name="id" value="${t.id}">
<button type="submit" class="button button-secondary button-small" aria-label="Revoke ${t.name}">Revoke</button>
</form></td>
</tr>`,
)}
</tbody></table>`
}
<form method="post" action="${branding.prefix}/account/tokens" class="form">
<input type="hidden" name="csrf" value="${view.csrf}">
<div class="row">
<div><label for="token-name">Token name</label><input id="token-name" name="name" type="text" maxlength="100" required placeholder="nightly report"></div>
<div><label for="token-expires">Expires after</label><select id="token-expires" name="expires">${TOKEN_EXPIRY_CHOICES.map((c) => html`<option value="${c.value}"${c.value === '90d' ? html` selected` : html``}>${c.label}</option>`)}</select></div>
</div>
<button type="submit" class="button button-primary">Create token</button>
</form>

${
  view.hasPassword === false
    ? html`<h2 id="password-title">Signing in</h2>
<p>You sign in with ${view.signInProviders && view.signInProviders.length ? view.signInProviders.join(', ') : 'single sign-on'}; this account has no password here.</p>
`
    : html`<h2 id="password-title">Change password</h2>
<form method="post" action="${branding.prefix}/account/password" class="form" aria-labelledby="password-title">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="text" name="username" autocomplete="username" value="${user.username}" hidden>
<label for="current-password">Current password</label>
<input id="current-password" name="current" type="password" autocomplete="current-password" required>
<label for="new-password">New password</label>
<input id="new-password" name="password" type="password" autocomplete="new-password" required aria-describedby="new-password-hint">
<p class="hint" id="new-password-hint">At least 15 characters is a good choice. Your other sign-ins end when you change it.</p>
<label for="new-password2">Repeat new password</label>
<input id="new-password2" name="password2" type="password" autocomplete="new-password" required>
<button type="submit" class="button button-primary">Change password</button>
</form>

`
}
<h2 id="mfa-title">Two-factor sign-in</h2>
${
  view.twoFactor.enabled
    ? html`<p>On: signing in asks for a code from your authenticator app. ${view.twoFactor.recoveryCodesLeft} recovery code${view.twoFactor.recoveryCodesLeft === 1 ? '' : 's'} left.</p>
<form method="post" action="${branding.prefix}/account/totp/manage" class="form" aria-labelledby="mfa-title">
<input type="hidden" name="csrf" value="${view.csrf}">
${
  view.hasPassword === false
    ? html`<label for="mfa-code">A current code from your app</label>
<input id="mfa-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required>`
    : html`<label for="mfa-password">Current password</label>
<input id="mfa-password" name="current" type="password" autocomplete="current-password" required>`
}
<div class="actions">
<button type="submit" name="action" value="recovery" class="button button-secondary">New recovery codes</button>
<button type="submit" name="action" value="disable" class="button button-danger">Turn off</button>
</div>
</form>`
    : html`<p>Off. With it on, signing in also asks for a code from an authenticator app on your phone.</p>
<form method="post" action="${branding.prefix}/account/totp/setup" class="inline-form">
<input type="hidden" name="csrf" value="${view.csrf}">
<button type="submit" class="button button-primary">Set up two-factor sign-in</button>
</form>`
}

<h2 id="passkeys-title">Passkeys</h2>
<p class="hint">Sign in with your fingerprint, face or device PIN instead of a password. A passkey counts as two factors.</p>
${
  view.passkeys.length === 0
    ? html`<p class="muted">No passkeys yet.</p>`
    : html`<table class="table" aria-labelledby="passkeys-title"><thead><tr><th scope="col">Name</th><th scope="col">Added</th><th scope="col">Last used</th><th scope="col">Rename</th><th scope="col"><span class="visually-hidden">Remove</span></th></tr></thead><tbody>
${view.passkeys.map(
  (p) => html`<tr><td>${p.name}</td><td>${date(p.createdAt)}</td><td>${date(p.lastUsedAt)}</td>
<td><form method="post" action="${branding.prefix}/account/passkeys/rename" class="inline-form row-form"><input type="hidden" name="csrf" value="${view.csrf}"><input type="hidden" name="id" value="${p.id}"><label class="visually-hidden" for="rename-${p.id}">New name for ${p.name}</label><input id="rename-${p.id}" name="name" type="text" maxlength="60" required><button type="submit" class="button button-secondary button-small">Rename</button></form></td>
<td><form method="post" action="${branding.prefix}/account/passkeys/remove" class="inline-form"><input type="hidden" name="csrf" value="${view.csrf}"><input type="hidden" name="id" value="${p.id}"><button type="submit" class="button button-secondary button-small" aria-label="Remove ${p.name}">Remove</button></form></td></tr>`,
)}
</tbody></table>`
}
<form class="form" data-passkey-register hidden>
<input type="hidden" name="csrf" value="${view.csrf}">
<label for="passkey-name">Name for the new passkey</label>
<input id="passkey-name" name="name" type="text" maxlength="60" placeholder="Work laptop">
<button type="submit" class="button button-primary">Add a passkey</button>
<p class="notice notice-error" role="alert" data-passkey-error hidden></p>
</form>
<script src="${branding.prefix}/static/passkeys.js" data-prefix="${branding.prefix}" defer></script>

<h2 id="sessions-title">Where you are signed in</h2>
<table class="table" aria-labelledby="sessions-title">
<thead><tr><th scope="col">Device</th><th scope="col">Address</th><th scope="col">Signed in</th><th scope="col">Last seen</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>
${view.sessions.map(
  (s) => html`<tr>
<td>${describeUserAgent(s.userAgent)}${s.id === view.currentSessionId ? html` <strong>(this browser)</strong>` : html``}</td><td>${s.ip ?? '—'}</td><td>${dateTime(s.createdAt)}</td><td>${dateTime(s.lastSeenAt)}</td>
<td>${
    s.id === view.currentSessionId
      ? html``
      : html`<form method="post" action="${branding.prefix}/account/sessions/end" class="inline-form">
<input type="hidden" name="csrf" value="${view.csrf}"><input type="hidden" name="id" value="${s.id}">
<button type="submit" class="button button-secondary button-small" aria-label="Sign out ${describeUserAgent(s.userAgent)} at ${s.ip ?? 'unknown address'}">Sign out</button>
</form>`
  }</td>
</tr>`,
)}
</tbody></table>
<div class="row">
${
  view.sessions.length > 1
    ? html`<form method="post" action="${branding.prefix}/account/sessions/end-others" class="inline-form">
<input type="hidden" name="csrf" value="${view.csrf}">
<button type="submit" class="button button-secondary">Sign out everywhere else</button>
</form>`
    : html``
}
<form method="post" action="${branding.prefix}/logout" class="inline-form">
<input type="hidden" name="csrf" value="${view.csrf}">
<button type="submit" class="button button-secondary">Sign out</button>
</form>
</div>
<p class="secondary"><a href="/">Back to ${branding.appName}</a>${user.isAdmin ? html` · <a href="${branding.prefix}/admin">Admin console</a>` : html``}</p>`,
    { wide: true },
  );
}

function dateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** "Chrome on Linux" from a User-Agent, or "Unknown device"; enough to tell one's browsers apart. */
export function describeUserAgent(ua: string | null): string {
  if (!ua) return 'Unknown device';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : /curl\//.test(ua) ? 'curl' : /python/i.test(ua) ? 'Python' : null;
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X|Macintosh/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : null;
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os ?? ua.slice(0, 40);
}

/** Enrolment: the QR code (server-rendered SVG), the secret as text, and the confirming code. */
export function renderTotpSetupPage(branding: Branding, view: { csrf: string; qrSvg: string; secret: string; error?: string }): string {
  return renderLayout(
    branding,
    'Set up two-factor sign-in',
    html`<h1 id="page-title">Set up two-factor sign-in</h1>
<p class="lead">Scan the code with an authenticator app (Google Authenticator, Microsoft Authenticator, 1Password, Aegis…), then enter the 6-digit code it shows.</p>
${notice('error', view.error)}
<figure class="qr" role="img" aria-label="QR code for your authenticator app">${new SafeHtml(view.qrSvg)}</figure>
<p class="hint">Cannot scan? Enter this key instead:</p>
<code class="secret" id="totp-secret">${view.secret.replace(/(.{4})/g, '$1 ').trim()}</code>
<form method="post" action="${branding.prefix}/account/totp/confirm" class="form" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<label for="code">Code from the app</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required autofocus>
<button type="submit" class="button button-primary">Turn on</button>
</form>
<p class="secondary"><a href="${branding.prefix}/account">Cancel</a></p>`,
  );
}

/** Recovery codes, shown once. */
export function renderRecoveryCodesPage(branding: Branding, view: { codes: readonly string[]; first: boolean }): string {
  return renderLayout(
    branding,
    'Recovery codes',
    html`<h1 id="page-title">${view.first ? 'Two-factor sign-in is on' : 'New recovery codes'}</h1>
<p class="lead">Keep these codes somewhere safe. Each one signs you in once if you lose your phone. They are shown only now${view.first ? '' : '; the old ones no longer work'}.</p>
<ul class="codes" id="recovery-codes">${view.codes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
<p><a class="button button-primary" href="${branding.prefix}/account">I have saved them</a></p>`,
  );
}
