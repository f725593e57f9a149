// Shared helpers for the Yamux conformance suite: socket pairs, a raw frame-level peer, PRNG, hashing.
import { createHash } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { Duplex } from "node:stream";
import {
  Flag,
  FrameParser,
  FrameType,
  encodeHeader,
  type FrameHeader,
  YamuxSession,
  type YamuxOptions,
  type YamuxStream,
} from "../../tunnel/yamux/index.ts";

export { seeded as prng } from "../helpers/seeded.ts";

export function randomBytesSeeded(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

export function sha256(...bufs: Buffer[]): string {
  const h = createHash("sha256");
  for (const b of bufs) h.update(b);
  return h.digest("hex");
}

/**
 * Everything the stream yields until 'end'. (Not `for await`: its iterator destroys the stream at the end,
 * which for a Duplex whose write side is still open means RST.)
 */
export function readAll(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on("data", (c: Buffer) => parts.push(c));
    stream.once("end", () => resolve(Buffer.concat(parts)));
    stream.once("error", reject);
  });
}

/** Resolves once the stream has emitted 'close' (at once if it already has). */
export function whenClosed(stream: Duplex): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => stream.once("close", () => resolve()));
}

const live = new Set<{ destroy(): unknown }>();

/** Destroys every socket and session the helpers made; call it from afterEach so a failed test leaks nothing. */
export function cleanup(): void {
  for (const x of live) x.destroy();
  live.clear();
}

/** Resolves with the error the stream is destroyed with (rejects if it closes without one). */
export function streamError(stream: Duplex): Promise<Error & { code?: string }> {
  return new Promise((resolve, reject) => {
    stream.once("error", resolve);
    stream.once("close", () => {
      if (!stream.errored) reject(new Error("stream closed without an error"));
    });
  });
}

/** Two connected TCP sockets on 127.0.0.1. */
export async function tcpPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  const accepted = once(server, "connection") as Promise<[net.Socket]>;
  const client = net.connect(port, "127.0.0.1");
  const [[serverSide]] = await Promise.all([accepted, once(client, "connect")]);
  server.close();
  live.add(client);
  live.add(serverSide);
  return [client, serverSide];
}

export interface PipeOptions {
  /** Split every write into pieces of the sizes this returns (>= 1). */
  chunk?: () => number;
  /** Deliver each write this many ms later (one-way latency). */
  delayMs?: number;
  /** The writable high-water mark of this end (Node's default otherwise). */
  highWaterMark?: number;
}

/** One end of an in-memory socket pair; backpressure from the reader reaches the writer unless delayed. */
class PipeEnd extends Duplex {
  peer!: PipeEnd;
  private heldWrite: (() => void) | null = null;
  constructor(private readonly opts: PipeOptions) {
    super({ allowHalfOpen: false, ...(opts.highWaterMark ? { writableHighWaterMark: opts.highWaterMark } : {}) });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const deliver = (): boolean => {
      let ok = true;
      if (this.opts.chunk === undefined) {
        ok = this.peer.push(chunk);
      } else {
        for (let pos = 0; pos < chunk.length; ) {
          const n = Math.max(1, Math.min(chunk.length - pos, this.opts.chunk()));
          ok = this.peer.push(chunk.subarray(pos, pos + n));
          pos += n;
        }
      }
      return ok;
    };
    if (this.opts.delayMs) {
      setTimeout(() => {
        if (!this.peer.destroyed) deliver();
      }, this.opts.delayMs);
      cb();
      return;
    }
    if (deliver()) cb();
    else this.heldWrite = () => cb();
  }
  override _read(): void {
    const held = this.peer.heldWrite;
    if (held) {
      this.peer.heldWrite = null;
      held();
    }
  }
  override _final(cb: (err?: Error | null) => void): void {
    const end = () => this.peer.push(null);
    if (this.opts.delayMs) setTimeout(end, this.opts.delayMs);
    else end();
    cb();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.destroy();
    cb(err);
  }
}

export function pipePair(opts: PipeOptions = {}, optsBack: PipeOptions = opts): [Duplex, Duplex] {
  const a = new PipeEnd(opts);
  const b = new PipeEnd(optsBack);
  a.peer = b;
  b.peer = a;
  live.add(a);
  live.add(b);
  return [a, b];
}

