import { STATUS_CODES, ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Upstream } from './upstream.js';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../errors.js';
import { buildUpstreamHeaders } from '../pipeline/headers.js';
import type { Identity } from '../pipeline/identify.js';
import type { Guard } from '../pipeline/guard.js';
import { answerRefusal, type Refusal } from '../pipeline/outcome.js';
import { refuseUpgrade } from './refusals.js';
import { encodeClose } from './ws-frames.js';
import type { Authorizer } from '../pipeline/authorize.js';
import type { SecondFactorGate } from '../pipeline/second-factor.js';
import type { RuleMatch } from '../access/rules.js';
import type { SessionChange } from '../auth/sessions.js';
import { userOf } from '../pipeline/identify.js';
import type { Logger } from 'pino';
import { relayDashSocket, SESSION_ENDED_CODE, type MessageVerdict } from './dash-ws-relay.js';
import { isOwnPath, type RequestScope } from '../pipeline/scope.js';

export interface UpgradeDeps {
  upstream: Upstream;
  prefix: string;
  cookieName: string;
  connectTimeoutMs: number;
  resolveScope(req: IncomingMessage): RequestScope;
  /** The one judgement of every transport (pipeline/guard.ts). */
  guard: Guard;
  authorizer: Authorizer;
  secondFactor: SecondFactorGate;
  prefixForLogin: string;
  appName: string;
  expectedOrigin(scope: RequestScope): string;
  onError(err: unknown, scope?: RequestScope): void;
  /** Adds the signed identity header, when enabled. */
  signIdentity(identity: Identity, headers: Record<string, string | string[]>): Promise<void>;
  /** How often open sockets re-check their session (a revoked session closes its sockets). */
  recheckMs: number;
  /** Serves a request that carried Upgrade headers but is not a WebSocket handshake as a plain HTTP request. */
  serveAsRequest(req: IncomingMessage, res: ServerResponse): void;
  /** Sessions that end (or users that change) here: their sockets are re-checked at once. */
  onSessionChange(listener: (change: SessionChange) => void): void;
  /** Largest WebSocket message read from a browser on an inspected socket (Dash callbacks). */
  maxMessageBytes: number;
  /** Marks the gateway's own refusals and closes for the page helper (see dash-ws-relay.ts). */
  mark: string;
  /** Upgrades, refusals and closes. */
  log: Pick<Logger, 'info' | 'warn'>;
}

interface OpenSocket {
  req: IncomingMessage;
  scope: RequestScope;
  rule: RuleMatch;
  sessionId: string | null;
  userId: string | null;
  openedAt: number;
  /** Ends the socket from the gateway's side; a Dash callback socket gets a close frame the page helper reads. */
  end(reason: 'session_ended' | 'forbidden' | 'shutdown'): void;
}

/**
 * RFC 6455 §4.1: a WebSocket handshake is a GET with "Upgrade: websocket". Node hands every request
 * with Upgrade headers to the upgrade handler whatever its method; judged as an upgrade (a GET),
 * "DELETE /ledger/x" with "Upgrade: websocket" reached the app past a DELETE-only rule.
 */
export function isWebSocketHandshake(req: IncomingMessage): boolean {
  return req.method === 'GET' && /^\s*websocket\s*$/i.test(req.headers.upgrade ?? '');
}

/**
 * WebSocket upgrades walk the same steps as requests (scope, identify, authorize, outcome,
 * headers) before a byte reaches the app; then the two sockets are joined. A cross-site page may
 * not open a socket with the user's cookie (cross-site WebSocket hijacking): Origin must match.
 * A socket lives no longer than its session: open sockets re-check it every `recheckMs` and are
 * closed once it has ended (logout, revocation, expiry, user disabled).
 */
