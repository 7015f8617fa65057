import type { Duplex } from 'node:stream';
import { encodeClose, encodeFrame, FrameError, FrameReader, OPCODE, type Frame } from './ws-frames.js';

/** What the gateway says about one `callback_request` on the socket. */
export type MessageVerdict =
  | { allowed: true }
  /** Answered for that request alone with Dash's error response; the socket stays up for the others. */
  | { allowed: false; refusal: Record<string, unknown>; message: string }
  /** The session behind the socket has ended: the socket is closed (the page helper asks the user to sign in). */
  | { allowed: false; endSocket: true };

export interface DashSocketOptions {
  judge(payload: unknown): Promise<MessageVerdict>;
  /** Largest message (all its fragments) read from the browser; larger closes the socket with 1009. */
  maxMessageBytes: number;
  /**
   * What marks the gateway's own words on the socket (`dashgate:<secret>`), so the page helper
   * believes a refusal or a "session ended" only from the gateway, never from an app's error text.
   */
  mark: string;
  /** A refusal or close worth a log line. */
  onEvent(event: 'refused' | 'protocol_error' | 'session_ended', fields: Record<string, unknown>): void;
}

/** Close code the browser's worker does not reconnect after (Dash's worker reconnects after anything but 1000 and 4001). */
export const SESSION_ENDED_CODE = 4001;

/**
 * Joins a browser's socket to the app's for Dash's WebSocket callbacks (`_dash-ws-callback`),
 * reading every message the browser sends. Messages are JSON objects (Dash's renderer sends one
 * per frame): `callback_request` carries the same payload as an HTTP callback and is judged
 * like one before it is forwarded; `heartbeat` passes; `get_props_response` passes only as the
 * answer to a `get_props_request` the app sent on this socket; anything else is dropped, and
 * what cannot be read (binary, not JSON, a list) closes the socket, as it would crash Dash's
 * handler anyway. Messages keep their order. The app's frames pass through whole; the gateway's
 * own frames (refusals, close) go between them, never inside a fragmented message.
 */
