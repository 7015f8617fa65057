import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { GatewayError } from '../errors.js';
import { filterResponseHeaders } from '../pipeline/headers.js';
import { isInjectableHtml } from './page-helper.js';
import type { Upstream } from './upstream.js';

export interface ForwarderOptions {
  upstream: Upstream;
  /** Told when a connection to the app failed (it may be restarting: what was learnt about it may be stale). */
  onUnavailable?: () => void;
  /** Told once, the first time the app closes a connection after one response (gunicorn's sync workers). */
  onConnectionPerRequest?: () => void;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  /** What HTML pages from the app get (the page-helper tag, page layouts removed), or null to pass them untouched. */
  rewriteHtml: ((page: Buffer) => Buffer) | null;
  /**
   * Every HTML page must be rewritten (other pages' layouts are removed from it): compressed
   * pages are decompressed for it, and a page too large or in an unknown encoding is a 502
   * instead of passing through unread.
   */
  mustRewrite: boolean;
  maxHtmlBytes: number;
}

export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** Canonical path + raw query: the request that was judged. */
  target: string;
  headers: Record<string, string | string[]>;
  /** The body, when the gateway has already read it (Dash callbacks it judged); else streamed from req. */
  body?: Buffer;
  /** Told when the app's response headers arrive (the upstream time of the access log and metrics). */
  onResponse?: () => void;
}

/**
 * Step 7: streams a judged request to the app and its answer back. Bodies flow through in both
 * directions without being held (only HTML pages, bounded, are held to add the page helper).
 *
 * Written on node:http with a keep-alive agent, on purpose, rather than @fastify/reply-from or
 * undici: reply-from decodes the path again (rejecting segments that start with ".."), parses
 * URLs per request and retries GETs on 503, and the gateway must forward exactly the canonical
 * path it judged, once. Dash usually runs under gunicorn's sync workers, which close the
 * connection after every response; in that pattern node:http measured ~250 µs of CPU per
 * request against undici's ~420 µs (undici builds an error per closed socket), and the two
 * are even on keep-alive upstreams (bench/, docs/benchmarks.md).
 */
export function createForwarder(options: ForwarderOptions) {
  const { upstream } = options;
  const basePath = upstream.basePath;
  // noDelay: a request whose headers and body go out in two writes must not wait for the app's
  // delayed ACK of the first (Nagle's algorithm): ~40 ms on a keep-alive connection.
  const agentOptions = { keepAlive: true, maxSockets: 512, maxFreeSockets: 64, scheduling: 'lifo' as const, noDelay: true };
  const agent = upstream.secure ? new HttpsAgent(agentOptions) : new Agent(agentOptions);
  const address = upstream.address;
  // gunicorn's sync workers (Dash's usual server) close every connection after one response.
  // Once the app has said so, ask for "Connection: close" ourselves: it saves the agent's
  // keep-alive bookkeeping on a socket that is about to die. Not for good: every 64th request
  // asks again without it, so an app restarted with keep-alive (gthread) gets pooled sockets back.
  let closesConnections = false;
  let toldConnectionPerRequest = false;
  let sinceProbe = 0;

  function forward({ req, res, target, headers, body, onResponse }: ForwardRequest): Promise<void> {
    // Node's server has already answered any "Expect: 100-continue"; the app must not wait for one.
    delete headers.expect;
    const probing = closesConnections && ++sinceProbe >= 64;
    if (probing) sinceProbe = 0;
    if (closesConnections && !probing) headers.connection = 'close';
    const method = req.method ?? 'GET';
    const hasBody = body === undefined ? frameBody(req, headers) : frameReadBody(body, headers);
    return new Promise<void>((resolve, reject) => {
      let answered = false;
      const upstreamReq = upstream.request({ ...address, method, path: basePath + target, headers, agent, setHost: false });
      const fail = (code: 'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_TIMEOUT', cause: unknown) => {
        clearTimeout(responseTimer);
        if (answered) return res.destroy();
        answered = true;
        upstreamReq.destroy();
        reject(new GatewayError(code, { cause }));
      };
      const responseTimer = setTimeout(() => fail('UPSTREAM_TIMEOUT', new Error('no response headers in time')), options.responseTimeoutMs);
      upstreamReq.on('socket', (socket) => {
        if (!socket.connecting) return;
        const connectTimer = setTimeout(() => fail('UPSTREAM_UNAVAILABLE', new Error('connect timeout')), options.connectTimeoutMs);
        socket.once('connect', () => clearTimeout(connectTimer));
        socket.once('close', () => clearTimeout(connectTimer));
      });
      upstreamReq.on('error', (err) => {
        options.onUnavailable?.();
        fail('UPSTREAM_UNAVAILABLE', err);
      });
      upstreamReq.on('response', (upstreamRes) => {
        onResponse?.();
        clearTimeout(responseTimer);
        if (answered) return upstreamRes.destroy();
        answered = true;
        res.on('close', () => {
          if (!res.writableFinished) upstreamRes.destroy();
        });
        upstreamRes.on('error', () => res.destroy());
        const closes = upstreamRes.headers.connection?.toLowerCase() === 'close';
        if (!closesConnections && closes) {
          closesConnections = true;
          if (!toldConnectionPerRequest) options.onConnectionPerRequest?.();
          toldConnectionPerRequest = true;
        }
        else if (probing && !closes) closesConnections = false;
        const status = upstreamRes.statusCode ?? 502;
        const responseHeaders = filterResponseHeaders(upstreamRes.headers);
        if (options.rewriteHtml !== null && (isInjectableHtml(method, status, responseHeaders) || (options.mustRewrite && isHtml(method, responseHeaders)))) {
          if (method === 'HEAD') {
            // The GET of this page is longer by the helper tag: the app's length would be wrong.
            delete responseHeaders['content-length'];
            res.writeHead(status, responseHeaders);
            res.end();
            upstreamRes.resume();
            return resolve();
          }
          const source = decodedBody(upstreamRes, responseHeaders);
          if (source === null) {
            upstreamRes.destroy();
            return reject(new GatewayError('UNREADABLE_PAGE'));
          }
          sendRewritten(res, status, responseHeaders, source, options.rewriteHtml, options.maxHtmlBytes, options.mustRewrite).then(resolve, (err: unknown) => {
            upstreamRes.destroy();
            if (err instanceof GatewayError && !res.headersSent) return reject(err);
            res.destroy();
            resolve();
          });
          return;
        }
        res.writeHead(status, responseHeaders);
        upstreamRes.pipe(res);
        resolve();
      });
      res.on('close', () => {
        if (!answered) upstreamReq.destroy();
      });
      if (body !== undefined) upstreamReq.end(body);
      else if (hasBody) req.pipe(upstreamReq);
      else upstreamReq.end();
    });
  }

  return {
    forward,
    async close() {
      agent.destroy();
    },
  };
}

