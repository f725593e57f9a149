import { KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS } from "../keepalive.ts";
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import { YamuxError } from "./errors.ts";
import {
  Flag,
  FrameParser,
  FrameType,
  GoAwayCode,
  INITIAL_STREAM_WINDOW,
  MAX_STREAM_ID,
  MAX_WINDOW,
  encodeHeader,
  type FrameHeader,
  type FrameSink,
} from "./frame.ts";
import { MAX_FRAME_PAYLOAD, YamuxStream, type StreamHost } from "./stream.ts";

export interface YamuxOptions {
  /** Clients open odd stream ids, servers even ones. */
  role: "client" | "server";
  /** Largest receive window a stream may grow to (auto-tuned from 256 KiB). Default 16 MiB, at least 256 KiB. */
  maxStreamWindow?: number;
  /** Keepalive ping period; 0 turns keepalive off. Default 15000. */
  keepAliveIntervalMs?: number;
  /** How long a keepalive ping may go unanswered before the session closes. Default 10000. */
  keepAliveTimeoutMs?: number;
  /** Incoming streams waiting for a "stream" listener; further SYNs get RST. Default 256. */
  acceptBacklog?: number;
  /** Limit on open streams (both directions); default unlimited. */
  maxStreams?: number;
}

export interface YamuxSessionEvents {
  /** A stream the peer opened. */
  stream: [stream: YamuxStream];
  /** Emitted once; `err` is set unless the session ended cleanly. */
  close: [err?: Error];
  /** The peer sent go-away: openStream() fails from now on. */
  goaway: [code: number];
  /** We answered an incoming SYN with RST (go-away sent, backlog full, or maxStreams reached). */
  refused: [streamId: number, reason: YamuxError];
}

const DEFAULT_MAX_STREAM_WINDOW = 16 * 1024 * 1024;
const DEFAULT_ACCEPT_BACKLOG = 256;
/**
 * DATA waits for 'drain' once this much is queued in the socket (not at the socket's own 16 KiB
 * high-water mark): frames of several streams then leave in one write, one TLS write and one syscall.
 */
export const SEND_BUFFER_LIMIT = 512 * 1024;
/**
 * DATA waits for 'drain', so beyond the DATA backlog (the send budget, or the socket's own high-water mark
 * if larger, plus one frame) only control frames can pile up in the socket; this much of them means the
 * peer keeps sending pings or SYNs while not reading our replies. Each queued 12-byte frame costs the
 * heap ~100 bytes more (its Buffer and write entry): at 16 MiB a peer that never read held ~170 MiB of
 * the server's memory; at 1 MiB past the DATA backlog, ~30 MiB.
 */
const CONTROL_FLOOD_MARGIN = 1024 * 1024;
/** After close(), give the socket this long to flush the go-away before destroying it. */
const CLOSE_LINGER_MS = 2_000;

function discard(): void {}

interface PendingPing {
  resolve: (rttMs: number) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  start: number;
}

/**
 * A Yamux session (hashicorp/yamux spec) over any Duplex: a TCP or TLS socket, or an upgraded HTTP
 * connection. Streams are Node Duplexes with backpressure both ways; see YamuxStream.
 */
export class YamuxSession extends EventEmitter<YamuxSessionEvents> {
  private readonly socket: Duplex;
  private readonly role: "client" | "server";
  private readonly maxStreamWindow: number;
  private readonly keepAliveTimeoutMs: number;
  private readonly acceptBacklog: number;
  private readonly maxStreams: number;
  /** Bytes queued in the socket past which a control frame to send means a flood (CONTROL_FLOOD_MARGIN). */
  private readonly controlFloodLimit: number;

  private readonly streams = new Map<number, YamuxStream>();
  private readonly acceptQueue: YamuxStream[] = [];
  private readonly parser: FrameParser;
  private readonly host: StreamHost;
  private nextStreamId: number;
  /** Highest stream id the peer opened (SYN seen): frames for ids above it name streams that never existed. */
  private highestPeerStreamId = 0;
  /** Stream the DATA payload being parsed belongs to (undefined: discard it). */
  private current: YamuxStream | undefined;

  private closed = false;
  private localGoAway = false;
  private peerGoAway = false;

  private corked = false;
  private sendBlocked = false;
  /** Streams with DATA to send, waiting for the socket to drain; a Set keeps FIFO order. */
  private readonly sendWaiters = new Set<YamuxStream>();
  /** Streams holding received payload not yet pushed to their reader. */
  private readonly deliveries = new Set<YamuxStream>();
  private deliveryScheduled = false;

