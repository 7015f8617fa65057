/**
 * Returns `value` when it is safe to redirect to after sign-in or sign-out, else `fallback`: a
 * same-origin relative path, or (forward-auth: the sign-in page serves apps on other hosts) an
 * absolute http(s) URL whose origin is one of `origins`, returned in its serialised form.
 * Rejects everything a browser could read as another origin: `//evil`, `/\evil`, `/%09/evil`
 * (browsers strip tab/newline), `https:…` elsewhere, `javascript:…`, userinfo (`https://app@evil`).
 */
export function safeNextPath(value: unknown, fallback = '/', origins: readonly string[] = []): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return fallback;
  // Browsers drop ASCII tab/LF/CR anywhere in a URL and treat "\" as "/" (WHATWG URL §4.4).
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return fallback;
  if (!value.startsWith('/')) return origins.length > 0 ? allowedAbsolute(value, origins) ?? fallback : fallback;
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return fallback;
  }
  if (/[\u0000-\u001f\u007f\\]/.test(decoded)) return fallback;
  if (value.startsWith('//') || decoded.startsWith('//')) return fallback;
  // Resolve against a placeholder origin: anything that leaves it is not a relative path.
  try {
    const resolved = new URL(value, 'http://dashgate.invalid');
    if (resolved.origin !== 'http://dashgate.invalid') return fallback;
    const path = resolved.pathname + resolved.search + resolved.hash;
    // Dot segments can produce a "//" only after resolution: "/.//evil" resolves to "//evil".
    return path.startsWith('//') || path.startsWith('/\\') ? fallback : path;
  } catch {
    return fallback;
  }
}

/**
 * An absolute URL on a configured origin, serialised by the URL parser (so what the browser is
 * sent to is exactly what was checked: "https:app.example.com" becomes "https://app.example.com/"),
 * or null. Only "scheme://" spellings are read; userinfo is refused outright, since
 * "https://app.example.com@evil.example" names evil.example to a browser.
 */
function allowedAbsolute(value: string, origins: readonly string[]): string | null {
  if (!/^https?:\/\/[^/?#]/i.test(value) || /\s/.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  const authority = /^https?:\/\/([^/?#]*)/i.exec(value)![1]!;
  // Userinfo, and escapes a host should never need ("%61pp" is decoded by the parser): refused, not interpreted.
  if (url.username !== '' || url.password !== '' || /[@%]/.test(authority)) return null;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return origins.includes(url.origin) ? url.href : null;
}
