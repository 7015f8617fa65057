/**
 * NIST SP 800-63B rev 4 §3.1.1.2: a minimum length, at least 64 characters accepted, no
 * composition rules, and a check against a list of commonly used or compromised passwords.
 * The list is zxcvbn-ts's common-password dictionary (≈49k entries from real breaches), loaded
 * on first use: a running gateway that never sets a password does not keep it in memory.
 */
let commonPasswords: Promise<ReadonlySet<string>> | undefined;

function loadCommonPasswords(): Promise<ReadonlySet<string>> {
  commonPasswords ??= import('@zxcvbn-ts/language-common').then(({ dictionary }) => new Set(dictionary.passwords.map((p) => p.toLowerCase())));
  return commonPasswords;
}

export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
}

/** Length in Unicode code points after NFKC, as NIST counts characters (not UTF-16 units). */
function characterCount(password: string): number {
  return [...password.normalize('NFKC')].length;
}

/**
 * Why this password cannot be chosen, or `null` when it can. `context` holds words the
 * password must not be (the username, the app name): NIST asks for context-specific words.
 */
export async function passwordProblem(password: string, policy: PasswordPolicy, context: readonly string[] = []): Promise<string | null> {
  const length = characterCount(password);
  if (length < policy.minLength) return `Password must be at least ${policy.minLength} characters long.`;
  if (length > policy.maxLength) return `Password must be at most ${policy.maxLength} characters long.`;
  const lowered = password.normalize('NFKC').toLowerCase();
  if ((await loadCommonPasswords()).has(lowered)) return 'This password is on a list of commonly used passwords. Choose another one.';
  if (/^(.)\1+$/u.test(lowered)) return 'Password must not be a single repeated character.';
  for (const word of context) {
    if (word.length >= 3 && lowered === word.normalize('NFKC').toLowerCase()) return 'Password must not be your username or the app name.';
  }
  return null;
}
