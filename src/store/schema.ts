import type { Generated } from 'kysely';

/** Row shapes as stored. Domain objects (User, Session, …) live in store/types.ts. */
export interface UserRow {
  id: string;
  username: string;
  display_name: string | null;
  email: string | null;
  password_hash: string | null;
  is_admin: number;
  status: string;
  created_at: number;
  updated_at: number;
}

export interface GroupRow {
  id: string;
  name: string;
  created_at: number;
}

export interface UserGroupRow {
  user_id: string;
  group_id: string;
}

export interface SessionRow {
  id: string;
  secret_hash: string;
  user_id: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  ip: string | null;
  user_agent: string | null;
  auth_method: string;
}

export interface ApiTokenRow {
  id: string;
  secret_hash: string;
  user_id: string;
  name: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  created_by: string | null;
}

export interface InviteRow {
  id: string;
  token_hash: string;
  purpose: string;
  email: string | null;
  groups_json: string;
  is_admin: number;
  created_by: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
}

export interface AuditRow {
  id: Generated<number>;
  at: number;
  actor: string | null;
  action: string;
  target: string | null;
  ip: string | null;
  detail: string | null;
}

export interface SettingRow {
  key: string;
  value: string;
}

export interface ThrottleRow {
  key: string;
  failures: number;
  first_failure_at: number;
  last_failure_at: number;
}

export interface EmailTokenRow {
  id: string;
  token_hash: string;
  purpose: string;
  user_id: string;
  email: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface TotpFactorRow {
  user_id: string;
  secret: string;
  confirmed_at: number | null;
  last_time_step: number;
  created_at: number;
}

export interface RecoveryCodeRow {
  id: string;
  user_id: string;
  code_hash: string;
  used_at: number | null;
}

export interface PasskeyRow {
  id: string;
  user_id: string;
  public_key: string;
  counter: number;
  transports: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

export interface SsoIdentityRow {
  provider: string;
  subject: string;
  user_id: string;
  email: string | null;
  /** JSON array of the group names this provider gave the user at the last sign-in. */
  synced_groups: string;
  created_at: number;
  last_login_at: number | null;
}

export interface SsoSessionRow {
  session_id: string;
  provider: string;
  id_token: string;
}

export interface Database {
  users: UserRow;
  groups: GroupRow;
  user_groups: UserGroupRow;
  sessions: SessionRow;
  api_tokens: ApiTokenRow;
  invites: InviteRow;
  audit_log: AuditRow;
  settings: SettingRow;
  throttle: ThrottleRow;
  email_tokens: EmailTokenRow;
  totp_factors: TotpFactorRow;
  recovery_codes: RecoveryCodeRow;
  passkeys: PasskeyRow;
  sso_identities: SsoIdentityRow;
  sso_sessions: SsoSessionRow;
}
