import { YamuxError } from "./errors.ts";

/** Yamux wire format (hashicorp/yamux spec.md): a 12-byte header, then `length` payload bytes for DATA. */
export const PROTOCOL_VERSION = 0;
export const HEADER_SIZE = 12;
/** Every stream starts with this much credit in each direction. */
export const INITIAL_STREAM_WINDOW = 256 * 1024;
export const MAX_STREAM_ID = 0xffff_ffff;
export const MAX_WINDOW = 0xffff_ffff;

export const FrameType = {
  Data: 0,
  WindowUpdate: 1,
  Ping: 2,
  GoAway: 3,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Flags are a bit set: test them with `&`. */
export const Flag = {
  SYN: 1,
  ACK: 2,
  FIN: 4,
  RST: 8,
} as const;

export const GoAwayCode = {
  Normal: 0,
  ProtocolError: 1,
  InternalError: 2,
} as const;

export interface FrameHeader {
  type: FrameType;
  flags: number;
  streamId: number;
  /** DATA: payload size; WINDOW_UPDATE: credit delta; PING: opaque value; GO_AWAY: error code. */
  length: number;
}

export function writeHeader(buf: Buffer, offset: number, type: FrameType, flags: number, streamId: number, length: number): void {
  buf[offset] = PROTOCOL_VERSION;
  buf[offset + 1] = type;
  buf.writeUInt16BE(flags, offset + 2);
  buf.writeUInt32BE(streamId, offset + 4);
  buf.writeUInt32BE(length, offset + 8);
}

export function encodeHeader(type: FrameType, flags: number, streamId: number, length: number): Buffer {
  // allocUnsafe takes small buffers from Node's shared pool: no per-frame slab allocation.
  const buf = Buffer.allocUnsafe(HEADER_SIZE);
  writeHeader(buf, 0, type, flags, streamId, length);
  return buf;
}

/** Decodes and validates one header; throws yamux_protocol_error on a bad version or type. */
export function decodeHeader(buf: Buffer, offset = 0): FrameHeader {
  const version = buf[offset]!;
  const type = buf[offset + 1]!;
  if (version !== PROTOCOL_VERSION) throw new YamuxError("yamux_protocol_error", `unsupported yamux version ${version}`);
  if (type > FrameType.GoAway) throw new YamuxError("yamux_protocol_error", `unknown yamux frame type ${type}`);
  return {
    type: type as FrameType,
    flags: buf.readUInt16BE(offset + 2),
    streamId: buf.readUInt32BE(offset + 4),
    length: buf.readUInt32BE(offset + 8),
  };
}

/** Validates the version and type bytes of a header that is still incomplete. */
function checkPrefix(buf: Buffer, fill: number): void {
  if (fill >= 1 && buf[0] !== PROTOCOL_VERSION) throw new YamuxError("yamux_protocol_error", `unsupported yamux version ${buf[0]}`);
  if (fill >= 2 && buf[1]! > FrameType.GoAway) throw new YamuxError("yamux_protocol_error", `unknown yamux frame type ${buf[1]}`);
}

/**
 * Receives frames from a parser. For every frame: `onHeader`, then (DATA only) `onPayload` once per
 * received piece of the payload, in order, summing to `length`, then `onFrameEnd`. Payload pieces are
 * views into the socket's chunks (no copy). Validation in `onHeader` (e.g. the receive window) runs
 * before any payload is buffered, so a hostile length cannot make us hold more than we allow.
 */
export interface FrameSink {
  onHeader(header: FrameHeader): void;
  onPayload(chunk: Buffer): void;
  onFrameEnd(header: FrameHeader): void;
}

/**
 * Incremental frame parser, correct for any chunking: a header or payload may split at any byte.
 * `push` throws yamux_protocol_error on malformed input; after `stop()` the rest of the input is ignored.
 */
export class FrameParser {
  private readonly headerBuf = Buffer.allocUnsafe(HEADER_SIZE);
  private headerFill = 0;
  private current: FrameHeader | null = null;
  private payloadLeft = 0;
  private stopped = false;

  constructor(private readonly sink: FrameSink) {}

  stop(): void {
    this.stopped = true;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end && !this.stopped) {
      const frame = this.current;
      if (frame !== null) {
        // Inside a DATA payload.
        const n = Math.min(this.payloadLeft, end - pos);
        this.payloadLeft -= n;
        const piece = pos === 0 && n === end ? chunk : chunk.subarray(pos, pos + n);
        pos += n;
        this.sink.onPayload(piece);
        if (this.payloadLeft === 0 && !this.stopped) this.finish(frame);
        continue;
      }
      let header: FrameHeader;
      if (this.headerFill === 0 && end - pos >= HEADER_SIZE) {
        header = decodeHeader(chunk, pos);
        pos += HEADER_SIZE;
      } else {
        const n = Math.min(HEADER_SIZE - this.headerFill, end - pos);
        chunk.copy(this.headerBuf, this.headerFill, pos, pos + n);
        this.headerFill += n;
        pos += n;
        if (this.headerFill < HEADER_SIZE) {
          // A peer that sends a few bytes of garbage and then nothing must not hold the session open.
          checkPrefix(this.headerBuf, this.headerFill);
          return;
        }
        this.headerFill = 0;
        header = decodeHeader(this.headerBuf, 0);
      }
      this.sink.onHeader(header);
      if (this.stopped) return;
      if (header.type === FrameType.Data && header.length > 0) {
        this.current = header;
        this.payloadLeft = header.length;
      } else {
        this.sink.onFrameEnd(header);
      }
    }
  }

  private finish(frame: FrameHeader): void {
    this.current = null;
    this.sink.onFrameEnd(frame);
  }
}
