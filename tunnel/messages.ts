import type { Duplex, Readable, Writable } from "node:stream";
import { WarrenError } from "../lib/errors.ts";
import type { MessageCodec } from "./message-codecs.ts";

/** Upper bound for one tunnel control message; anything larger is a protocol error. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * Why a message could not be read: the peer sent bytes that break the protocol (`malformed`: oversize,
 * undecodable, cut off by the end of the stream), or it sent nothing in time (`timeout`), or the stream
 * ended (or was reset) before the message began (`ended`). Only `malformed` is a protocol violation.
 */
export type MessageFailure = "malformed" | "timeout" | "ended";

/** A malformed, oversized, truncated or late tunnel message. */
export class TunnelProtocolError extends WarrenError<"tunnel_protocol_error"> {
  override name = "TunnelProtocolError";
  constructor(
    message: string,
    readonly failure: MessageFailure = "malformed",
  ) {
    super("tunnel_protocol_error", message);
  }
}

/** One message body with its 4-byte length prefix. */
export function frameMessage(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}

export function encodeMessage<T>(codec: MessageCodec<T>, msg: T): Buffer {
  return frameMessage(codec.encode(msg));
}

export function writeMessage<T>(stream: Writable, codec: MessageCodec<T>, msg: T): boolean {
  return stream.write(encodeMessage(codec, msg));
}

/**
 * Reads exactly one length-prefixed message and leaves every byte after it in the stream, so raw
 * relaying can start right behind it. Rejects on end, error, oversize or timeout.
 */
export function readMessage<T>(stream: Readable, codec: MessageCodec<T>, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err: Error | undefined, msg?: T) => {
      clearTimeout(timer);
      stream.off("readable", onReadable);
      stream.off("end", onEnd);
      stream.off("error", onError);
      stream.off("close", onEnd);
      if (err) reject(err);
      else resolve(msg!);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = stream.read() as Buffer | null) !== null) {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        if (buf.length < 4) continue;
        const len = buf.readUInt32BE(0);
        if (len > MAX_MESSAGE_BYTES) return done(new TunnelProtocolError(`message of ${len} bytes exceeds ${MAX_MESSAGE_BYTES}`));
        if (buf.length < 4 + len) continue;
        const rest = buf.subarray(4 + len);
        let msg: T;
        try {
          msg = codec.decode(buf.subarray(4, 4 + len));
        } catch (e) {
          return done(new TunnelProtocolError(`cannot decode ${codec.typeName}: ${(e as Error).message}`));
        }
        if (rest.length > 0) stream.unshift(rest);
        return done(undefined, msg);
      }
    };
    const onEnd = () =>
      done(
        buf.length > 0
          ? new TunnelProtocolError(`stream ended inside a ${codec.typeName}`)
          : new TunnelProtocolError(`stream ended before a ${codec.typeName}`, "ended"),
      );
    const onError = (e: Error) => done(e);
    const timer = setTimeout(() => done(new TunnelProtocolError(`no ${codec.typeName} within ${timeoutMs} ms`, "timeout")), timeoutMs);
    stream.on("readable", onReadable);
    stream.on("end", onEnd);
    stream.on("close", onEnd);
    stream.on("error", onError);
    onReadable();
  });
}

/**
 * Decodes a continuous sequence of length-prefixed messages (the control stream). Throws
 * TunnelProtocolError on an oversize or undecodable message, or one the end of the stream cuts off.
 */
export async function* readMessages<T>(stream: Duplex, codec: MessageCodec<T>): AsyncGenerator<T> {
  let buf: Buffer = Buffer.alloc(0);
  // Not destroyed when it ends: a destroyed Yamux stream is forgotten (RST), and the session could then
  // no longer tell data the peer sends after its own FIN (a violation) from a late frame.
  for await (const chunk of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (len > MAX_MESSAGE_BYTES) throw new TunnelProtocolError(`message of ${len} bytes exceeds ${MAX_MESSAGE_BYTES}`);
      if (buf.length < 4 + len) break;
      let msg: T;
      try {
        msg = codec.decode(buf.subarray(4, 4 + len));
      } catch (e) {
        throw new TunnelProtocolError(`cannot decode ${codec.typeName}: ${(e as Error).message}`);
      }
      yield msg;
      buf = buf.subarray(4 + len);
    }
  }
  if (buf.length > 0) throw new TunnelProtocolError(`stream ended inside a ${codec.typeName}`);
}