export interface SessionPair {
  client: YamuxSession;
  server: YamuxSession;
  close(): void;
}

type PairOptions = Partial<Omit<YamuxOptions, "role">>;

export async function tcpSessions(clientOpts: PairOptions = {}, serverOpts: PairOptions = clientOpts): Promise<SessionPair> {
  const [a, b] = await tcpPair();
  return sessions(a, b, clientOpts, serverOpts);
}

export function sessions(a: Duplex, b: Duplex, clientOpts: PairOptions = {}, serverOpts: PairOptions = clientOpts): SessionPair {
  const client = new YamuxSession(a, { keepAliveIntervalMs: 0, ...clientOpts, role: "client" });
  const server = new YamuxSession(b, { keepAliveIntervalMs: 0, ...serverOpts, role: "server" });
  return {
    client,
    server,
    close() {
      client.close();
      server.close();
    },
  };
}

/** Echoes every incoming stream back, half-closing after the peer does. */
export function echoStreams(session: YamuxSession): void {
  session.on("stream", (s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
}

/** Writes `data` in pieces, respecting backpressure, then ends the stream. */
export async function writeAll(stream: YamuxStream, data: Buffer, piece = 64 * 1024): Promise<void> {
  for (let pos = 0; pos < data.length; pos += piece) {
    if (!stream.write(data.subarray(pos, pos + piece))) await once(stream, "drain");
  }
  stream.end();
}

export interface RawFrame extends FrameHeader {
  payload: Buffer;
}

/**
 * A frame-level peer for conformance tests: it records every frame the session sends, answers pings
 * (unless told not to), and lets the test write arbitrary frames, including broken ones.
 */
export class RawPeer {
  readonly frames: RawFrame[] = [];
  answerPings = true;
  private waiters: Array<{ match: (f: RawFrame) => boolean; resolve: (f: RawFrame) => void }> = [];
  private parts: Buffer[] = [];
  readonly ended: Promise<void>;

  constructor(readonly socket: Duplex) {
    const parser = new FrameParser({
      onHeader: () => {
        this.parts = [];
      },
      onPayload: (c) => {
        this.parts.push(c);
      },
      onFrameEnd: (h) => this.onFrame({ ...h, payload: Buffer.concat(this.parts) }),
    });
    socket.on("data", (c: Buffer) => parser.push(c));
    socket.on("error", () => {});
    this.ended = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  private onFrame(f: RawFrame): void {
    if (f.type === FrameType.Ping && f.flags & Flag.SYN && this.answerPings) {
      this.send(FrameType.Ping, Flag.ACK, 0, f.length);
    }
    this.frames.push(f);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(f)) return true;
      w.resolve(f);
      return false;
    });
  }

  /** The next frame (from now on) that matches. */
  next(match: (f: RawFrame) => boolean): Promise<RawFrame> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  send(type: FrameType, flags: number, streamId: number, length: number, payload?: Buffer): void {
    this.socket.write(encodeHeader(type, flags, streamId, length));
    if (payload) this.socket.write(payload);
  }

  sendData(streamId: number, flags: number, payload: Buffer): void {
    this.send(FrameType.Data, flags, streamId, payload.length, payload);
  }

  /** Round trip through the session: every frame it sent before answering has arrived once this resolves. */
  async barrier(): Promise<void> {
    const id = 0x7000_0000 + Math.floor(Math.random() * 0x0fff_ffff);
    const pong = this.next((f) => f.type === FrameType.Ping && (f.flags & Flag.ACK) !== 0 && f.length === id);
    this.send(FrameType.Ping, Flag.SYN, 0, id);
    await pong;
  }

  dataBytes(streamId: number): number {
    let n = 0;
    for (const f of this.frames) if (f.type === FrameType.Data && f.streamId === streamId) n += f.payload.length;
    return n;
  }
}

/** A session on one end of a TCP pair and a RawPeer on the other. */
export async function rawPair(role: "client" | "server", opts: PairOptions = {}): Promise<{ session: YamuxSession; peer: RawPeer }> {
  const [a, b] = await tcpPair();
  const session = new YamuxSession(a, { keepAliveIntervalMs: 0, ...opts, role });
  return { session, peer: new RawPeer(b) };
}
