import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseConfig } from '../../src/config/load.js';
import { GatewayError } from '../../src/errors.js';
import { createAuthorizer } from '../../src/pipeline/authorize.js';
import { withoutParams } from '../../src/pipeline/canonical-path.js';
import { readForwardedRequest } from '../../src/pipeline/forward-auth.js';
import type { RequestScope } from '../../src/pipeline/scope.js';

/**
 * Property (forward-auth): in forward-auth mode the app receives the URI as the client wrote it,
 * not the canonical path the gateway judged. So for any URI built from the pieces
 * path-confusion attacks are made of, when the check lets an anonymous caller through (everything
 * is public but /admin/**), no way an app may read that raw URI may lie under /admin: decoded once
 * and dot segments resolved (werkzeug, Express), cut at "#" (gunicorn, most HTTP servers), with
 * ";params" dropped (servlet containers), or routed as received, without resolving anything.
 * Regression: judging the canonical form alone let "/admin/x#/../../public/y" and
 * "/admin/../public/y" through as public while nginx and Caddy forwarded them unchanged.
 */
const pieces = ['a', 'admin', 'public', '.', '..', '%2e', '%2E%2e', '.%2e', '%2f', '%2F', '%5c', '%252e', '%25', ';', ';x=1', '%3b', '#', '%23', '?', '%3f', '%00', '%20', 'é', '%c3%a9', '\\', '*', '@', ':'];
const segment = fc.array(fc.constantFrom(...pieces), { minLength: 0, maxLength: 4 }).map((parts) => parts.join(''));
const uri = fc
  .tuple(
    fc.constantFrom('', '', 'http://app.example', 'http://other.example'),
    fc.constantFrom('', 'public/', 'admin/', 'admin/', 'admin/x/'),
    fc.array(segment, { minLength: 1, maxLength: 5 }),
    fc.boolean(),
    fc.option(fc.constantFrom('?x=/admin', '?a=%2f..', '#frag'), { nil: undefined }),
  )
  .map(([origin, start, segments, extraSlash, tail]) => `${origin}${extraSlash ? '/' : ''}/${start}${segments.join('/')}${tail ?? ''}`);

function decodeLoosely(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Every path an app could take the raw URI for. */
function appViews(raw: string): string[] {
  const target = raw.replace(/^[a-z]+:\/\/[^/?#]*/i, '');
  const views: string[] = [];
  for (const path of [target.split('?')[0]!, target.split(/[?#]/)[0]!]) {
    const resolved: string[] = [];
    for (const piece of path.split('/').slice(1).map(decodeLoosely).flatMap((s) => s.split(/[/\\]/))) {
      if (piece === '..' || piece.startsWith('..;')) resolved.pop();
      else if (piece !== '.' && piece !== '' && !piece.startsWith('.;')) resolved.push(piece);
    }
    const plain = `/${resolved.join('/')}`;
    // As received (repeated slashes aside: an app that keeps "//public" finds nothing else there).
    const asReceived = path.replace(/\/{2,}/g, '/');
    views.push(plain, withoutParams(plain), asReceived, asReceived.split('/').map(decodeLoosely).join('/'));
  }
  return views;
}

const config = parseConfig({
  upstream: 'http://127.0.0.1:1',
  server: { trusted_proxies: ['127.0.0.1'] },
  forward_auth: { enabled: true },
  access: { default: 'public', rules: [{ path: '/admin/**', policy: 'deny' }] },
});
const authorizer = createAuthorizer(config);
const auth: RequestScope = { path: '/_dashgate/auth', wirePath: '/_dashgate/auth', query: '', matchPath: '/_dashgate/auth', id: 'test', clientIp: '127.0.0.1', peerIp: '127.0.0.1', peerTrusted: true, proto: 'http', host: 'gw', hostname: 'gw' };

function checkOf(forwardedUri: string): IncomingMessage {
  const headers = { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example', 'x-forwarded-uri': forwardedUri };
  return { headers, rawHeaders: Object.entries(headers).flat() } as unknown as IncomingMessage;
}

describe('property: forward-auth never lets a URI through as public that an app may read as something else', () => {
  it('a URI let through is outside /admin in every reading an app may make of it', () => {
    let refusedAdmin = 0;
    fc.assert(
      fc.property(uri, (raw) => {
        let scope: RequestScope;
        try {
          ({ scope } = readForwardedRequest(checkOf(raw), auth));
        } catch (err) {
          assert.ok(err instanceof GatewayError, String(err));
          return;
        }
        if (authorizer.match(scope, 'GET').policy.kind !== 'public') {
          refusedAdmin++;
          return;
        }
        for (const view of appViews(raw)) {
          const path = withoutParams(view);
          assert.ok(path !== '/admin' && !path.startsWith('/admin/'), `${raw} judged public (${scope.matchPath}); an app may read ${view}`);
        }
      }),
      { numRuns: 5000 },
    );
    assert.ok(refusedAdmin > 50, `too few /admin URIs generated (${refusedAdmin}) for the property to say anything`);
  });
});
