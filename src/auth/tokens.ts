import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Bytes of randomness in a session or link secret: 256 bits (ASVS 5.0 V7.2.3 asks for ≥ 128). */
const SECRET_BYTES = 32;
const ID_BYTES = 16;

export interface SplitToken {
  id: string;
  secret: string;
}

/** A fresh `<id>.<secret>` token; both halves base64url from crypto.randomBytes. */
export function generateToken(): { token: string; id: string; secret: string } {
  // An id is typed on command lines (`dashgate invite revoke <id>`): one starting with "-" was read as an option.
  let id = randomBytes(ID_BYTES).toString('base64url');
  while (id.startsWith('-')) id = randomBytes(ID_BYTES).toString('base64url');
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { token: `${id}.${secret}`, id, secret };
}

const TOKEN_SHAPE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

/** Splits a token of the exact shape generateToken makes; anything else is `null`. */
export function splitToken(token: string): SplitToken | null {
  const match = TOKEN_SHAPE.exec(token);
  return match ? { id: match[1]!, secret: match[2]! } : null;
}

/** SHA-256 of a secret, hex. Only this is stored: a leaked table yields no usable token. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of two hex digests of equal length. */
export function digestsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}
