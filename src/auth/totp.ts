import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { Clock } from '../store/types.js';
import type { TokenSealer } from './sealed-token.js';

/** RFC 6238 defaults every authenticator app understands: SHA-1, 6 digits, 30 s; one step either side accepted. */
const PERIOD_S = 30;
const TOLERANCE_S = 30;
export const RECOVERY_CODE_COUNT = 10;

/** otplib is loaded at the first enrolment or code check, not at start-up. */
const otplib = () => import('otplib');

export async function newTotpSecret(): Promise<string> {
  return (await otplib()).generateSecret();
}

/** The otpauth:// URI an authenticator app scans. */
export async function otpauthUri(issuer: string, username: string, secret: string): Promise<string> {
  return (await otplib()).generateURI({ issuer, label: username, secret });
}

/** The URI as an inline SVG QR code, rendered on the server (the pages run no script). */
export async function qrSvg(uri: string): Promise<string> {
  // Loaded when someone enrols, not at start-up.
  const QRCode = (await import('qrcode')).default;
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

/** Checks a 6-digit code against a secret at `nowMs`; the accepted time step, or null. */
export async function checkCode(secret: string, code: string, nowMs: number, afterTimeStep = 0): Promise<number | null> {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return null;
  const result = await (await otplib()).verify({ secret, token, epoch: Math.floor(nowMs / 1000), epochTolerance: TOLERANCE_S, period: PERIOD_S, ...(afterTimeStep > 0 ? { afterTimeStep } : {}) });
  if (!result.valid) return null;
  // The TOTP strategy reports the matched step; fall back to computing it from the delta.
  const step = (result as { timeStep?: number }).timeStep;
  return step ?? Math.floor(nowMs / 1000 / PERIOD_S) + (result as { delta?: number }).delta!;
}

/**
 * Verifies a sign-in code for a user with a confirmed factor: valid within ±1 step and newer
 * than the last accepted code (a code works once, even under two simultaneous posts).
 */
export async function verifyTotp(store: Store, userId: string, code: string, now: Clock): Promise<boolean> {
  const factor = await store.factors.totp(userId);
  if (!factor || factor.confirmedAt === null) return false;
  const step = await checkCode(factor.secret, code, now(), factor.lastTimeStep);
  return step !== null && (await store.factors.advanceTimeStep(userId, step));
}

/** Ten fresh recovery codes ("abcde-fghij", 50 bits each); only their SHA-256 is stored. */
export async function regenerateRecoveryCodes(store: Store, userId: string): Promise<string[]> {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const bytes = randomBytes(10);
    const chars = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
  await store.factors.replaceRecoveryCodes(userId, codes.map(hashRecoveryCode));
  return codes;
}

export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(code.trim().toLowerCase().replace(/\s+/g, '')).digest('hex');
}

export function looksLikeRecoveryCode(value: string): boolean {
  return /^[a-z0-9]{5}-[a-z0-9]{5}$/i.test(value.trim());
}

/**
 * The short-lived proof that the first step (a password, or a provider) was passed, carried to
 * the second step in a cookie: a sealed token (sealed-token.ts, purpose `mfa-challenge`) bound
 * to the user and naming the first factor, five minutes.
 */
export class MfaChallenge {
  static readonly TTL_MS = 5 * 60_000;
  constructor(private readonly sealer: TokenSealer) {}

  /** `firstFactor` is how the first step was passed ("password", "sso:corp"); the session records it. */
  issue(userId: string, firstFactor = 'password'): Promise<string> {
    return this.sealer.seal('mfa-challenge', { sub: userId, ff: firstFactor }, MfaChallenge.TTL_MS);
  }

  /** The user id and first factor inside a valid, unexpired challenge, or null. */
  async open(value: string | undefined): Promise<{ userId: string; firstFactor: string } | null> {
    const claims = await this.sealer.open('mfa-challenge', value);
    if (typeof claims?.sub !== 'string' || typeof claims.ff !== 'string' || !/^(password|sso:[a-z0-9-]{1,32})$/.test(claims.ff)) return null;
    return { userId: claims.sub, firstFactor: claims.ff };
  }
}
