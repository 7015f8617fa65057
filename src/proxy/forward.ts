import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import { filterResponseHeaders } from '../pipeline/headers.js';
import { injectIntoHtml, isInjectableHtml } from './page-helper.js';

export interface ForwarderOptions {
  upstream: string;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  /** The page-helper tag, or null when the helper is off. */
  helperTag: Buffer | null;
  maxHtmlBytes: number;
}

export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** Canonical path + raw query: the request that was judged. */
  target: string;
  headers: Record<string, string | string[]>;
}

/**
 * Step 7: streams a judged request to the app and its answer back. Bodies flow through in both
 * directions without being held (only HTML pages, bounded, are held to add the page helper).
 *
 * Written on undici's Pool rather than @fastify/reply-from on purpose: reply-from decodes the
 * path again and rejects segments that start with "..", parses URLs per request, and retries
 * GETs on 503; the gateway must forward exactly the canonical path it judged, once.
 */
export function createForwarder(options: ForwarderOptions) {
  const base = new URL(options.upstream);
  const basePath = base.pathname.replace(/\/+$/, '');
  const pool = new Pool(base.origin, {
    connections: 256,
    connectTimeout: options.connectTimeoutMs,
    headersTimeout: options.responseTimeoutMs,
    bodyTimeout: 0,
    keepAliveTimeout: 30_000,
  });

  async function forward({ req, res, target, headers }: ForwardRequest): Promise<void> {
    const method = req.method ?? 'GET';
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await pool.request({
        method: method as 'GET',
        path: basePath + target,
        headers,
        body: hasBody ? req : null,
      });
    } catch (err) {
      throw toGatewayError(err);
    }
    const { statusCode, body } = upstream;
    const responseHeaders = filterResponseHeaders(upstream.headers);
    res.on('close', () => {
      if (!res.writableFinished) body.destroy();
    });
    if (options.helperTag !== null && isInjectableHtml(method, statusCode, responseHeaders)) {
      await sendWithHelper(res, statusCode, responseHeaders, body, options.helperTag, options.maxHtmlBytes);
      return;
    }
    res.writeHead(statusCode, responseHeaders);
    await pipeline(body, res).catch(() => res.destroy());
  }

  return { forward, close: () => pool.close() };
}

async function sendWithHelper(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | string[]>,
  body: AsyncIterable<Buffer> & NodeJS.ReadableStream,
  tag: Buffer,
  maxBytes: number,
): Promise<void> {
  const declared = Number(headers['content-length'] ?? NaN);
  if (declared > maxBytes) {
    res.writeHead(status, headers);
    await pipeline(body, res).catch(() => res.destroy());
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = body[Symbol.asyncIterator]();
  for (let step = await iterator.next(); !step.done; step = await iterator.next()) {
    chunks.push(step.value);
    size += step.value.length;
    if (size > maxBytes) {
      // Too big to hold: send what we have and stream the rest untouched.
      delete headers['content-length'];
      res.writeHead(status, headers);
      for (const chunk of chunks) res.write(chunk);
      for (let rest = await iterator.next(); !rest.done; rest = await iterator.next()) {
        if (!res.write(rest.value)) await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end();
      return;
    }
  }
  const page = injectIntoHtml(Buffer.concat(chunks, size), tag);
  headers['content-length'] = String(page.length);
  if (typeof headers.etag === 'string' && !headers.etag.startsWith('W/')) headers.etag = `W/${headers.etag}`;
  res.writeHead(status, headers);
  res.end(page);
}

/** Maps a failure to reach the app onto the gateway's codes. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof undiciErrors.HeadersTimeoutError) return new GatewayError('UPSTREAM_TIMEOUT', { cause: err });
  return new GatewayError('UPSTREAM_UNAVAILABLE', { cause: err });
}
