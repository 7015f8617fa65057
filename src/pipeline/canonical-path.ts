import { GatewayError } from '../errors.js';

/** The one path every decision sees, and the path the app receives. */
export interface CanonicalTarget {
  /** Decoded once, dot segments resolved, repeated slashes merged. */
  path: string;
  /** The same path, percent-encoded for the wire: what is forwarded upstream. */
  wirePath: string;
  /** Raw query string including its leading "?", or "". Never used for decisions. */
  query: string;
  /**
   * What access rules match against: `path` with each segment's `;params` removed and segments
   * left empty by that dropped, the way servlet containers and Spring read a path. So
   * `/admin;x=1` and `/;x/admin` are judged as `/admin`: a `;` can never end a match early.
   * Equal to `path` (same string) when the path holds no ";".
   */
  matchPath: string;
}

// A path made only of characters that need no decoding, with no dot segments and no "//":
// by far the common case (Dash's `/_dash-update-component`), returned without any work.
const PLAIN_PATH = /^(?:\/[A-Za-z0-9\-_~!$&'()*+,;=:@]+(?:\.[A-Za-z0-9\-_~!$&'()*+,;=:@]+)*)*\/?$/;
const SEGMENT_SAFE = /^[A-Za-z0-9\-_.~!$&'()*+,;=:@]*$/;
const CONTROL = /[\u0000-\u001f\u007f]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Turns a request target into its canonical form or throws `BAD_PATH`. Percent-decodes exactly
 * once; refuses encoded "/" or "\" inside a segment, raw "\", NUL and control characters,
 * malformed escapes and invalid UTF-8; resolves "." and ".." and refuses to climb above "/";
 * merges repeated slashes. `;params` and "#" stay part of their segment (but "..;" and ".;" are
 * refused, and rules see `matchPath`, which drops params). Absolute-form targets
 * (RFC 9112 §3.2.2) are reduced to their path; "*" and other forms are refused.
 */
export function canonicalizeTarget(target: string): CanonicalTarget {
  let rest = target;
  if (!rest.startsWith('/')) {
    const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(rest);
    if (!absolute) throw new GatewayError('BAD_PATH');
    rest = rest.slice(absolute[0].length) || '/';
    if (!rest.startsWith('/')) rest = `/${rest}`;
  }
  const q = rest.indexOf('?');
  const rawPath = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? '' : rest.slice(q);
  if (PLAIN_PATH.test(rawPath) && !rawPath.includes('//')) return { path: rawPath, wirePath: rawPath, query, matchPath: rawPath.includes(';') ? withoutParams(rawPath) : rawPath };
  const path = canonicalizePath(rawPath);
  return { path, wirePath: encodePath(path), query, matchPath: path.includes(';') ? withoutParams(path) : path };
}

/** `path` with every segment cut at its first ";" and segments left empty dropped (see matchPath). */
export function withoutParams(path: string): string {
  const trailingSlash = path.length > 1 && path.endsWith('/');
  const kept = path
    .split('/')
    .map((segment) => segment.split(';', 1)[0]!)
    .filter((segment) => segment !== '');
  if (kept.length === 0) return '/';
  return `/${kept.join('/')}${trailingSlash ? '/' : ''}`;
}

/** Canonical form of a path alone (no query). Exported for the unit tests and rule tools. */
export function canonicalizePath(rawPath: string): string {
  if (rawPath.includes('\\')) throw new GatewayError('BAD_PATH');
  const trailingSlash = rawPath.length > 1 && /\/(\.{1,2})?$/.test(rawPath);
  const out: string[] = [];
  for (const rawSegment of rawPath.split('/')) {
    if (rawSegment === '') continue;
    const segment = decodeSegment(rawSegment);
    // "..;x" is ".." to Tomcat and Spring (the "..;/" bypass): a dot segment with params is refused.
    if (segment.includes(';') && /^\.\.?;/.test(segment)) throw new GatewayError('BAD_PATH');
    if (segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) throw new GatewayError('BAD_PATH');
      out.pop();
      continue;
    }
    out.push(segment);
  }
  if (out.length === 0) return '/';
  return `/${out.join('/')}${trailingSlash ? '/' : ''}`;
}

function decodeSegment(raw: string): string {
  if (!raw.includes('%')) {
    if (CONTROL.test(raw)) throw new GatewayError('BAD_PATH');
    return raw;
  }
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === 0x25) {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new GatewayError('BAD_PATH');
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (code < 0x80) {
      bytes.push(code);
    } else {
      // Node's parser hands over raw bytes as latin1 characters; keep them as bytes.
      bytes.push(code & 0xff);
    }
  }
  let segment: string;
  try {
    segment = utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw new GatewayError('BAD_PATH');
  }
  // An encoded "/" or "\" would split differently in the app than here (the %2f bypass).
  if (segment.includes('/') || segment.includes('\\') || CONTROL.test(segment)) throw new GatewayError('BAD_PATH');
  return segment;
}

/** Percent-encodes what a segment may not carry literally (RFC 3986 §3.3 pchar), plus "#" and "?". */
export function encodePath(path: string): string {
  return path
    .split('/')
    .map((segment) => (SEGMENT_SAFE.test(segment) ? segment : encodeSegment(segment)))
    .join('/');
}

function encodeSegment(segment: string): string {
  let out = '';
  for (const char of segment) out += SEGMENT_SAFE.test(char) ? char : encodeURIComponent(char);
  return out;
}
