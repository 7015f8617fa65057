import type { PasswordPolicy } from '../auth/password-policy.js';
import { html, type SafeHtml } from './html.js';

/** Problems of a submitted form by field name; `form` for one that belongs to no field. */
export type FieldErrors = Partial<Record<string, string>>;

/**
 * A labelled input with its hint and its error under it, tied together for screen readers
 * (aria-describedby, aria-invalid). Values are shown again as typed; password inputs never are.
 */
export function field(options: {
  id: string;
  name: string;
  label: string;
  type?: 'text' | 'email' | 'password' | 'search';
  value?: string;
  error?: string | undefined;
  hint?: SafeHtml | string;
  optional?: string;
  autocomplete?: string;
  required?: boolean;
  autofocus?: boolean;
  extra?: SafeHtml;
}): SafeHtml {
  const type = options.type ?? 'text';
  const hintId = options.hint ? `${options.id}-hint` : null;
  const errorId = options.error ? `${options.id}-error` : null;
  const describedBy = [errorId, hintId].filter(Boolean).join(' ');
  const value = type === 'password' ? '' : (options.value ?? '');
  return html`<div class="field${options.error ? ' field-invalid' : ''}">
<label for="${options.id}">${options.label}${options.optional ? html` <span class="optional">(${options.optional})</span>` : html``}</label>
${options.hint ? html`<p class="hint" id="${hintId}">${options.hint}</p>` : html``}
<input id="${options.id}" name="${options.name}" type="${type}"${type === 'password' ? html`` : html` value="${value}"`}${options.autocomplete ? html` autocomplete="${options.autocomplete}"` : html``}${type === 'text' && options.autocomplete === 'username' ? html` autocapitalize="none" spellcheck="false"` : html``}${options.required ? html` required` : html``}${options.autofocus ? html` autofocus` : html``}${describedBy ? html` aria-describedby="${describedBy}"` : html``}${options.error ? html` aria-invalid="true"` : html``}${options.extra ?? html``}>
${options.error ? html`<p class="field-error" id="${errorId}">${options.error}</p>` : html``}
</div>`;
}

/** The password rules in words, from the configured policy (NIST SP 800-63B: length and a blocklist, no composition rules). */
export function passwordRules(policy: PasswordPolicy): string {
  return `At least ${policy.minLength} characters (up to ${policy.maxLength}). A few unrelated words make a good one; no digits or symbols are required. Commonly used passwords and your username are refused.`;
}

/** A new password and its repetition, with the rules stated before typing. The inputs are always empty. */
export function newPasswordBlock(options: { policy: PasswordPolicy; errors: FieldErrors; label?: string; repeatLabel?: string; autofocus?: boolean }): SafeHtml {
  return html`${field({ id: 'password', name: 'password', label: options.label ?? 'Password', type: 'password', autocomplete: 'new-password', required: true, error: options.errors.password, hint: passwordRules(options.policy), autofocus: options.autofocus ?? false })}
${field({ id: 'password2', name: 'password2', label: options.repeatLabel ?? 'Repeat password', type: 'password', autocomplete: 'new-password', required: true, error: options.errors.password2 })}`;
}

/** "Fix these N things" at the top of a refused form, each a link to its field. */
export function errorSummary(errors: FieldErrors, labels: Record<string, string>): SafeHtml {
  const entries = Object.entries(errors).filter((e): e is [string, string] => typeof e[1] === 'string');
  if (entries.length === 0) return html``;
  return html`<div class="notice notice-error" role="alert" id="form-error">
<p>${entries.length === 1 ? 'One thing to fix:' : `${entries.length} things to fix:`}</p>
<ul class="error-list">${entries.map(([name, message]) => (name === 'form' || !labels[name] ? html`<li>${message}</li>` : html`<li><a href="#${name}">${labels[name]}</a>: ${message}</li>`))}</ul>
</div>`;
}