export function relayDashSocket(client: Duplex, upstream: Duplex, options: DashSocketOptions) {
  const fromClient = new FrameReader({ expectMasked: true, maxFrameBytes: options.maxMessageBytes });
  const fromApp = new FrameReader({ expectMasked: false, maxFrameBytes: 256 * 1024 * 1024 });
  const askedProps = new Set<string>();
  let fragments: Frame[] = [];
  let fragmentBytes = 0;
  let queue: Promise<void> = Promise.resolve();
  let pendingMessages = 0;
  let appMidMessage = false;
  let appMessage: Buffer[] = [];
  let toClient: Buffer[] = [];
  let closed = false;

  function sendToClient(frame: Buffer): void {
    if (appMidMessage) toClient.push(frame);
    else client.write(frame);
  }

  function close(code: number, reason: string): void {
    if (closed) return;
    closed = true;
    sendToClient(encodeClose(code, reason, false));
    if (!appMidMessage) client.end();
    upstream.end(encodeClose(1001, 'going away', true));
  }

  function protocolError(err: unknown): void {
    const code = err instanceof FrameError ? err.closeCode : 1008;
    options.onEvent('protocol_error', { code, reason: (err as Error).message });
    close(code, 'dashgate: message refused');
  }

  client.on('data', (chunk: Buffer) => {
    if (closed) return;
    let frames: Frame[];
    try {
      frames = fromClient.push(chunk);
    } catch (err) {
      return protocolError(err);
    }
    for (const frame of frames) {
      if (frame.opcode >= 0x8) {
        upstream.write(frame.raw);
        continue;
      }
      if (frame.opcode !== OPCODE.continuation && fragments.length > 0) return protocolError(new FrameError(1002, 'a new message inside a fragmented one'));
      if (frame.opcode === OPCODE.continuation && fragments.length === 0) return protocolError(new FrameError(1002, 'continuation without a message'));
      fragments.push(frame);
      fragmentBytes += frame.payload.length;
      if (fragmentBytes > options.maxMessageBytes) return protocolError(new FrameError(1009, 'message too large'));
      if (!frame.fin) continue;
      const message = fragments;
      fragments = [];
      fragmentBytes = 0;
      enqueue(message);
    }
  });

  function enqueue(message: Frame[]): void {
    pendingMessages++;
    if (pendingMessages > 64) client.pause();
    queue = queue
      .then(() => (closed ? undefined : handle(message)))
      .catch(protocolError)
      .finally(() => {
        pendingMessages--;
        if (pendingMessages <= 16) client.resume();
      });
  }

  async function handle(message: Frame[]): Promise<void> {
    if (message[0]!.opcode !== OPCODE.text) throw new FrameError(1003, 'binary messages are not part of Dash\'s protocol');
    const text = message.length === 1 ? message[0]!.payload : Buffer.concat(message.map((f) => f.payload));
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.toString('utf8'));
    } catch {
      throw new FrameError(1007, 'not JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new FrameError(1008, 'not a single message object');
    const { type, requestId, rendererId, payload } = parsed as { type?: unknown; requestId?: unknown; rendererId?: unknown; payload?: unknown };
    const forward = () => {
      for (const frame of message) upstream.write(frame.raw);
    };
    if (type === 'heartbeat') return forward();
    if (type === 'get_props_response') {
      if (typeof requestId === 'string' && askedProps.delete(requestId)) forward();
      return;
    }
    if (type !== 'callback_request') return;
    const verdict = await options.judge(payload);
    if (closed) return;
    if (verdict.allowed) return forward();
    if ('endSocket' in verdict) {
      options.onEvent('session_ended', {});
      return close(SESSION_ENDED_CODE, `${options.mark}:session_ended`);
    }
    options.onEvent('refused', { requestId, ...verdict.refusal });
    // Dash's answer for one failed request: the renderer logs it and keeps the socket.
    const answer = { type: 'callback_response', rendererId, requestId, payload: { status: 'error', message: `${verdict.message} ${options.mark}:${JSON.stringify(verdict.refusal)}` } };
    sendToClient(encodeFrame(OPCODE.text, Buffer.from(JSON.stringify(answer)), false));
  }

  upstream.on('data', (chunk: Buffer) => {
    let frames: Frame[];
    try {
      frames = fromApp.push(chunk);
    } catch (err) {
      options.onEvent('protocol_error', { side: 'app', reason: (err as Error).message });
      client.destroy();
      upstream.destroy();
      return;
    }
    for (const frame of frames) {
      client.write(frame.raw);
      if (frame.opcode >= 0x8) continue;
      appMidMessage = !frame.fin;
      if (frame.opcode === OPCODE.text || frame.opcode === OPCODE.continuation) {
        appMessage.push(frame.payload);
        if (frame.fin) noteAppMessage(appMessage.length === 1 ? appMessage[0]! : Buffer.concat(appMessage));
      }
      if (frame.fin) appMessage = [];
      if (!appMidMessage && toClient.length > 0) {
        for (const held of toClient) client.write(held);
        toClient = [];
        if (closed) client.end();
      }
    }
  });

  /** Remembers the app's `get_props_request` ids (single or batched in a list) so only their answers pass back. */
  function noteAppMessage(text: Buffer): void {
    if (!text.includes('get_props_request')) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.toString('utf8'));
    } catch {
      return;
    }
    for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
      const { type, requestId } = (item ?? {}) as { type?: unknown; requestId?: unknown };
      if (type === 'get_props_request' && typeof requestId === 'string') {
        if (askedProps.size > 1000) askedProps.clear();
        askedProps.add(requestId);
      }
    }
  }

  client.on('close', () => upstream.destroy());
  upstream.on('close', () => {
    if (!appMidMessage) client.end();
    else client.destroy();
  });
  client.on('error', () => client.destroy());
  upstream.on('error', () => upstream.destroy());

  return {
    /** Ends the socket from the gateway's side (session ended, shutdown) with a close frame the browser reads. */
    close,
  };
}
