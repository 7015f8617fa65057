import type { IncomingMessage } from 'node:http';
import type { RequestScope } from './scope.js';

/** How a refused request is answered: a browser navigation is redirected, anything scripted gets JSON. */
export type Refusal =
  | { kind: 'redirect'; status: 303; location: string }
  | { kind: 'json'; status: 401 | 403; body: { error: 'login_required'; login_url: string } | { error: 'forbidden' } }
  | { kind: 'page'; status: 403 };

/**
 * Step 5: the answer for a request that may not pass. Dash's front end talks to the server with
 * fetch (`/_dash-layout`, `/_dash-update-component`, …) and fails silently on an HTML redirect,
 * so anything that is not a plain page navigation gets a 401 JSON it (and the page helper) can read.
 */
export function createOutcome(options: { prefix: string }) {
  const loginPath = `${options.prefix}/login`;

  return function describeRefusal(req: IncomingMessage, scope: RequestScope, reason: 'login_required' | 'forbidden', isUpgrade = false): Refusal {
    const scripted = isUpgrade || isScriptedRequest(req, scope);
    if (reason === 'forbidden') return scripted ? { kind: 'json', status: 403, body: { error: 'forbidden' } } : { kind: 'page', status: 403 };
    const next = scope.wirePath + scope.query;
    if (scripted) return { kind: 'json', status: 401, body: { error: 'login_required', login_url: `${loginPath}?next=${encodeURIComponent(next)}` } };
    return { kind: 'redirect', status: 303, location: next === '/' ? loginPath : `${loginPath}?next=${encodeURIComponent(next)}` };
  };
}

/**
 * True for fetch/XHR/callbacks; false for a browser loading a page. DESIGN.md's criteria: a
 * method other than GET/HEAD, a Dash `_dash-` route, or a JSON-only Accept (plus
 * X-Requested-With, which XHR libraries send). Sec-Fetch-Mode is not used: every fetch() sends
 * "cors", including scripts that want the redirect a page would get.
 */
export function isScriptedRequest(req: IncomingMessage, scope: RequestScope): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return true;
  if (scope.path.includes('/_dash-')) return true;
  if (req.headers['x-requested-with'] !== undefined) return true;
  const accept = req.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}
