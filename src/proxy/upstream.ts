import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * Where the app listens: `http://host:port[/base]`, `https://…`, or `unix:/path/app.sock` (a
 * Unix socket, gunicorn's `-b unix:` spelling). Parsed once at start-up; every request to the app
 * (proxied, WebSocket, the gateway's own reads) is addressed through it.
 */
export interface Upstream {
  /** As configured, for logs and messages. */
  readonly url: string;
  readonly secure: boolean;
  /** A path the app is mounted under on its server ("" for none); requests are sent below it. */
  readonly basePath: string;
  /** Host/port, or the socket path: spread into http.request options. */
  readonly address: { host: string; port: number } | { socketPath: string };
  request(options: RequestOptions, onResponse?: (res: IncomingMessage) => void): ClientRequest;
}

const UNIX = /^unix:(\/.+)$/;

/** Why a configured upstream cannot be used, or null. */
export function upstreamProblem(value: string): string | null {
  if (UNIX.test(value)) return null;
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return null;
  } catch {
    // fall through
  }
  return 'expected an http:// or https:// URL, or unix:/path/to/app.sock';
}

export function parseUpstream(value: string): Upstream {
  const unix = UNIX.exec(value);
  if (unix) {
    return { url: value, secure: false, basePath: '', address: { socketPath: unix[1]! }, request: (options, onResponse) => httpRequest(options, onResponse) };
  }
  const url = new URL(value);
  const secure = url.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  return {
    url: value,
    secure,
    basePath: url.pathname.replace(/\/+$/, ''),
    address: { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || (secure ? 443 : 80)) },
    request: (options, onResponse) => send(options, onResponse),
  };
}
