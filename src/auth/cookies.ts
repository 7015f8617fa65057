/**
 * The session cookie (ASVS 5.0 V3.3): HttpOnly, SameSite=Lax, Path=/, and over HTTPS Secure with
 * the `__Host-` prefix, which browsers only accept when Secure, host-only and Path=/.
 */
export interface CookiePolicy {
  name: string;
  secure: boolean;
}

export function sessionCookieName(policy: CookiePolicy): string {
  return policy.secure ? `__Host-${policy.name}` : policy.name;
}

/** `Set-Cookie` value carrying a session token; without maxAge it lasts as long as the browser session. */
export function serializeSessionCookie(policy: CookiePolicy, token: string, maxAgeSeconds?: number): string {
  const parts = [`${sessionCookieName(policy)}=${token}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (policy.secure) parts.push('Secure');
  if (maxAgeSeconds !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`);
  return parts.join('; ');
}

/**
 * `Set-Cookie` value for one of the gateway's short-lived ceremony cookies (sign-in flow, second
 * step, passkey challenge): HttpOnly, scoped to the `path` of the routes that read it (so the app
 * never receives it), Secure when the session cookie is. A `maxAgeSeconds` of 0 removes it.
 */
export function serializeScopedCookie(policy: Pick<CookiePolicy, 'secure'>, cookie: { name: string; value: string; path: string; maxAgeSeconds: number; sameSite?: 'Lax' | 'Strict' }): string {
  const parts = [`${cookie.name}=${cookie.value}`, `Path=${cookie.path}`, 'HttpOnly', `SameSite=${cookie.sameSite ?? 'Lax'}`];
  if (policy.secure) parts.push('Secure');
  parts.push(`Max-Age=${Math.max(0, Math.floor(cookie.maxAgeSeconds))}`);
  return parts.join('; ');
}

/** `Set-Cookie` value that removes the session cookie. */
export function serializeClearedCookie(policy: CookiePolicy): string {
  return serializeSessionCookie(policy, '', 0);
}

/** The value of one cookie from a Cookie header, or undefined. No decoding: our tokens are URL-safe. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) return header.slice(eq + 1, end).trim();
    start = end + 1;
  }
  return undefined;
}

/** The Cookie header without one cookie (the app never sees the gateway's session token). */
export function removeCookie(header: string, name: string): string {
  return header
    .split(';')
    .filter((pair) => pair.split('=', 1)[0]!.trim() !== name)
    .join(';')
    .trim();
}