  private readonly pings = new Map<number, PendingPing>();
  private nextPingId = 0;
  private lastRttMs = 0;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private keepAliveInFlight = false;

  private inBytes = 0;
  private outBytes = 0;

  constructor(socket: Duplex, opts: YamuxOptions) {
    super();
    if (opts.role !== "client" && opts.role !== "server") throw new YamuxError("yamux_invalid_option", `role must be "client" or "server"`);
    this.socket = socket;
    this.controlFloodLimit = Math.max(SEND_BUFFER_LIMIT, socket.writableHighWaterMark) + MAX_FRAME_PAYLOAD + CONTROL_FLOOD_MARGIN;
    this.role = opts.role;
    this.maxStreamWindow = opts.maxStreamWindow ?? DEFAULT_MAX_STREAM_WINDOW;
    if (!Number.isInteger(this.maxStreamWindow) || this.maxStreamWindow < INITIAL_STREAM_WINDOW || this.maxStreamWindow > MAX_WINDOW) {
      throw new YamuxError("yamux_invalid_option", `maxStreamWindow must be an integer from ${INITIAL_STREAM_WINDOW} to ${MAX_WINDOW}`);
    }
    const keepAliveIntervalMs = opts.keepAliveIntervalMs ?? KEEPALIVE_INTERVAL_MS;
    this.keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? KEEPALIVE_TIMEOUT_MS;
    this.acceptBacklog = opts.acceptBacklog ?? DEFAULT_ACCEPT_BACKLOG;
    this.maxStreams = opts.maxStreams ?? Infinity;
    for (const [name, v] of [
      ["keepAliveIntervalMs", keepAliveIntervalMs],
      ["keepAliveTimeoutMs", this.keepAliveTimeoutMs],
      ["acceptBacklog", this.acceptBacklog],
      ["maxStreams", this.maxStreams],
    ] as const) {
      if (!(v >= 0)) throw new YamuxError("yamux_invalid_option", `${name} must be >= 0`);
    }
    if (!(this.keepAliveTimeoutMs > 0)) throw new YamuxError("yamux_invalid_option", "keepAliveTimeoutMs must be > 0");
    this.nextStreamId = this.role === "client" ? 1 : 2;

    const session = this;
    this.host = {
      maxStreamWindow: this.maxStreamWindow,
      rttMs: () => this.lastRttMs,
      deliverLater: (stream) => this.deliverLater(stream),
      acquireSend: (stream) => this.acquireSend(stream),
      sendData: (id, parts, length) => this.sendData(id, parts, length),
      sendControl: (type, flags, id, length) => this.sendControl(type, flags, id, length),
      release: (stream) => this.release(stream),
      get closed() {
        return session.closed;
      },
    };

    const sink: FrameSink = {
      onHeader: (h) => this.onHeader(h),
      onPayload: (chunk) => this.onPayload(chunk),
      onFrameEnd: (h) => this.onFrameEnd(h),
    };
    this.parser = new FrameParser(sink);

    // Small control frames must not wait for Nagle; we batch writes ourselves with cork().
    (socket as { setNoDelay?: (noDelay: boolean) => unknown }).setNoDelay?.(true);
    socket.on("data", this.onSocketData);
    socket.on("drain", this.onDrain);
    socket.on("end", this.onSocketEnd);
    socket.on("close", this.onSocketEnd);
    socket.on("error", this.onSocketError);
    (this as EventEmitter).on("newListener", (event: string | symbol) => {
      if (event === "stream" && this.acceptQueue.length > 0) process.nextTick(() => this.drainAcceptQueue());
    });

    if (socket.destroyed || !socket.readable) {
      process.nextTick(() => this.close());
      return;
    }
    if (keepAliveIntervalMs > 0) {
      this.keepAliveTimer = setInterval(() => this.keepAlive(), keepAliveIntervalMs);
      this.keepAliveTimer.unref();
    }
    // One ping up front gives window auto-tuning a round-trip time.
    this.ping().catch(() => {});
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Streams currently open (either direction, not yet closed both ways or reset). */
  get streamCount(): number {
    return this.streams.size;
  }

  /** DATA payload bytes received. */
  get bytesIn(): number {
    return this.inBytes;
  }

  /** DATA payload bytes sent. */
  get bytesOut(): number {
    return this.outBytes;
  }

  /** True once the peer sent go-away: openStream() throws yamux_go_away. */
  get remoteGoAway(): boolean {
    return this.peerGoAway;
  }

  /** Latest measured round-trip time in ms (0 until the first pong). */
  get rttMs(): number {
    return this.lastRttMs;
  }

  /** Opens a stream; SYN goes out at once and writing may start before the peer's ACK. */
  openStream(): YamuxStream {
    if (this.closed) throw new YamuxError("yamux_session_closed");
    if (this.peerGoAway) throw new YamuxError("yamux_go_away", "peer sent go-away: no new streams");
    if (this.streams.size >= this.maxStreams) throw new YamuxError("yamux_too_many_streams");
    const id = this.nextStreamId;
    if (id > MAX_STREAM_ID) throw new YamuxError("yamux_streams_exhausted");
    this.nextStreamId += 2;
    const stream = new YamuxStream(id, this.host, true);
    this.streams.set(id, stream);
    this.sendControl(FrameType.WindowUpdate, Flag.SYN, id, 0);
    return stream;
  }

  /** Measures the round-trip time in ms. Rejects with yamux_ping_timeout or yamux_session_closed. */
  ping(timeoutMs: number = this.keepAliveTimeoutMs || KEEPALIVE_TIMEOUT_MS): Promise<number> {
    if (this.closed) return Promise.reject(new YamuxError("yamux_session_closed"));
    const id = (this.nextPingId = (this.nextPingId + 1) >>> 0);
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(id);
        reject(new YamuxError("yamux_ping_timeout", `no pong within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(id, { resolve, reject, timer, start: performance.now() });
      this.sendControl(FrameType.Ping, Flag.SYN, 0, id);
    });
  }

  /** Refuses new incoming streams (they get RST) and tells the peer, whose openStream() then fails. Open streams continue. */
  goAway(code: number = GoAwayCode.Normal): void {
    if (this.closed) return;
    this.localGoAway = true;
    this.sendControl(FrameType.GoAway, 0, 0, code);
  }

  /**
   * Closes the session: every open stream is destroyed at once with yamux_session_closed (its `cause` is
   * `err`), pending pings fail, the peer gets a go-away and the socket is ended. Emits "close" once.
   */
  close(err?: Error): void {
    if (this.closed) return;
    if (!this.socket.destroyed && this.socket.writable) {
      const code =
        err === undefined ? GoAwayCode.Normal : err instanceof YamuxError && err.code === "yamux_protocol_error" ? GoAwayCode.ProtocolError : GoAwayCode.InternalError;
      if (!(this.localGoAway && code === GoAwayCode.Normal)) this.write(encodeHeader(FrameType.GoAway, 0, 0, code));
    }
    this.closed = true;
    this.parser.stop();
    if (this.keepAliveTimer !== undefined) clearInterval(this.keepAliveTimer);

    const socket = this.socket;
    socket.off("data", this.onSocketData);
    socket.off("drain", this.onDrain);
    socket.off("end", this.onSocketEnd);
    socket.off("close", this.onSocketEnd);
    // The error listener stays: a late socket error must not become an uncaught exception.
    if (!socket.destroyed) {
      const destroy = () => socket.destroy();
      if (err instanceof YamuxError && (err.code === "yamux_keepalive_timeout" || err.code === "yamux_socket_error")) {
        destroy(); // nobody is listening: no point in a goodbye
      } else {
        // Lingering close: send our FIN after the go-away but keep draining input until the peer's FIN;
        // closing with unread input would make the kernel answer with RST, and the peer lose the go-away.
        if (socket.readableEnded) socket.end(destroy);
        else {
          socket.on("data", discard);
          socket.once("end", destroy);
          socket.end();
        }
        setTimeout(destroy, CLOSE_LINGER_MS).unref();
      }
    }

    const reason = new YamuxError("yamux_session_closed", err ? `session closed: ${err.message}` : "session closed", { cause: err });
    for (const p of this.pings.values()) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.pings.clear();
    const streams = [...this.streams.values()];
    this.streams.clear();
    this.sendWaiters.clear();
    this.deliveries.clear();
    this.acceptQueue.length = 0;
    this.current = undefined;
    for (const s of streams) s.sessionClosed(reason);
    this.emit("close", err);
  }

  // ---- receiving ----------------------------------------------------------------------------------

  private readonly onSocketData = (chunk: Buffer): void => {
    try {
      this.parser.push(chunk);
    } catch (err) {
      if (err instanceof YamuxError && err.code === "yamux_protocol_error") this.close(err);
      else throw err;
    }
  };

  private onHeader(h: FrameHeader): void {
    if (h.type !== FrameType.Data && h.type !== FrameType.WindowUpdate) return;
    const id = h.streamId;
    if (id === 0) throw new YamuxError("yamux_protocol_error", "stream frame on stream id 0");
    let stream: YamuxStream | undefined;
    if (h.flags & Flag.SYN) {
      if (this.streams.has(id)) throw new YamuxError("yamux_protocol_error", `duplicate SYN for stream ${id}`);
      stream = this.incomingStream(id);
    } else {
      stream = this.streams.get(id);
      if (stream === undefined && !this.wasOpened(id)) throw new YamuxError("yamux_protocol_error", `frame for stream ${id}, which was never opened`);
    }
    // Frames for streams that closed (or that we reset) are dropped, payload too: the peer may have sent
    // them before it learnt. But no window we ever granted allows one larger than maxStreamWindow.
    this.current = stream;
    if (h.type !== FrameType.Data) return;
    if (stream === undefined) {
      if (h.length > this.maxStreamWindow) throw new YamuxError("yamux_protocol_error", `stream ${id}: ${h.length} bytes on a closed stream exceed any window`);
      return;
    }
    if (h.length > stream.receiveWindow) {
      throw new YamuxError("yamux_protocol_error", `stream ${id}: ${h.length} bytes exceed the receive window of ${stream.receiveWindow}`);
    }
    // The peer itself half-closed this stream: no race can explain more data from it.
    if (h.length > 0 && stream.remoteEnded) throw new YamuxError("yamux_protocol_error", `stream ${id}: data after FIN`);
    stream.consumeWindow(h.length);
  }

  /** Whether stream `id` was opened at some point by us (ids below our next one) or by the peer (a SYN seen). */
  private wasOpened(id: number): boolean {
    const ours = (id & 1) === (this.role === "client" ? 1 : 0);
    return ours ? id < this.nextStreamId : id <= this.highestPeerStreamId;
  }

  private onPayload(chunk: Buffer): void {
    this.inBytes += chunk.length;
    this.current?.handleData(chunk);
  }

  private onFrameEnd(h: FrameHeader): void {
    switch (h.type) {
      case FrameType.Data:
      case FrameType.WindowUpdate: {
        const stream = this.current;
        this.current = undefined;
        if (stream === undefined) return;
        if (h.type === FrameType.WindowUpdate && h.length > 0) stream.handleWindowUpdate(h.length);
        if (h.flags & Flag.RST) stream.handleReset();
        else if (h.flags & Flag.FIN) stream.handleFin();
        return;
      }
      case FrameType.Ping:
        // Payload that arrived before a ping or go-away reaches its readers first: a pong (ping()
        // resolving) then means everything the peer sent before it has been delivered.
        this.flushDeliveries();
        if (h.flags & Flag.SYN) this.sendControl(FrameType.Ping, Flag.ACK, h.streamId, h.length);
        else if (h.flags & Flag.ACK) this.onPong(h.length);
        return;
      case FrameType.GoAway:
        if (h.length > GoAwayCode.InternalError) throw new YamuxError("yamux_protocol_error", `unknown go-away code ${h.length}`);
        this.flushDeliveries();
        this.onGoAway(h.length);
        return;
    }
  }

  private incomingStream(id: number): YamuxStream | undefined {
    if ((id & 1) !== (this.role === "client" ? 0 : 1)) {
      throw new YamuxError("yamux_protocol_error", `stream ${id} has the wrong parity for a ${this.role === "client" ? "server" : "client"}`);
    }
    if (id > this.highestPeerStreamId) this.highestPeerStreamId = id;
    if (this.localGoAway) return this.refuse(id, new YamuxError("yamux_go_away", "go-away sent: not accepting streams"));
    if (this.streams.size >= this.maxStreams) return this.refuse(id, new YamuxError("yamux_too_many_streams"));
    const deliverNow = this.acceptQueue.length === 0 && this.listenerCount("stream") > 0;
    if (!deliverNow && this.acceptQueue.length >= this.acceptBacklog) return this.refuse(id, new YamuxError("yamux_backlog_full"));
    const stream = new YamuxStream(id, this.host, false);
    this.streams.set(id, stream);
    if (deliverNow) this.accept(stream);
    else this.acceptQueue.push(stream);
    return stream;
  }

  private refuse(id: number, reason: YamuxError): undefined {
    this.sendControl(FrameType.WindowUpdate, Flag.RST, id, 0);
    this.emit("refused", id, reason);
    return undefined;
  }

  private accept(stream: YamuxStream): void {
    stream.delivered = true;
    this.sendControl(FrameType.WindowUpdate, Flag.ACK, stream.id, 0);
    this.emit("stream", stream);
  }

  private drainAcceptQueue(): void {
    while (!this.closed && this.acceptQueue.length > 0 && this.listenerCount("stream") > 0) {
      const stream = this.acceptQueue.shift()!;
      if (!stream.destroyed) this.accept(stream);
    }
  }

  private onPong(id: number): void {
    const p = this.pings.get(id);
    if (p === undefined) return;
    this.pings.delete(id);
    clearTimeout(p.timer);
    this.lastRttMs = performance.now() - p.start;
    p.resolve(this.lastRttMs);
  }

  private onGoAway(code: number): void {
    this.peerGoAway = true;
    this.emit("goaway", code);
    if (code !== GoAwayCode.Normal) {
      const what = code === GoAwayCode.ProtocolError ? "a protocol error" : code === GoAwayCode.InternalError ? "an internal error" : `code ${code}`;
      this.close(new YamuxError("yamux_go_away", `peer ended the session with ${what}`));
    }
  }

  private keepAlive(): void {
    if (this.keepAliveInFlight || this.closed) return;
    this.keepAliveInFlight = true;
    this.ping(this.keepAliveTimeoutMs).then(
      () => {
        this.keepAliveInFlight = false;
      },
      (err: YamuxError) => {
        this.keepAliveInFlight = false;
        if (err.code === "yamux_ping_timeout") this.close(new YamuxError("yamux_keepalive_timeout", `no pong within ${this.keepAliveTimeoutMs} ms`));
      },
    );
  }

  private readonly onSocketEnd = (): void => {
    this.close();
  };

  private readonly onSocketError = (err: Error): void => {
    if (!this.closed) this.close(new YamuxError("yamux_socket_error", err.message, { cause: err }));
  };

  private release(stream: YamuxStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.sendWaiters.delete(stream);
  }

  // setImmediate runs after the poll phase, i.e. after every 'data' event of this socket's current
  // burst of reads (a TLS socket emits one per 16 KiB record, each followed by its own nextTick queue).
  private deliverLater(stream: YamuxStream): void {
    this.deliveries.add(stream);
    if (this.deliveryScheduled) return;
    this.deliveryScheduled = true;
    setImmediate(this.onDeliveryTurn);
  }

  private readonly onDeliveryTurn = (): void => {
    this.deliveryScheduled = false;
    this.flushDeliveries();
  };

  private flushDeliveries(): void {
    for (const stream of this.deliveries) {
      this.deliveries.delete(stream);
      stream.deliver();
    }
  }

  // ---- sending ------------------------------------------------------------------------------------

  /**
   * Writes through a cork that lifts after the poll phase (setImmediate): what every stream and control
   * frame sent while handling this turn's I/O leaves in one writev. A nextTick cork would lift after each
   * socket event (each origin read, each 16 KiB TLS record), i.e. one TLS write per frame. A full batch
   * leaves at once, so bulk transfers do not wait a turn per SEND_BUFFER_LIMIT.
   */
  private write(buf: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(this.uncork);
    }
    this.socket.write(buf);
    // writableNeedDrain: a 'drain' is sure to come (a socket whose own high-water mark is above the
    // budget blocks at that mark instead).
    if (this.socket.writableLength >= SEND_BUFFER_LIMIT && this.socket.writableNeedDrain) {
      this.sendBlocked = true;
      this.uncork();
    }
  }

  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  };

  private sendControl(type: FrameType, flags: number, streamId: number, length: number): void {
    if (this.closed) return;
    if (this.socket.writableLength > this.controlFloodLimit) {
      this.close(new YamuxError("yamux_protocol_error", "peer does not read while it keeps asking for replies"));
      return;
    }
    this.write(encodeHeader(type, flags, streamId, length));
  }

  private acquireSend(stream: YamuxStream): boolean {
    if (this.closed) return false;
    if (!this.sendBlocked) return true;
    this.sendWaiters.add(stream);
    return false;
  }

  private sendData(streamId: number, parts: Buffer[], length: number): void {
    this.write(encodeHeader(FrameType.Data, 0, streamId, length));
    for (const p of parts) this.write(p);
    this.outBytes += length;
  }

  private readonly onDrain = (): void => {
    this.sendBlocked = false;
    // Round robin: each waiting stream sends until the socket pushes back, then goes to the end of the line.
    for (const stream of this.sendWaiters) {
      if (this.sendBlocked || this.closed) return;
      this.sendWaiters.delete(stream);
      stream.flushWrites();
    }
  };
}
