/**
 * Canonical username: NFKC-normalised, then case-folded, trimmed. Two spellings that a person
 * would read as the same name ("Alice", "ａｌｉｃｅ", "ALICE") map to one account.
 */
export function canonicalUsername(raw: string): string {
  return raw.normalize('NFKC').trim().toLowerCase().normalize('NFKC');
}

/**
 * Why a username cannot be used, or null when it can. Letters and digits of any script plus
 * `.`, `_`, `-`, `@` (so emails work as names); no spaces or control characters, which would be
 * confusing in headers and logs.
 */
export function usernameProblem(raw: string): string | null {
  const name = canonicalUsername(raw);
  if (name.length === 0) return 'Username is required.';
  if (name.length > 64) return 'Username must be at most 64 characters.';
  if (!/^[\p{L}\p{N}][\p{L}\p{N}._@-]*$/u.test(name)) {
    return 'Username may contain letters, digits, ".", "_", "-" and "@", and must start with a letter or digit.';
  }
  return null;
}