export function createUpgradeHandler(deps: UpgradeDeps) {
  const { upstream } = deps;
  const open = new Set<OpenSocket>();

  /** Is this socket's caller still allowed where it connected? Closes it when not (session ended, user disabled, groups changed). */
  function recheck(entry: OpenSocket, afterChange = false): void {
    deps.guard(entry.req, entry.scope, 'recheck').then(
      (result) => {
        if (!result.allowed) entry.end(result.refusal.kind === 'login_required' || result.refusal.kind === 'invalid_credentials' ? 'session_ended' : 'forbidden');
      },
      (err) => {
        if (err instanceof GatewayError && err.code === 'STORE_UNAVAILABLE') {
          // The store is down (logged by the store). A session or user that changed here cannot be
          // confirmed: the socket ends. A routine re-check keeps the socket until the store is back.
          if (afterChange) entry.end('session_ended');
          return;
        }
        deps.onError(err, entry.scope);
      },
    );
  }
  const timer = setInterval(() => {
    for (const entry of open) recheck(entry);
  }, deps.recheckMs);
  timer.unref();
  deps.onSessionChange((change) => {
    for (const entry of open) if ('sessionId' in change ? entry.sessionId === change.sessionId : entry.userId === change.userId) recheck(entry, true);
  });

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    if (!isWebSocketHandshake(req)) return serveWithoutUpgrade(req, socket);
    let scope: RequestScope | undefined;
    try {
      scope = deps.resolveScope(req);
      if (isOwnPath(scope.matchPath, deps.prefix)) return refuse(socket, scope, { kind: 'error', code: 'NOT_FOUND' });
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== deps.expectedOrigin(scope)) return refuse(socket, scope, { kind: 'forbidden', detail: { error: 'cross_origin_websocket' } });
      const result = await deps.guard(req, scope, 'upgrade');
      if (!result.allowed) return refuse(socket, scope, result.refusal, result.identity);
      const { identity, rule } = result;
      // An upgrade request has no body: a length here would leave the app waiting for bytes that never come.
      if ((req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined) return refuse(socket, scope, { kind: 'error', code: 'BAD_UPGRADE' }, identity);
      const headers = buildUpstreamHeaders(req.headers, scope, identity, { cookieName: deps.cookieName, allowBasic: rule.allowBasic });
      delete headers['content-length'];
      await deps.signIdentity(identity, headers);
      headers.connection = 'Upgrade';
      headers.upgrade = req.headers.upgrade ?? 'websocket';
      // Dash's callback socket is read message by message, so compression (permessage-deflate,
      // which uvicorn offers) is declined: the app then sends plain frames.
      const inspected = deps.authorizer.inspectsWebSocket(scope);
      if (inspected) delete headers['sec-websocket-extensions'];
      const session = identity.kind === 'user' ? identity.session.id : null;
      joinUpstream({ req, socket, head, scope, headers, rule, inspected, sessionId: session, userId: userOf(identity)?.id ?? null, user: userOf(identity)?.username ?? null });
    } catch (err) {
      // A request the gateway refuses (bad path, malformed or conflicting Host) is the client's mistake, not an error to log.
      if (err instanceof GatewayError && err.status < 500) return writeUpgradeRefusal(socket, { kind: 'error', code: err.code }, scope?.id);
      // The store down: logged once a second by the store itself, answered 503 with Retry-After.
      if (err instanceof GatewayError && err.code === 'STORE_UNAVAILABLE') return writeUpgradeRefusal(socket, { kind: 'error', code: err.code }, scope?.id);
      deps.onError(err, scope);
      writeUpgradeRefusal(socket, { kind: 'error', code: 'INTERNAL' }, scope?.id);
    }
  }

  /**
   * Upgrade headers on anything but a WebSocket handshake (POST + "Upgrade: foo", a DELETE, an
   * h2c upgrade offer): not an upgrade, so the request is served as the plain request it is,
   * judged with its real method, on a connection closed after the answer. Node has stopped
   * parsing at the headers, so a body cannot follow: such a request is refused.
   */
  function serveWithoutUpgrade(req: IncomingMessage, socket: Duplex): void {
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')) return writeUpgradeRefusal(socket, { kind: 'error', code: 'BAD_UPGRADE' });
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.on('finish', () => {
      res.detachSocket(socket as Socket);
      socket.end();
    });
    deps.serveAsRequest(req, res);
  }

  /** A refused handshake: answered as HTTP (the browser sees its status), and logged. */
  function refuse(socket: Duplex, scope: RequestScope, refusal: Refusal, identity?: Identity | null): void {
    deps.log.info({ requestId: scope.id, path: scope.path, user: identity ? userOf(identity)?.username : undefined, refusal: refusal.kind === 'error' ? refusal.code : refusal.kind }, 'websocket refused');
    writeUpgradeRefusal(socket, refusal, scope.id);
  }

  function writeUpgradeRefusal(socket: Duplex, refusal: Refusal, requestId?: string): void {
    refuseUpgrade(socket, answerRefusal(refusal, { prefix: deps.prefixForLogin, next: '/', scripted: true, appName: deps.appName, ...(requestId ? { requestId } : {}) }));
  }

  function joinUpstream(join: { req: IncomingMessage; socket: Duplex; head: Buffer; scope: RequestScope; headers: Record<string, string | string[]>; rule: RuleMatch; inspected: boolean; sessionId: string | null; userId: string | null; user: string | null }): void {
    const { req, socket, head, scope, headers } = join;
    const upstreamReq = upstream.request({
      ...upstream.address,
      method: req.method,
      path: upstream.basePath + scope.wirePath + scope.query,
      headers,
      timeout: deps.connectTimeoutMs,
      // A connection of its own: an upgrade socket is never returned to a pool.
      agent: false,
    });
    upstreamReq.on('timeout', () => upstreamReq.destroy(new Error('upstream connect timeout')));
    upstreamReq.on('error', () => writeUpgradeRefusal(socket, { kind: 'error', code: 'UPSTREAM_UNAVAILABLE' }, scope.id));
    upstreamReq.on('response', (res) => {
      // The app declined the upgrade: pass on its status and (bounded) body, framed anew, then close.
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < 64 * 1024) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('error', () => socket.destroy());
      res.on('end', () => {
        const body = Buffer.concat(chunks).subarray(0, 64 * 1024);
        const type = typeof res.headers['content-type'] === 'string' ? res.headers['content-type'].replace(/[\r\n]/g, '') : 'text/plain';
        socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${res.statusCode ?? 502} ${statusText(res.statusCode ?? 502)}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]));
        upstreamReq.destroy();
      });
    });
    upstreamReq.on('upgrade', (res, upstreamSocket, upstreamHead) => {
      upstreamReq.setTimeout(0);
      if (join.inspected && res.headers['sec-websocket-extensions'] !== undefined) {
        // The app compressed anyway: its frames could not be read, so the socket is not opened.
        deps.log.warn({ requestId: scope.id, extensions: res.headers['sec-websocket-extensions'] }, 'websocket refused: the app negotiated an extension the gateway cannot read');
        upstreamSocket.destroy();
        return writeUpgradeRefusal(socket, { kind: 'error', code: 'UPSTREAM_UNAVAILABLE' }, scope.id);
      }
      const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? 'Switching Protocols'}`];
      for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstreamSocket.on('error', () => socket.destroy());
      const openedAt = Date.now();
      let endedBy: string | null = null;
      const relay = join.inspected ? startInspection(join, upstreamSocket) : null;
      if (!relay) {
        if (upstreamHead.length > 0) socket.write(upstreamHead);
        if (head.length > 0) upstreamSocket.write(head);
        upstreamSocket.pipe(socket);
        socket.pipe(upstreamSocket);
      } else {
        // Bytes that came with the handshake belong to the frame streams the relay reads.
        if (upstreamHead.length > 0) upstreamSocket.unshift(upstreamHead);
        if (head.length > 0) socket.unshift(head);
      }
      const entry: OpenSocket = {
        req,
        scope,
        rule: join.rule,
        sessionId: join.sessionId,
        userId: join.userId,
        openedAt,
        end(reason) {
          if (endedBy !== null) return;
          endedBy = reason;
          if (relay) relay.close(reason === 'shutdown' ? 1001 : SESSION_ENDED_CODE, reason === 'shutdown' ? 'going away' : `${deps.mark}:${reason}`);
          else if (reason === 'shutdown') {
            // Frames are passed through unread here: the close frame goes between the app's writes
            // (a frame the app is half-way through writing is cut, which the client sees as 1006).
            upstreamSocket.unpipe(socket);
            upstreamSocket.destroy();
            socket.end(encodeClose(1001, 'going away', false));
          } else {
            socket.destroy();
            upstreamSocket.destroy();
          }
        },
      };
      open.add(entry);
      deps.log.info({ requestId: scope.id, path: scope.path, user: join.user, inspected: join.inspected }, 'websocket opened');
      socket.on('close', () => {
        open.delete(entry);
        upstreamSocket.destroy();
        deps.log.info({ requestId: scope.id, path: scope.path, user: join.user, seconds: Math.round((Date.now() - openedAt) / 1000), closedBy: endedBy ?? 'peer' }, 'websocket closed');
      });
      upstreamSocket.on('close', () => {
        if (!relay) socket.destroy();
      });
    });
    upstreamReq.end();
  }

  /**
   * Reads every message of a Dash callback socket (see dash-ws-relay.ts): each callback_request is
   * judged like an HTTP callback with the socket's identity as it is now; a refused one gets Dash's
   * error answer, and an ended session closes the socket.
   */
  function startInspection(join: { req: IncomingMessage; socket: Duplex; scope: RequestScope; user: string | null }, upstreamSocket: Duplex) {
    const { req, scope } = join;
    return relayDashSocket(join.socket, upstreamSocket, {
      maxMessageBytes: deps.maxMessageBytes,
      mark: deps.mark,
      onEvent: (event, fields) => deps.log.info({ requestId: scope.id, user: join.user, ...fields }, event === 'refused' ? 'websocket callback refused' : event === 'session_ended' ? 'websocket closed: the session ended' : 'websocket closed: a message the gateway cannot read'),
      judge: async (payload): Promise<MessageVerdict> => {
        // The caller as they are now, on the socket's own rule; then the callback itself.
        const caller = await deps.guard(req, scope, 'upgrade');
        if (!caller.allowed) return { allowed: false, endSocket: true };
        const { identity } = caller;
        let judged;
        try {
          judged = await deps.authorizer.judgeCallback(payload, scope, identity);
        } catch (err) {
          if (!(err instanceof GatewayError)) throw err;
          return { allowed: false, refusal: { error: err.code.toLowerCase() }, message: err.message };
        }
        if (judged.verdict === 'login_required') return { allowed: false, endSocket: true };
        if (judged.verdict === 'forbidden') {
          return { allowed: false, refusal: deps.authorizer.describeCallbackRefusal(judged), message: 'The gateway refused this callback: your account does not have access to it.' };
        }
        for (const pageRule of judged.pageRules) {
          if (await deps.secondFactor.need(identity, pageRule)) return { allowed: false, refusal: { error: 'second_factor_required' }, message: 'This page needs your second factor.' };
        }
        return { allowed: true };
      },
    });
  }

  return {
    handleUpgrade,
    openCount: () => open.size,
    /** Stops re-checking and closes every open socket (gateway shutdown). */
    close() {
      clearInterval(timer);
      for (const entry of open) entry.end('shutdown');
      open.clear();
    },
  };
}

function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}
