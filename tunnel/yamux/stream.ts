import { Duplex } from "node:stream";
import { performance } from "node:perf_hooks";
import { YamuxError } from "./errors.ts";
import { Flag, FrameType, INITIAL_STREAM_WINDOW, MAX_WINDOW } from "./frame.ts";

/**
 * Largest DATA frame we send: one initial window. In bench/tunnel, 64, 128 and 256 KiB frames gave the same
 * throughput within noise (TLS encryption dominates); larger frames mean fewer headers and callbacks.
 */
export const MAX_FRAME_PAYLOAD = 256 * 1024;
/** Floor for the RTT used by window auto-tuning: loopback pings understate the round trip under load. */
const MIN_TUNING_RTT_MS = 1;
const STREAM_BUFFER_HWM = 64 * 1024;
/**
 * Received payload is collected and handed to the reader as one chunk at the end of the socket's burst of
 * reads, or as soon as this much is in. A TLS socket delivers at most 16 KiB per 'data' event, and each
 * piece pushed on its own costs the reader one callback and often one write of its own (undici: one
 * llhttp run and one res.write per piece). Above 64 KiB, so that a 64 KiB body and its response head
 * arrive as one chunk.
 */
const DELIVERY_CHUNK = 128 * 1024;
const NO_BUFFERS: Buffer[] = [];

/** What a stream needs from its session. Internal: the session builds it; streams never see the session class. */
export interface StreamHost {
  readonly maxStreamWindow: number;
  /** Latest measured round trip in ms, 0 while unknown. */
  rttMs(): number;
  /** Calls `stream.deliver()` once the socket's current burst of reads has been parsed. */
  deliverLater(stream: YamuxStream): void;
  /** True if DATA may be written now; otherwise the stream is queued and `flushWrites()` runs on drain. */
  acquireSend(stream: YamuxStream): boolean;
  sendData(streamId: number, parts: Buffer[], length: number): void;
  sendControl(type: FrameType, flags: number, streamId: number, length: number): void;
  /** Forget the stream (both sides closed, reset, or destroyed). */
  release(stream: YamuxStream): void;
  readonly closed: boolean;
}

/**
 * One Yamux stream as a Node Duplex. Writes complete when the peer's window has room (backpressure
 * reaches the writer through write()'s return value); read credit goes back to the peer as the consumer
 * reads, so a paused reader holds at most one window. end() half-closes (FIN), destroy() resets (RST).
 */
export class YamuxStream extends Duplex {
  /** Credit the peer gave us: bytes we may still send. */
  private sendWindow = INITIAL_STREAM_WINDOW;
  /** Credit we gave the peer that it has not used yet. */
  private recvWindow = INITIAL_STREAM_WINDOW;
  /** Current size of our receive window; grows (auto-tune) up to the session's maxStreamWindow. */
  private recvTarget = INITIAL_STREAM_WINDOW;
  /** Payload received but not yet pushed: it still counts against the window (not consumed). */
  private inbox: Buffer[] = [];
  private inboxBytes = 0;
  private bytesPushed = 0;
  private bytesCredited = 0;
  private epochStart = performance.now();

  private localFin = false;
  private remoteFin = false;
  private released = false;
  /** @internal false while an incoming stream waits in the accept backlog. */
  delivered: boolean;

  // The write in progress: Writable hands us one write (or writev batch) at a time.
  private pendBufs: Buffer[] = NO_BUFFERS;
  private pendIndex = 0;
  private pendOffset = 0;
  private pendBytes = 0;
  private pendCb: ((err?: Error | null) => void) | null = null;

