import { AccountError } from '../accounts/errors.js';

/** The AccountError that refused a change (its message is shown on the page), or the error rethrown. */
export function accountRefusal(err: unknown): AccountError {
  if (err instanceof AccountError) return err;
  throw err;
}
