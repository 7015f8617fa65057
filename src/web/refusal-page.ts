import { ERROR_TABLE } from '../errors.js';
import { html } from './html.js';
import { renderLayout, type Branding } from './pages.js';

/** Who was refused where (proxy/refusals.ts RefusalPageContext has the same shape). */
export interface RefusedAt {
  user: { username: string; displayName: string | null } | null;
  /** The path the browser asked for, to come back to after switching account. */
  path: string;
}

/**
 * A refusal page that is not a dead end: it names who is signed in (the usual reason for a 403
 * is the wrong account), offers the way back, "switch account" (sign out, then sign in again and
 * land where the browser was going) and the account page. `code` is the `x-dashgate` code, also
 * in the page as `data-code` for tests and scripts.
 */
export function renderRefusalPage(
  branding: Branding,
  view: { title: string; message: string; code: string; status: number; at: RefusedAt; back?: { href: string; label: string }; issues?: ReadonlyArray<{ field: string; message: string }> },
): string {
  const { user, path } = view.at;
  const prefix = branding.prefix;
  const back = view.back ?? (path === '/' || path.startsWith(`${prefix}/`) ? { href: `${prefix}/account`, label: 'Go to your account' } : { href: '/', label: `Back to ${branding.appName}` });
  const retry = view.status >= 500;
  return renderLayout(
    branding,
    view.title,
    html`<div data-code="${view.code}">
<h1 id="page-title">${view.title}</h1>
<p class="lead">${view.message}</p>
${view.issues?.length ? html`<ul class="error-list">${view.issues.map((i) => html`<li><code>${i.field}</code>: ${i.message}</li>`)}</ul>` : html``}
${
  user
    ? html`<p class="signed-in-as">You are signed in as <strong>${user.username}</strong>${user.displayName && user.displayName !== user.username ? html` (${user.displayName})` : html``}. If this should work for you, ask an administrator for access, or sign in with another account.</p>
<div class="actions actions-stack">
<a class="button button-primary" href="${back.href}">${back.label}</a>
<a class="button button-secondary" href="${prefix}/logout?switch=1&amp;next=${encodeURIComponent(path)}">Switch account</a>
</div>
<p class="secondary"><a href="${prefix}/account">Your account</a> · <a href="${prefix}/logout">Sign out</a></p>`
    : html`<p><a class="button button-primary" href="${view.back?.href ?? (retry ? '' : '/')}">${view.back?.label ?? (retry ? 'Try again' : 'Go to the start page')}</a></p>`
}
</div>`,
  );
}

/**
 * The `x-dashgate` code of a refusal page the proxy renders: the error-table entry it was made
 * from, else the one page that is not an error (a signed-in user without access).
 */
export function refusalPageCode(page: { title: string; message: string }, status: number): string {
  for (const [code, entry] of Object.entries(ERROR_TABLE)) if (entry.title === page.title && entry.detail === page.message) return code.toLowerCase();
  return status === 403 ? 'forbidden' : `status-${status}`;
}
