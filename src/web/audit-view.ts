import type { AuditEntry } from '../store/types.js';
import { keyValues } from './components.js';
import { html, type SafeHtml } from './html.js';

/**
 * Events whose recorded actor is whatever an anonymous visitor typed (a name asked for on
 * "Forgot your password?", a sign-in attempt): the log shows them as anonymous, with the typed
 * text as a detail, so a visitor cannot make an entry look as if someone else acted.
 */
const TYPED_BY_ANONYMOUS = new Set(['password.reset_requested', 'password.reset_throttled', 'login.failure', 'login.throttled']);

/** Who acted, as the audit page shows it. */
export function auditWho(entry: AuditEntry): SafeHtml {
  if (entry.actor === null) return html`<span class="muted">—</span>`;
  if (TYPED_BY_ANONYMOUS.has(entry.action)) return html`<span class="muted">anonymous</span>`;
  return html`${entry.actor}`;
}

/** The entry's details as "key: value" lines, with what an anonymous visitor typed first. */
export function auditDetails(entry: AuditEntry): SafeHtml {
  const pairs: Array<[string, unknown]> = [];
  if (entry.actor !== null && TYPED_BY_ANONYMOUS.has(entry.action)) pairs.push(['typed', entry.actor]);
  for (const [key, value] of Object.entries(entry.detail ?? {})) pairs.push([key, value]);
  return keyValues(pairs);
}
