/**
 * Returns `value` when it is a same-origin relative path that is safe to redirect to after
 * sign-in or sign-out, else `fallback`. Rejects everything a browser could read as another origin:
 * `//evil`, `/\evil`, `/%09/evil` (browsers strip tab/newline), `https:…`, `javascript:…`.
 */
export function safeNextPath(value: unknown, fallback = '/'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return fallback;
  if (!value.startsWith('/')) return fallback;
  // Browsers drop ASCII tab/LF/CR anywhere in a URL and treat "\" as "/" (WHATWG URL §4.4).
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return fallback;
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
