import { AccountError, type AccountErrorCode } from '../accounts/errors.js';
import { checkNewEmail, checkNewUsername } from '../accounts/users.js';
import { passwordProblem } from '../auth/password-policy.js';
import type { WebContext } from './context.js';
import type { FieldErrors } from './form-fields.js';

/** The field an account refusal belongs to, so it is shown under that field. */
export function fieldOf(code: AccountErrorCode): string {
  if (code.startsWith('USERNAME_')) return 'username';
  if (code.startsWith('EMAIL_')) return 'email';
  if (code === 'PASSWORD_REJECTED') return 'password';
  return 'form';
}

async function problemOf(check: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await check();
    return undefined;
  } catch (err) {
    if (err instanceof AccountError) return err.message;
    throw err;
  }
}

/**
 * Every problem of a new-account form at once (username, email, password, the repetition),
 * asked of accounts/ and the password policy, which decide again when the account is made: a
 * person fixes them in one go instead of one per submit. A mismatch is reported only for a
 * password that is otherwise acceptable, so the password is not refused twice.
 */
export async function checkNewAccountForm(ctx: Pick<WebContext, 'accounts' | 'passwordPolicy' | 'branding'>, input: { username: string; email?: string | null; password: string; password2: string }): Promise<FieldErrors> {
  const errors: FieldErrors = {};
  const username = await problemOf(() => checkNewUsername(ctx.accounts, input.username));
  if (username) errors.username = username;
  if (input.email !== undefined) {
    const email = await problemOf(() => checkNewEmail(ctx.accounts, input.email));
    if (email) errors.email = email;
  }
  const password = await passwordProblem(input.password, ctx.passwordPolicy, [input.username, ctx.branding.appName, input.email ?? '']);
  if (password) errors.password = password;
  else if (input.password !== input.password2) errors.password2 = 'The two passwords are not the same.';
  return errors;
}

export const hasErrors = (errors: FieldErrors) => Object.values(errors).some((e) => e !== undefined);
