import type { AuditEntry } from '../store/types.js';
import { KeyValues } from './components.js';

/**
 * Events whose recorded actor is whatever an anonymous visitor typed (a name asked for on
 * "Forgot your password?", a sign-in attempt): the log shows them as anonymous, with the typed
 * text as a detail, so a visitor cannot make an entry look as if someone else acted.
 */
const TYPED_BY_ANONYMOUS = new Set(['password.reset_requested', 'password.reset_throttled', 'login.failure', 'login.throttled']);

/** Who acted, as the audit page shows it. */
export function AuditWho({ entry }: { entry: AuditEntry }) {
  if (entry.actor === null) return <span class="muted">—</span>;
  if (TYPED_BY_ANONYMOUS.has(entry.action)) return <span class="muted">anonymous</span>;
  return <>{entry.actor}</>;
}

/** The entry's details as "key: value" lines, with what an anonymous visitor typed first. */
export function AuditDetails({ entry }: { entry: AuditEntry }) {
  const pairs: Array<[string, unknown]> = [];
  if (entry.actor !== null && TYPED_BY_ANONYMOUS.has(entry.action)) pairs.push(['typed', entry.actor]);
  for (const [key, value] of Object.entries(entry.detail ?? {})) pairs.push([key, value]);
  return <KeyValues entries={pairs} />;
}
