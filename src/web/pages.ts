import type { PasswordPolicy } from '../auth/password-policy.js';
import { errorSummary, field, newPasswordBlock, type FieldErrors } from './form-fields.js';
import { html, type SafeHtml } from './html.js';

export interface Branding {
  appName: string;
  logoUrl?: string | undefined;
  prefix: string;
}

/** The one frame every gateway page shares: a centred card, one stylesheet, light and dark. */
export function renderLayout(branding: Branding, title: string, body: SafeHtml, options: { wide?: boolean } = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${branding.appName}</title>
<link rel="stylesheet" href="${branding.prefix}/static/style.css">
</head>
<body class="page-card">
<main class="card${options.wide ? ' card-wide' : ''}" aria-labelledby="page-title">
<header class="brand">
${branding.logoUrl ? html`<img class="logo" src="${branding.logoUrl}" alt="" width="40" height="40">` : html`<span class="logo-mark" aria-hidden="true">${branding.appName.slice(0, 1).toUpperCase()}</span>`}
<span class="app-name">${branding.appName}</span>
</header>
${body}
</main>
<footer class="footer">Protected by Dashgate</footer>
</body>
</html>
`.value;
}

export function notice(kind: 'error' | 'info', message: string | undefined): SafeHtml {
  if (!message) return html``;
  return kind === 'error'
    ? html`<p class="notice notice-error" role="alert" id="form-error">${message}</p>`
    : html`<p class="notice notice-info" role="status">${message}</p>`;
}

export interface LoginView {
  csrf: string;
  next: string;
  username?: string;
  error?: string;
  info?: string;
  signup?: boolean;
  /** One "Sign in with …" button per provider, in configuration order. */
  providers?: ReadonlyArray<{ id: string; name: string }>;
  /** false: no password form (password.enabled: false). */
  passwords?: boolean;
}

export function renderLoginPage(branding: Branding, view: LoginView): string {
  const passwords = view.passwords !== false;
  const providers = view.providers ?? [];
  const buttons = providers.length
    ? html`<ul class="sso-buttons">${providers.map((p) => html`<li><a class="button button-${passwords ? 'secondary' : 'primary'} button-block" href="${branding.prefix}/sso/${p.id}/start?next=${encodeURIComponent(view.next)}">Sign in with ${p.name}</a></li>`)}</ul>`
    : html``;
  const form = passwords
    ? html`<form method="post" action="${branding.prefix}/login" class="form" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="next" value="${view.next}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${view.username ?? ''}"${view.error ? html` aria-describedby="form-error"` : html``}${view.username ? html`` : html` autofocus`}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${view.username ? html` autofocus` : html``}>
<button type="submit" class="button button-primary">Sign in</button>
</form>
${providers.length ? html`<p class="divider"><span>or</span></p>` : html``}`
    : html``;
  return renderLayout(
    branding,
    'Sign in',
    html`<h1 id="page-title">Sign in</h1>
<p class="lead">Sign in to continue to ${branding.appName}.</p>
${notice('error', view.error)}${notice('info', view.info)}
${form}${buttons}
${passkeyLoginBlock(branding, view.csrf, view.next)}
${passwords ? html`<p class="secondary"><a href="${branding.prefix}/forgot">Forgot your password?</a>${view.signup ? html` · <a href="${branding.prefix}/signup">Create an account</a>` : html``}</p>` : html``}`,
  );
}

/** "Sign out" (the confirm page links and the page helper open); `next`: where signing in again lands ("switch account"). */
export function renderLogoutPage(branding: Branding, view: { csrf: string; username: string; next?: string; switching?: boolean }): string {
  const title = view.switching ? 'Switch account' : 'Sign out';
  return renderLayout(
    branding,
    title,
    html`<h1 id="page-title">${title}</h1>
<p class="lead">You are signed in as <strong>${view.username}</strong>.${view.switching ? ' Sign out here, then sign in with the other account.' : ''}</p>
<form method="post" action="${branding.prefix}/logout" class="form">
<input type="hidden" name="csrf" value="${view.csrf}">
${view.next && view.next !== '/' ? html`<input type="hidden" name="next" value="${view.next}">` : html``}
<button type="submit" class="button button-primary">${view.switching ? 'Sign out and sign in again' : 'Sign out'}</button>
</form>
<p class="secondary"><a href="/">Back to ${branding.appName}</a></p>`,
  );
}

const NEW_ACCOUNT_LABELS = { username: 'Username', email: 'Email', password: 'Password', password2: 'Repeat password' };

export function renderSetupPage(branding: Branding, view: { csrf: string; token: string; policy: PasswordPolicy; errors?: FieldErrors; username?: string; email?: string }): string {
  const errors = view.errors ?? {};
  return renderLayout(
    branding,
    'Create the first administrator',
    html`<h1 id="page-title">Create the administrator account</h1>
<p class="lead">This one-time link sets up the first account of ${branding.appName}. It can be used once.</p>
${errorSummary(errors, NEW_ACCOUNT_LABELS)}
<form method="post" action="${branding.prefix}/setup" class="form" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="token" value="${view.token}">
${field({ id: 'username', name: 'username', label: 'Username', autocomplete: 'username', required: true, value: view.username ?? '', error: errors.username, autofocus: !errors.password && !errors.password2 })}
${field({ id: 'email', name: 'email', label: 'Email', optional: 'optional', type: 'email', autocomplete: 'email', value: view.email ?? '', error: errors.email })}
${newPasswordBlock({ policy: view.policy, errors })}
<button type="submit" class="button button-primary">Create account and sign in</button>
</form>`,
  );
}

export function renderMessagePage(branding: Branding, view: { title: string; message: string; action?: { href: string; label: string } }): string {
  return renderLayout(
    branding,
    view.title,
    html`<h1 id="page-title">${view.title}</h1>
<p class="lead">${view.message}</p>
${view.action ? html`<p><a class="button button-primary" href="${view.action.href}">${view.action.label}</a></p>` : html``}`,
  );
}

/** "Sign in with a passkey": hidden until passkeys.js finds a browser that can. `endpoint`: where the ceremony posts (the second step uses its own). */
export function passkeyLoginBlock(branding: Branding, csrf: string, next: string, options: { endpoint?: string; label?: string; divider?: boolean } = {}): SafeHtml {
  return html`<div class="passkey-login" data-passkey-login data-csrf="${csrf}" data-next="${next}" data-endpoint="${options.endpoint ?? '/login/passkey'}" hidden>
${options.divider === false ? html`` : html`<p class="divider"><span>or</span></p>`}
<button type="button" class="button button-secondary button-block">${options.label ?? 'Sign in with a passkey'}</button>
<p class="notice notice-error" role="alert" data-passkey-error hidden></p>
</div>
<script src="${branding.prefix}/static/passkeys.js" data-prefix="${branding.prefix}" defer></script>`;
}
