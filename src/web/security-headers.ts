/**
 * Headers on every page the gateway itself serves (ASVS 5.0 V3.4): a strict CSP (scripts only from
 * the gateway's own static files: the passkey ceremony needs one),
 * no framing (clickjacking on the sign-in form), no MIME sniffing, referrers only within the site (the
 * setup link's token never leaves it; no-referrer would make browsers send `Origin: null`), and no caching of pages that may show secrets.
 */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': pageCsp([]),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-store',
});

/**
 * The pages' CSP. `formTargets`: other origins a form on the page may end up at. Browsers apply
 * form-action to the redirects after a post as well, so the sign-out form, whose answer may
 * redirect to an identity provider's end-session endpoint, must name that provider.
 */
export function pageCsp(formTargets: readonly string[]): string {
  const formAction = ["'self'", ...formTargets].join(' ');
  return `default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data: https:; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`;
}
