import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalizeTarget } from '../../src/pipeline/canonical-path.js';
import { GatewayError } from '../../src/errors.js';
import { rawRequest, startRecordingUpstream, startSignedIn, type TestGateway } from '../helpers/harness.js';

/**
 * Property: for any request target built from the pieces path-confusion attacks are made of, the
 * path the app receives means, to the app, exactly the path the gateway judged; or the gateway
 * refused it and the app received nothing. "Means to the app" is the app decoding once and
 * resolving dot segments (what Flask/werkzeug, Express and most routers do); the gateway's
 * wire path must already be in that resolved form, so no app-side normalisation can change it.
 */
const pieces = ['a', 'admin', 'public', '.', '..', '%2e', '%2E%2e', '%2f', '%2F', '%5c', '%252f', '%25', ';', ';x=1', '%3b', '#', '%23', '?', '%3f', '%00', '%0a', '%20', 'é', '%c3%a9', '%ff', '\\', '*', '~', '@', ':'];
const segment = fc.array(fc.constantFrom(...pieces), { minLength: 0, maxLength: 4 }).map((parts) => parts.join(''));
const target = fc
  .tuple(fc.array(segment, { minLength: 1, maxLength: 6 }), fc.boolean(), fc.option(fc.constantFrom('?x=/admin', '?a=%2f..', '?q=1'), { nil: undefined }))
  .map(([segments, extraSlash, query]) => `${extraSlash ? '/' : ''}/${segments.join('/')}${query ?? ''}`);

/** How the app reads a path it receives: percent-decode once, then resolve dot segments. */
function appView(wirePath: string): string {
  const decoded = wirePath.split('/').map((s) => decodeURIComponent(s));
  const out: string[] = [];
  for (const part of decoded.slice(1)) {
    if (part === '..') out.pop();
    else if (part !== '.') out.push(part);
  }
  return `/${out.join('/')}`;
}

describe('property: the app and the rule engine never disagree about the path', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let gw: TestGateway;
  let cookie: string;

  let close: () => Promise<void>;

  before(async () => {
    ({ upstream, gw, cookie, close } = await startSignedIn());
  });
  after(() => close());

  it('the canonical form is a fixed point: the app cannot normalise it into something else', () => {
    fc.assert(
      fc.property(target, (raw) => {
        let judged;
        try {
          judged = canonicalizeTarget(raw);
        } catch (err) {
          assert.ok(err instanceof GatewayError && err.code === 'BAD_PATH');
          return;
        }
        assert.ok(!/(^|\/)\.\.?(\/|$)/.test(judged.wirePath), `dot segment left in ${judged.wirePath}`);
        assert.ok(!judged.wirePath.includes('//'), `empty segment left in ${judged.wirePath}`);
        assert.equal(appView(judged.wirePath).replace(/\/$/, ''), judged.path.replace(/\/$/, '') || '', raw);
        assert.deepEqual(canonicalizeTarget(judged.wirePath + judged.query), judged, 'stable when judged again');
      }),
      { numRuns: 3000 },
    );
  });

  it('through real HTTP: the app receives the judged path, or nothing', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(target, async (raw) => {
        if (/[\u0080-\uffff]/.test(raw) || raw.includes('#') || raw.includes('\\') || raw.includes('*')) {
          // Characters Node's HTTP client will not put on the wire as they are: covered by the first property.
          return;
        }
        const before = upstream.requests.length;
        let judged: ReturnType<typeof canonicalizeTarget> | null = null;
        try {
          judged = canonicalizeTarget(raw);
        } catch {
          judged = null;
        }
        const res = await rawRequest(gw.url, raw, { headers: { cookie, accept: 'application/json' } });
        const reached = upstream.requests.slice(before);
        if (judged === null || judged.path === '/_dashgate' || judged.path.startsWith('/_dashgate/')) {
          assert.ok(res.status === 400 || res.status === 404 || (res.status < 400 && reached.length === 0), `${raw} -> ${res.status}`);
          assert.equal(reached.length, 0, `${raw} reached the app`);
          return;
        }
        assert.equal(reached.length, 1, `${raw} -> ${res.status}`);
        assert.equal(reached[0]!.url, judged.wirePath + judged.query);
        assert.equal(appView(judged.wirePath).replace(/\/$/, ''), judged.path.replace(/\/$/, ''));
      }),
      { numRuns: 300 },
    );
  });
});
