import { GatewayError } from '../errors.js';
import { canonicalizeTarget } from '../pipeline/canonical-path.js';
import { valuesByPosition, type DeclaredCallback } from './dash-dependencies.js';

/**
 * Page rules for in-app navigation. A Dash app is a single-page app: after the first load a
 * click on a `dcc.Link` changes `dcc.Location` in the browser and the new page is rendered by a
 * callback whose input (or state) is the location (`_pages_location.pathname` for Dash Pages,
 * `url.pathname` in the tutorial's pattern). The path named there is what the app renders, so it
 * is judged with the path rules, exactly as a reload of that address would be.
 */

/** dcc.Location properties that name a path. `search` and `hash` never change which page renders. */
const PATH_PROPERTIES = new Set(['pathname', 'href']);

/** One location a callback carries: the component and property, and the canonical match path it names. */
export interface CallbackLocation {
  id: string | Record<string, unknown>;
  property: 'pathname' | 'href';
  /** Canonical path as the path rules see it (`matchPath`): what a reload of the page would be judged as. */
  matchPath: string;
  /** The canonical path, for messages. */
  path: string;
}

/**
 * Every location a callback carries: the values the body gives, by position, for the arguments
 * the app declared with property `pathname` or `href` (any component id, pattern-matching lists
 * included; the ids in the body are never believed, see dash-dependencies.ts). Throws
 * BAD_CALLBACK for a value that is not a string or that the gateway refuses as a path (encoded
 * "/", control bytes, climbing above "/"): the app must never render a page for a path the
 * gateway could not judge.
 */
export function callbackLocations(declaredCallback: DeclaredCallback, body: unknown, dashPrefix = '/'): CallbackLocation[] {
  const prefix = dashPrefix.replace(/\/+$/, '');
  const found: CallbackLocation[] = [];
  for (const { dependency, value } of valuesByPosition(declaredCallback, body, PATH_PROPERTIES)) {
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string') throw new GatewayError('BAD_CALLBACK');
    const property = dependency.property as 'pathname' | 'href';
    const judged = new Set<string>();
    for (const target of candidatePaths(property, value)) {
      const path = judgedPath(target, prefix);
      if (!judged.has(path.matchPath)) found.push({ id: dependency.id, property, ...path });
      judged.add(path.matchPath);
    }
  }
  return found;
}

/** The path rules' view of a location a callback carries as `pathname` (what `access explain --location` shows). */
export function locationMatchPath(pathname: string, dashPrefix = '/'): { matchPath: string; path: string } {
  return judgedPath(pathname.split(/[?#]/, 1)[0]!, dashPrefix.replace(/\/+$/, ''));
}

/**
 * The path (or paths) a location value can be read as. An href is read the way a browser reads
 * it (WHATWG: "\\" as "/", dot segments resolved) and, in case the app parses it more naively
 * (Python's urlsplit), as the text after its authority: both are judged.
 */
function candidatePaths(property: 'pathname' | 'href', value: string): string[] {
  if (property === 'pathname') return [value.split(/[?#]/, 1)[0]!];
  let browser: string;
  try {
    browser = new URL(value, 'http://location.invalid/').pathname;
  } catch {
    throw new GatewayError('BAD_CALLBACK');
  }
  const split = urlsplitPath(value);
  return split === browser || split === '' ? [browser] : [browser, split];
}

/**
 * The path of a URL as Python's `urllib.parse.urlsplit` reads it (what an app does with an href):
 * leading C0 controls and spaces dropped, tab/CR/LF removed, an optional `scheme:`, an authority
 * only after "//", the path up to "?" or "#". So "https:/reports" is "/reports" here, where a
 * browser reads the host "reports" and the path "/".
 */
function urlsplitPath(value: string): string {
  let rest = value.replace(/^[\u0000-\u0020]+/, '').replace(/[\t\r\n]/g, '');
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length);
  if (rest.startsWith('//')) {
    const end = rest.slice(2).search(/[/?#]/);
    rest = end === -1 ? '' : rest.slice(2 + end);
  }
  return rest.split(/[?#]/, 1)[0]!;
}

/**
 * A location as the path rules must see it: what Dash renders for it. Dash finds the page with
 * `strip_relative_path`, which cuts the prefix without its trailing slash ("/app") and then every
 * leading and trailing "/": so under prefix "/app/", "/appreports" renders the "reports" page and
 * is judged as "/app/reports". A path that does not start with "/" ("reports") is judged as
 * "/reports". Canonicalised like a request path; a path the gateway would refuse refuses the callback.
 */
function judgedPath(value: string, prefix: string): { matchPath: string; path: string } {
  // Dash compares the text as it is: "/reports/../about" matches the template "reports/<q>" (its
  // "*" takes "/"), so a dot segment cannot be resolved away here. A browser never sends one.
  for (const segment of value.split('/')) {
    const dots = segment.replace(/%2e/gi, '.').split(';', 1)[0];
    if (dots === '.' || dots === '..') throw new GatewayError('BAD_CALLBACK');
  }
  let target = value.startsWith('/') ? value : `/${value}`;
  if (prefix !== '' && target.startsWith(prefix)) target = `${prefix}/${target.slice(prefix.length).replace(/^\/+/, '')}`;
  try {
    const canonical = canonicalizeTarget(target);
    return { matchPath: canonical.matchPath, path: canonical.path };
  } catch {
    throw new GatewayError('BAD_CALLBACK');
  }
}
