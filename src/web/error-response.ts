import type { ServerResponse } from 'node:http';
import { ERROR_TABLE, retryAfterOf, type GatewayErrorCode } from '../errors.js';
import { renderMessagePage, type Branding } from './pages.js';
import { PAGE_SECURITY_HEADERS } from './security-headers.js';

/**
 * Writes a coded error as a branded page (browsers) or JSON (scripts) on a raw response, so the
 * proxy path and the gateway's own routes answer failures the same way.
 */
export function writeErrorResponse(res: ServerResponse, code: GatewayErrorCode, scripted: boolean, branding: Branding, requestId?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const entry = ERROR_TABLE[code];
  const body = scripted
    ? JSON.stringify({ error: code.toLowerCase(), message: entry.detail, ...(requestId ? { request_id: requestId } : {}) })
    : renderMessagePage(branding, { title: entry.title, message: entry.detail, action: entry.status >= 500 ? { href: '', label: 'Try again' } : { href: '/', label: 'Go to the start page' } });
  res.writeHead(entry.status, {
    ...PAGE_SECURITY_HEADERS,
    'content-type': scripted ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-dashgate': code.toLowerCase(),
    ...(retryAfterOf(code) !== undefined ? { 'retry-after': String(retryAfterOf(code)) } : {}),
  });
  res.end(body);
}
