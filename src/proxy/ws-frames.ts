/**
 * RFC 6455 §5 framing, just enough to read Dash's WebSocket callbacks on their way through:
 * frames are parsed from a byte stream (either direction), kept whole with their original bytes
 * so an allowed message is forwarded exactly as sent, and the gateway can write frames of its
 * own (a refused callback's answer, a close) between the app's frames.
 */

import { randomFillSync } from 'node:crypto';

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface Frame {
  fin: boolean;
  opcode: number;
  /** Unmasked payload. */
  payload: Buffer;
  /** The frame's bytes as they arrived. */
  raw: Buffer;
}

/** A violation of the framing the gateway can read: the connection is closed with `closeCode`. */
export class FrameError extends Error {
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/**
 * Cuts a byte stream into frames. `expectMasked`: frames from a browser must be masked, frames
 * from a server must not be (§5.1). Extension bits are refused (compression was declined at the
 * handshake, so a compressed frame could not be read). Frames above `maxFrameBytes` close with 1009.
 */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly options: { expectMasked: boolean; maxFrameBytes: number }) {}

  push(chunk: Buffer): Frame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.next();
      if (frame === null) return frames;
      frames.push(frame);
    }
  }

  private next(): Frame | null {
    const data = this.buffered;
    if (data.length < 2) return null;
    const first = data[0]!;
    const second = data[1]!;
    if ((first & 0x70) !== 0) throw new FrameError(1002, 'extension bits set without a negotiated extension');
    const opcode = first & 0x0f;
    const masked = (second & 0x80) !== 0;
    if (masked !== this.options.expectMasked) throw new FrameError(1002, masked ? 'a server frame is masked' : 'a client frame is not masked');
    let length = second & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (data.length < 4) return null;
      length = data.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (data.length < 10) return null;
      const big = data.readBigUInt64BE(2);
      if (big > BigInt(this.options.maxFrameBytes)) throw new FrameError(1009, 'frame too large');
      length = Number(big);
      offset = 10;
    }
    if (length > this.options.maxFrameBytes) throw new FrameError(1009, 'frame too large');
    if (opcode >= 0x8 && (length > 125 || (first & 0x80) === 0)) throw new FrameError(1002, 'malformed control frame');
    const maskAt = offset;
    if (masked) offset += 4;
    if (data.length < offset + length) return null;
    const payload = Buffer.from(data.subarray(offset, offset + length));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= data[maskAt + (i & 3)]!;
    const raw = data.subarray(0, offset + length);
    this.buffered = data.subarray(offset + length);
    return { fin: (first & 0x80) !== 0, opcode, payload, raw };
  }
}

/** One unfragmented frame; masked with a random key when it goes to a server. */
export function encodeFrame(opcode: number, payload: Buffer, mask: boolean): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (mask ? 4 : 0));
  header[0] = 0x80 | opcode;
  header[1] = (mask ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) header.writeUInt16BE(length, 2);
  else if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(length), 2);
  if (!mask) return Buffer.concat([header, payload]);
  const key = header.subarray(2 + lengthBytes);
  randomFillSync(key);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([header, body]);
}

/** A close frame (§5.5.1) with a code and a reason of at most 123 bytes. */
export function encodeClose(code: number, reason: string, mask: boolean): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123);
  const payload = Buffer.alloc(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return encodeFrame(OPCODE.close, payload, mask);
}
