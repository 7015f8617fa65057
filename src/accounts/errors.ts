/**
 * Why an account operation was refused. One class for the family, a stable `code` callers and
 * tests match on, a `status` for the web, and a `message` that is safe to show as it is (it
 * names only what the caller typed).
 */
export const ACCOUNT_ERRORS = {
  USERNAME_INVALID: 400,
  USERNAME_TAKEN: 409,
  EMAIL_INVALID: 400,
  EMAIL_TAKEN: 409,
  EMAIL_DOMAIN_NOT_ALLOWED: 400,
  PASSWORD_REJECTED: 400,
  GROUP_NAME_INVALID: 400,
  GROUP_EXISTS: 409,
  GROUP_NOT_FOUND: 404,
  GROUP_PROTECTED: 400,
  ADMINS_GROUP_FOLLOWS_ROLE: 400,
  LAST_ACTIVE_ADMIN: 409,
  USER_INACTIVE: 400,
  SIGNUP_DECIDED: 404,
  LINK_UNUSABLE: 410,
  INVITE_NOT_FOUND: 404,
  SSO_LINK_EXISTS: 409,
  SSO_LINK_NOT_FOUND: 404,
} as const satisfies Record<string, number>;

export type AccountErrorCode = keyof typeof ACCOUNT_ERRORS;

export class AccountError extends Error {
  readonly code: AccountErrorCode;
  readonly status: number;

  constructor(code: AccountErrorCode, message: string) {
    super(message);
    this.name = 'AccountError';
    this.code = code;
    this.status = ACCOUNT_ERRORS[code];
  }
}
