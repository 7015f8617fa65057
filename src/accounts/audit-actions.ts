/**
 * Every action the audit log records, one name per event whoever caused it (console, shell,
 * single sign-on, the user). The store accepts only these, so a new caller cannot invent a
 * second spelling: the console wrote `user.deleted` where the shell wrote `user.removed`, the
 * account page `password.change` where the shell wrote `password.changed`.
 */
export const AUDIT_ACTIONS = [
  // signing in and out
  'login.success', 'login.failure', 'login.throttled', 'login.mfa_failure', 'login.recovery_code_used', 'login.step_up', 'login.sso_failure', 'login.sso_refused', 'logout',
  'token.failure', 'basic.failure',
  // accounts
  'user.created', 'user.imported', 'user.enabled', 'user.disabled', 'user.deleted', 'user.admin_granted', 'user.admin_revoked', 'user.groups_set',
  'group.created', 'group.renamed', 'group.removed', 'group.grant', 'group.revoke',
  'invite.created', 'invite.used', 'invite.revoked', 'setup.admin_created',
  'signup.created', 'signup.refused', 'signup.verified', 'signup.approved', 'signup.rejected',
  'sso.linked', 'sso.unlinked',
  // credentials
  'password.changed', 'password.reset', 'password.reset_link', 'password.reset_requested', 'password.reset_throttled', 'password.rehash',
  'token.create', 'token.revoke', 'session.revoked',
  'mfa.enrolled', 'mfa.disabled', 'mfa.reset', 'mfa.recovery_codes_renewed', 'passkey.added', 'passkey.renamed', 'passkey.removed',
  // operations
  'audit.exported', 'keys.rotated',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Names older versions wrote for the same events: the log viewer shows and finds them under today's name. */
export const RENAMED_AUDIT_ACTIONS: Readonly<Record<string, AuditAction>> = Object.freeze({
  'user.removed': 'user.deleted',
  'password.change': 'password.changed',
});

/** The name an audit entry is shown under: today's name for an event an older version recorded. */
export function currentActionName(recorded: string): string {
  return RENAMED_AUDIT_ACTIONS[recorded] ?? recorded;
}

/** The recorded names that mean `action`: itself and what older versions wrote for it. */
export function recordedNamesOf(action: string): string[] {
  return [action, ...Object.keys(RENAMED_AUDIT_ACTIONS).filter((old) => RENAMED_AUDIT_ACTIONS[old] === action)];
}
