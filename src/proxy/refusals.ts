import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RefusalAnswer } from '../pipeline/outcome.js';

/** Bodies up to this size are read and discarded after a refusal, keeping the connection; larger ones close it. */
const DRAIN_LIMIT = 64 * 1024;

/** Who was refused where: a refusal page names the signed-in user and offers a way back and "switch account". */
export interface RefusalPageContext {
  user: { username: string; displayName: string | null } | null;
  /** The path the browser asked for (canonical, with its query). */
  path: string;
}

/** Renders a refusal page (browser navigation) with the gateway's branding. */
export type RefusalPageRenderer = (page: { title: string; message: string }, status: number, context: RefusalPageContext) => string;

/**
 * Writes a refusal to an HTTP response: JSON for scripts, a page or a redirect for browsers,
 * `X-Dashgate` with its code either way. A request whose body has not been read and is not
 * small gets `Connection: close`: Node would otherwise read and discard all of it to keep the
 * connection (an anonymous 100 MB POST got its 401 in 2 ms, then was read to the end).
 */
export function writeRefusal(req: IncomingMessage, res: ServerResponse, answer: RefusalAnswer, options: { renderPage: RefusalPageRenderer; pageHeaders: Readonly<Record<string, string>>; context: RefusalPageContext }): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const asPage = answer.page !== null && answer.headers.location === undefined;
  const body = answer.headers.location !== undefined && answer.page === null ? '' : asPage ? options.renderPage(answer.page!, answer.status, options.context) : JSON.stringify(answer.json);
  const headers: Record<string, string | number> = {
    ...(asPage ? options.pageHeaders : {}),
    ...answer.headers,
    'content-type': asPage ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-dashgate': answer.code,
    ...(answer.requestId ? { 'x-request-id': answer.requestId } : {}),
  };
  if (hasUnreadBody(req)) headers.connection = 'close';
  res.writeHead(answer.status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete || req.readableEnded) return false;
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(req.headers['content-length'] ?? 0);
  return length > DRAIN_LIMIT;
}

/**
 * Writes a refusal on an upgrade socket as the HTTP answer the browser (or Dash's worker) sees,
 * then closes it. Always JSON; a redirect becomes its 401.
 */
export function refuseUpgrade(socket: Duplex, answer: RefusalAnswer): void {
  if (!socket.writable) return void socket.destroy();
  const status = answer.status === 303 ? 401 : answer.status;
  const text = JSON.stringify(answer.json);
  const extra = Object.entries(answer.headers)
    .filter(([name]) => name !== 'location')
    .map(([name, value]) => `${name}: ${value.replace(/[\r\n]/g, '')}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nX-Dashgate: ${answer.code}\r\n${answer.requestId ? `X-Request-Id: ${answer.requestId}\r\n` : ''}${extra}Connection: close\r\n\r\n${text}`);
}
