import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { GatewayError } from '../errors.js';
import { canonicalizeTarget, type CanonicalTarget } from './canonical-path.js';

/** What the gateway knows about a request before deciding anything. */
export interface RequestScope extends CanonicalTarget {
  id: string;
  /** The caller's address: the TCP peer, or X-Forwarded-For's nearest untrusted hop when the peer is a trusted proxy. */
  clientIp: string;
  /** The peer that actually connected (for X-Forwarded-For chains). */
  peerIp: string;
  peerTrusted: boolean;
  proto: 'http' | 'https';
  /** The Host header as sent (forwarded unchanged). */
  host: string;
  /** The host rules match on: lower-case, no port, no trailing dot; "" when absent (HTTP/1.0). A malformed Host is refused. */
  hostname: string;
}

/**
 * Whether a canonical path lies in the gateway's own space (`/_dashgate` and below). Such paths
 * are never proxied, including ones that only canonicalise into it ("/x/../_dashgate/login").
 */
export function isOwnPath(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Step 1 of the pipeline: request id, client address, canonical path. Throws BAD_PATH. */
export function createScopeResolver(options: { trustedProxies: readonly string[] }) {
  const trusted = buildBlockList(options.trustedProxies);
  const isTrusted = (ip: string) => trusted !== null && ip !== '' && trusted.check(stripV4Mapped(ip), isIPv6(stripV4Mapped(ip)) ? 'ipv6' : 'ipv4');

  return function resolveScope(req: IncomingMessage): RequestScope {
    const target = canonicalizeTarget(req.url ?? '/');
    const host = firstValue(req.headers.host) ?? '';
    // A Host that does not normalise would escape every host rule while reaching the app as sent;
    // two Host headers (RFC 9112 §3.2: 400) let the app and the gateway read different ones.
    const hostname = host === '' ? '' : normalizeHost(host);
    if (hostname === null || countHeader(req.rawHeaders, 'host') > 1) throw new GatewayError('BAD_REQUEST');
    // "GET http://a.example/x" with "Host: b.example": the app could route by either; refuse the pair.
    const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(req.url ?? '')?.[1];
    if (authority !== undefined && normalizeHost(authority) !== hostname) throw new GatewayError('BAD_REQUEST');
    const peerIp = stripV4Mapped(req.socket.remoteAddress ?? '');
    const peerTrusted = isTrusted(peerIp);
    let clientIp = peerIp;
    let proto: 'http' | 'https' = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
    if (peerTrusted) {
      clientIp = nearestUntrustedHop(req.headers['x-forwarded-for'], peerIp, isTrusted);
      const forwardedProto = firstValue(req.headers['x-forwarded-proto'])?.split(',')[0]?.trim().toLowerCase();
      if (forwardedProto === 'https' || forwardedProto === 'http') proto = forwardedProto;
    }
    return {
      path: target.path,
      wirePath: target.wirePath,
      query: target.query,
      matchPath: target.matchPath,
      id: requestId(req),
      clientIp,
      peerIp,
      peerTrusted,
      proto,
      host,
      hostname,
    };
  };
}

// Request ids: a random per-process prefix and a counter, unique without a random draw per request.
const ID_PREFIX = randomBytes(6).toString('base64url');
let idCounter = 0;

function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && /^[A-Za-z0-9._-]{8,128}$/.test(given)) return given;
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${ID_PREFIX}-${idCounter.toString(36)}`;
}

/** Walks X-Forwarded-For from the right, skipping trusted proxies; the first other address is the client. */
function nearestUntrustedHop(header: string | string[] | undefined, peerIp: string, isTrusted: (ip: string) => boolean): string {
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((h) => stripV4Mapped(h.trim()))
    .filter((h) => isIPv4(h) || isIPv6(h));
  for (let i = hops.length - 1; i >= 0; i--) if (!isTrusted(hops[i]!)) return hops[i]!;
  return hops[0] ?? peerIp;
}

function buildBlockList(entries: readonly string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const type = isIPv6(address) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

/**
 * "Example.COM.:8000" → "example.com"; "[::1]:80" → "::1". Null for anything that is not a host
 * with an optional port of 1–65535 (userinfo, "vault.test:abc", "vault.test:", ":123456",
 * ":80:80", ":+80", ":0x50", ":-1"): such a Host matched no host rule while the app, reading
 * the raw header, could still route by it.
 */
export function normalizeHost(value: string): string | null {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::([0-9]{1,5}))?$/.exec(value);
  if (!match) return null;
  if (match[2] !== undefined && (Number(match[2]) < 1 || Number(match[2]) > 65535)) return null;
  return match[1]!.toLowerCase().replace(/\.$/, '').replace(/^\[|\]$/g, '');
}

function stripV4Mapped(ip: string): string {
  return ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

/** How many times a header occurs (any case): Node joins repeats, which hides two that disagree. */
export function countHeader(rawHeaders: readonly string[], lowerName: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.length === lowerName.length && rawHeaders[i]!.toLowerCase() === lowerName) count++;
  return count;
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
