import type { PasswordPolicy } from '../auth/password-policy.js';
import { errorSummary, field, newPasswordBlock, type FieldErrors } from './form-fields.js';
import { html } from './html.js';
import { notice, passkeyLoginBlock, renderLayout, type Branding } from './pages.js';

const PASSWORD_HINT = 'At least 15 characters is a good choice; a few unrelated words work well.';

/** The invitation page: choose a username (or keep the invited email) and a password; every problem shown at once. */
export function renderInvitePage(branding: Branding, view: { csrf: string; token: string; email: string | null; policy: PasswordPolicy; username?: string; errors?: FieldErrors }): string {
  const errors = view.errors ?? {};
  return renderLayout(
    branding,
    'Accept your invitation',
    html`<h1 id="page-title">Create your account</h1>
<p class="lead">You are invited to ${branding.appName}${view.email ? html` as <strong>${view.email}</strong>` : html``}. Choose how you sign in.</p>
${errorSummary(errors, { username: 'Username', password: 'Password', password2: 'Repeat password' })}
<form method="post" action="${branding.prefix}/invite" class="form" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="token" value="${view.token}">
${field({ id: 'username', name: 'username', label: 'Username', autocomplete: 'username', required: true, value: view.username ?? '', error: errors.username, autofocus: !errors.password && !errors.password2 })}
${newPasswordBlock({ policy: view.policy, errors })}
<button type="submit" class="button button-primary">Create account and sign in</button>
</form>`,
  );
}

/** "Forgot your password?": one field, and the same answer whether or not the account exists. */
export function renderForgotPage(branding: Branding, view: { csrf: string; sent?: boolean; error?: string }): string {
  return renderLayout(
    branding,
    'Reset your password',
    html`<h1 id="page-title">Reset your password</h1>
${
  view.sent
    ? html`<p class="notice notice-info" role="status">If an account with an email address matches, a link to choose a new password is on its way. It works once, for 30 minutes.</p>
<p class="secondary"><a href="${branding.prefix}/login">Back to sign in</a></p>`
    : html`<p class="lead">Enter your username or email address. If the account has an email address, we send it a link to choose a new password.</p>
${notice('error', view.error)}
<form method="post" action="${branding.prefix}/forgot" class="form" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<label for="login">Username or email</label>
<input id="login" name="login" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
<button type="submit" class="button button-primary">Send the link</button>
</form>
<p class="secondary"><a href="${branding.prefix}/login">Back to sign in</a></p>`
}`,
  );
}

/** The page a reset link opens: a new password, twice. */
export function renderResetPage(branding: Branding, view: { csrf: string; token: string; username: string; error?: string }): string {
  return renderLayout(
    branding,
    'Choose a new password',
    html`<h1 id="page-title">Choose a new password</h1>
<p class="lead">For the account <strong>${view.username}</strong>. Signing in everywhere else ends.</p>
${notice('error', view.error)}
<form method="post" action="${branding.prefix}/reset" class="form" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="token" value="${view.token}">
<input type="text" name="username" autocomplete="username" value="${view.username}" hidden>
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required aria-describedby="password-hint" autofocus>
<p class="hint" id="password-hint">${PASSWORD_HINT}</p>
<label for="password2">Repeat new password</label>
<input id="password2" name="password2" type="password" autocomplete="new-password" required>
<button type="submit" class="button button-primary">Save the new password</button>
</form>`,
  );
}

/** Self-service sign-up (signup.mode domain or open). */
export function renderSignupPage(branding: Branding, view: { csrf: string; domains: readonly string[]; needsApproval: boolean; username?: string; email?: string; error?: string }): string {
  return renderLayout(
    branding,
    'Create an account',
    html`<h1 id="page-title">Create an account</h1>
<p class="lead">${
      view.domains.length > 0
        ? html`For people with an address at ${view.domains.join(', ')}. `
        : html``
    }We send a link to confirm your email address${view.needsApproval ? html`; an administrator then approves the account` : html``}.</p>
${notice('error', view.error)}
<form method="post" action="${branding.prefix}/signup" class="form" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${view.username ?? ''}" autofocus>
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" required value="${view.email ?? ''}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required aria-describedby="password-hint">
<p class="hint" id="password-hint">${PASSWORD_HINT}</p>
<label for="password2">Repeat password</label>
<input id="password2" name="password2" type="password" autocomplete="new-password" required>
<button type="submit" class="button button-primary">Create account</button>
</form>
<p class="secondary">Already have an account? <a href="${branding.prefix}/login">Sign in</a></p>`,
  );
}

/** The page a confirmation link opens: one button, so a mail scanner's GET changes nothing. */
export function renderVerifyPage(branding: Branding, view: { csrf: string; token: string; username: string }): string {
  return renderLayout(
    branding,
    'Confirm your email address',
    html`<h1 id="page-title">Confirm your email address</h1>
<p class="lead">For the account <strong>${view.username}</strong>.</p>
<form method="post" action="${branding.prefix}/verify" class="form">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="token" value="${view.token}">
<button type="submit" class="button button-primary">Confirm</button>
</form>`,
  );
}

/** The second step of signing in: a code from the authenticator app, or a recovery code. */
export function renderMfaPage(branding: Branding, view: { csrf: string; next: string; error?: string; stepUp?: boolean; totp?: boolean; passkeys?: boolean; formCsrf?: string; secondStep?: boolean }): string {
  const totp = view.totp !== false;
  // After the first step the passkey must be this user's (/login/mfa/passkey); at step-up any of the user's passkeys signs in again.
  const passkeyBlock = view.secondStep && view.passkeys
    ? passkeyLoginBlock(branding, view.csrf, view.next, { endpoint: '/login/mfa/passkey', label: 'Use your passkey', divider: totp })
    : view.passkeys && view.formCsrf
      ? passkeyLoginBlock(branding, view.formCsrf, view.next)
      : html``;
  return renderLayout(
    branding,
    'Two-factor sign-in',
    html`<h1 id="page-title">${totp ? 'Enter your code' : 'Confirm with your passkey'}</h1>
<p class="lead">${view.stepUp ? 'This part of the app asks for your second factor. ' : ''}${totp ? `Open your authenticator app and enter the 6-digit code for ${branding.appName}. Lost your phone? Enter one of your recovery codes instead.` : 'Confirm with your passkey.'}</p>
${notice('error', view.error)}
${totp ? html`<form method="post" action="${branding.prefix}${view.stepUp ? '/stepup' : '/login/mfa'}" class="form" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="next" value="${view.next}">
<label for="code">Code</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" autocapitalize="none" spellcheck="false" required autofocus${view.error ? html` aria-describedby="form-error"` : html``}>
<button type="submit" class="button button-primary">Sign in</button>
</form>` : html``}
${passkeyBlock}
${view.stepUp ? html`` : html`<p class="secondary"><a href="${branding.prefix}/login">Start again</a></p>`}`,
  );
}