  /** @internal streams are made by YamuxSession.openStream() or arrive through its "stream" event. */
  constructor(
    readonly id: number,
    private readonly host: StreamHost,
    delivered: boolean,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: STREAM_BUFFER_HWM, writableHighWaterMark: STREAM_BUFFER_HWM });
    this.delivered = delivered;
  }

  /** @internal the window we may still use when receiving, checked by the session on every DATA header. */
  get receiveWindow(): number {
    return this.recvWindow;
  }

  /** @internal */
  get remoteEnded(): boolean {
    return this.remoteFin;
  }

  // ---- receive side -------------------------------------------------------------------------------

  /** @internal a DATA header announced `length` bytes; the session checked them against our window. */
  consumeWindow(length: number): void {
    this.recvWindow -= length;
  }

  /**
   * @internal a piece of DATA payload. Pieces are collected and pushed as one chunk once DELIVERY_CHUNK
   * bytes are in, or when the session flushes deliveries after the socket's current burst of reads.
   */
  handleData(chunk: Buffer): void {
    if (this.destroyed || this.remoteFin) return;
    if (this.inboxBytes === 0) this.host.deliverLater(this);
    this.inbox.push(chunk);
    this.inboxBytes += chunk.length;
    if (this.inboxBytes >= DELIVERY_CHUNK) this.deliver();
  }

  /** @internal pushes what the inbox holds. */
  deliver(): void {
    const n = this.inboxBytes;
    if (n === 0 || this.destroyed) return;
    const inbox = this.inbox;
    const data = inbox.length === 1 ? inbox[0]! : Buffer.concat(inbox, n);
    this.inbox = [];
    this.inboxBytes = 0;
    this.bytesPushed += n;
    this.push(data);
    this.returnCredit();
  }

  override _read(): void {
    this.returnCredit();
  }

  // Consumption through read() (paused mode, async iteration, flowing from a buffer) returns credit at
  // once; _read alone would only run when the buffer falls below its high-water mark.
  override read(size?: number): any {
    const chunk = super.read(size);
    if (chunk !== null) this.returnCredit();
    return chunk;
  }

  /** Gives consumed bytes back to the peer as window credit, in batches of half a window (like hashicorp). */
  private returnCredit(): void {
    if (this.remoteFin || this.released) return;
    const consumed = this.bytesPushed - this.readableLength;
    const pending = consumed - this.bytesCredited;
    if (pending < this.recvTarget >>> 1) return;
    let delta = pending;
    const now = performance.now();
    const max = this.host.maxStreamWindow;
    if (this.recvTarget < max) {
      // Auto-tune (as libp2p's go-yamux does): half a window consumed within a few round trips means the
      // window, not the reader, is the bottleneck, so double it. A slow reader never grows its window.
      const rtt = this.host.rttMs();
      if (rtt > 0 && now - this.epochStart < Math.max(rtt, MIN_TUNING_RTT_MS) * 4) {
        const target = Math.min(this.recvTarget * 2, max);
        delta += target - this.recvTarget;
        this.recvTarget = target;
      }
    }
    this.epochStart = now;
    this.bytesCredited = consumed;
    this.recvWindow += delta;
    this.host.sendControl(FrameType.WindowUpdate, 0, this.id, delta);
  }

  /** @internal the peer half-closed (FIN). */
  handleFin(): void {
    if (this.remoteFin) return;
    this.deliver();
    this.remoteFin = true;
    if (!this.destroyed) this.push(null);
    if (this.localFin) this.release();
  }

  /** @internal the peer reset the stream (RST). */
  handleReset(): void {
    this.release();
    // An undelivered stream has no owner to hear the error.
    this.destroy(this.delivered ? new YamuxError("yamux_stream_reset") : undefined);
  }

  /** @internal the session is gone: fail at once, without sending anything. */
  sessionClosed(err: YamuxError): void {
    this.released = true;
    this.destroy(this.delivered ? err : undefined);
  }

  // ---- send side ----------------------------------------------------------------------------------

  /** @internal the peer granted `delta` more bytes. */
  handleWindowUpdate(delta: number): void {
    const next = this.sendWindow + delta;
    if (next > MAX_WINDOW) throw new YamuxError("yamux_protocol_error", `stream ${this.id}: window update overflows the send window`);
    this.sendWindow = next;
    if (this.pendBytes > 0) this.flushWrites();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pendBufs = [chunk];
    this.pendIndex = 0;
    this.pendOffset = 0;
    this.pendBytes = chunk.length;
    this.pendCb = cb;
    this.flushWrites();
  }

  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, cb: (err?: Error | null) => void): void {
    const bufs = new Array<Buffer>(chunks.length);
    let total = 0;
    for (let i = 0; i < chunks.length; i++) {
      const b = chunks[i]!.chunk;
      bufs[i] = b;
      total += b.length;
    }
    this.pendBufs = bufs;
    this.pendIndex = 0;
    this.pendOffset = 0;
    this.pendBytes = total;
    this.pendCb = cb;
    this.flushWrites();
  }

  /**
   * @internal Sends as much of the pending write as the peer's window and the socket allow; the write
   * completes once all of it is handed to the socket. Re-run on window updates and socket drain.
   */
  flushWrites(): void {
    while (this.pendBytes > 0) {
      if (this.destroyed || this.sendWindow === 0) return;
      if (!this.host.acquireSend(this)) return;
      const n = Math.min(this.pendBytes, this.sendWindow, MAX_FRAME_PAYLOAD);
      const parts: Buffer[] = [];
      let need = n;
      while (need > 0) {
        const buf = this.pendBufs[this.pendIndex]!;
        const avail = buf.length - this.pendOffset;
        if (avail <= need) {
          if (avail > 0) parts.push(this.pendOffset === 0 ? buf : buf.subarray(this.pendOffset));
          need -= avail;
          this.pendIndex++;
          this.pendOffset = 0;
        } else {
          parts.push(buf.subarray(this.pendOffset, this.pendOffset + need));
          this.pendOffset += need;
          need = 0;
        }
      }
      this.sendWindow -= n;
      this.pendBytes -= n;
      this.host.sendData(this.id, parts, n);
    }
    const cb = this.pendCb;
    if (cb === null) return;
    this.pendCb = null;
    this.pendBufs = NO_BUFFERS;
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.released && !this.host.closed) {
      this.localFin = true;
      this.host.sendControl(FrameType.WindowUpdate, Flag.FIN, this.id, 0);
      if (this.remoteFin) this.release();
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inbox = [];
    this.inboxBytes = 0;
    if (!this.released) {
      // Not closed cleanly both ways: tell the peer to drop the stream.
      if (!this.host.closed) this.host.sendControl(FrameType.WindowUpdate, Flag.RST, this.id, 0);
      this.release();
    }
    const writeCb = this.pendCb;
    if (writeCb !== null) {
      this.pendCb = null;
      this.pendBufs = NO_BUFFERS;
      this.pendBytes = 0;
      writeCb(err ?? new YamuxError("yamux_stream_reset", "stream destroyed before the write completed"));
    }
    cb(err);
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.host.release(this);
  }
}