/** An HTML response to a GET or HEAD, whatever its status and encoding. */
function isHtml(method: string, headers: Record<string, string | string[]>): boolean {
  const type = headers['content-type'];
  return (method === 'GET' || method === 'HEAD') && typeof type === 'string' && /^\s*text\/html\b/i.test(type);
}

/**
 * The response body as the app wrote it, decompressed when it is gzip, deflate or brotli (its
 * Content-Encoding and length removed from `headers`); null for an encoding the gateway cannot read.
 */
function decodedBody(upstreamRes: IncomingMessage, headers: Record<string, string | string[]>): Readable | null {
  const encoding = typeof headers['content-encoding'] === 'string' ? headers['content-encoding'].trim().toLowerCase() : undefined;
  if (encoding === undefined || encoding === '' || encoding === 'identity') return upstreamRes;
  const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : encoding === 'br' ? createBrotliDecompress() : null;
  if (decoder === null) return null;
  delete headers['content-encoding'];
  delete headers['content-length'];
  upstreamRes.on('error', (err) => decoder.destroy(err));
  return upstreamRes.pipe(decoder);
}

/**
 * Sets the body framing of the upstream request from what Node's parser accepted, and says
 * whether there is a body to stream. Never left to chance: node:http adds no chunked framing of
 * its own to a GET, HEAD, DELETE or OPTIONS, so a body sent without a length on a keep-alive
 * connection would be read by the app as the next request: a request smuggled past every check
 * (`GET /` + `Transfer-Encoding: chunked` + a body holding "GET /admin … X-Forwarded-User: admin").
 */
function frameBody(req: IncomingMessage, headers: Record<string, string | string[]>): boolean {
  delete headers['transfer-encoding'];
  delete headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined) {
    // Node has already decoded the client's chunks; they are re-chunked for the app.
    headers['transfer-encoding'] = 'chunked';
    return true;
  }
  const length = req.headers['content-length'];
  if (length !== undefined) {
    headers['content-length'] = length;
    return length !== '0';
  }
  return false;
}

/** Framing for a body the gateway holds: exactly its length, whatever the client declared. */
function frameReadBody(body: Buffer, headers: Record<string, string | string[]>): boolean {
  delete headers['transfer-encoding'];
  headers['content-length'] = String(body.length);
  return body.length > 0;
}

/**
 * Holds an HTML page (up to maxBytes) to rewrite it. A larger page is sent as it is: what was
 * held first, then the rest streamed.
 */
function sendRewritten(res: ServerResponse, status: number, headers: Record<string, string | string[]>, body: Readable, rewrite: (page: Buffer) => Buffer, maxBytes: number, mustRewrite: boolean): Promise<void> {
  if (Number(headers['content-length'] ?? NaN) > maxBytes) {
    if (mustRewrite) return Promise.reject(new GatewayError('PAGE_TOO_LARGE'));
    res.writeHead(status, headers);
    body.pipe(res);
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= maxBytes) return;
      body.pause();
      body.off('data', onData);
      body.off('end', onEnd);
      if (mustRewrite) return reject(new GatewayError('PAGE_TOO_LARGE'));
      delete headers['content-length'];
      res.writeHead(status, headers);
      for (const held of chunks) res.write(held);
      body.pipe(res);
      resolve();
    };
    const onEnd = () => {
      const page = rewrite(Buffer.concat(chunks, size));
      headers['content-length'] = String(page.length);
      if (typeof headers.etag === 'string' && !headers.etag.startsWith('W/')) headers.etag = `W/${headers.etag}`;
      res.writeHead(status, headers);
      res.end(page);
      resolve();
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.once('error', reject);
  });
}
export type Forwarder = ReturnType<typeof createForwarder>;
