/**
 * The small pattern languages of access rules, each compiled once at start-up to a RegExp or a
 * predicate, so matching a request costs one `test()` per rule.
 *
 *   path   `/reports/**`  this path and everything below it
 *          `/team/*\/edit` `*` is any run of characters inside one segment (never "/")
 *          `/exact`       only that path (a trailing "/" on the request does not matter)
 *   host   `dash.example.com`, `*.example.com` (one or more labels), case-insensitive
 */

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\]/g;

/** Why a path pattern cannot be used, or null. The config loader reports it with its path. */
export function pathPatternProblem(pattern: string): string | null {
  if (!pattern.startsWith('/')) return `path patterns start with "/", got ${JSON.stringify(pattern)}`;
  const segments = pattern === '/' ? [] : pattern.replace(/\/$/, '').slice(1).split('/');
  for (const [i, segment] of segments.entries()) {
    if (segment === '') return `${JSON.stringify(pattern)} has an empty segment ("//")`;
    if (segment === '**') {
      if (i !== segments.length - 1) return `"**" may only end a pattern ("/reports/**"), in ${JSON.stringify(pattern)}`;
      continue;
    }
    if (segment.includes('**')) return `"**" must be a whole last segment ("/reports/**"), in ${JSON.stringify(pattern)}`;
    if (segment === '.' || segment === '..') return `dot segments cannot match anything (requests are resolved first), in ${JSON.stringify(pattern)}`;
    if (/[?#%;\\\u0000-\u001f\u007f]/.test(segment)) {
      return `write paths decoded and without "?", "#", "%", ";" or "\\" (rules see the canonical path), in ${JSON.stringify(pattern)}`;
    }
  }
  return null;
}

/** Compiles a valid path pattern (see pathPatternProblem) into a RegExp over canonical match paths. */
export function compilePathPattern(pattern: string): RegExp {
  const trimmed = pattern.replace(/\/$/, '');
  if (trimmed === '' ) return /^\/$/;
  if (trimmed === '/**') return /^\//;
  const prefix = trimmed.endsWith('/**');
  const body = (prefix ? trimmed.slice(0, -3) : trimmed)
    .split('/')
    .map((segment) => segment.replace(REGEX_SPECIAL, (c) => (c === '*' ? '[^/]*' : `\\${c}`)))
    .join('/');
  // A "*" segment needs at least one character: "/team/*" does not match "/team/".
  const fixed = body.replace(/(^|\/)\[\^\/\]\*(?=\/|$)/g, '$1[^/]+');
  return new RegExp(prefix ? `^${fixed}(?:/.*)?$` : `^${fixed}/?$`);
}

export function hostPatternProblem(pattern: string): string | null {
  if (!/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(pattern)) {
    return `expected a host name such as "dash.example.com" or "*.example.com" (no port, no scheme), got ${JSON.stringify(pattern)}`;
  }
  return null;
}

/** Compiles a valid host pattern into a RegExp over normalised host names (scope.hostname). */
export function compileHostPattern(pattern: string): RegExp {
  const lower = pattern.toLowerCase();
  if (lower.startsWith('*.')) return new RegExp(`^(?:[a-z0-9-]+\\.)+${lower.slice(2).replace(REGEX_SPECIAL, '\\$&')}$`);
  return new RegExp(`^${lower.replace(REGEX_SPECIAL, '\\$&')}$`);
}

/** A glob where "*" is any run of characters (used for Dash component ids and properties). */
export function compileGlob(glob: string): RegExp {
  return new RegExp(`^${glob.replace(REGEX_SPECIAL, (c) => (c === '*' ? '.*' : `\\${c}`))}$`, 's');
}
