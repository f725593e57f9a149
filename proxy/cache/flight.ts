// Request coalescing (DESIGN.md §5 stage 9): concurrent misses for one variant key send one upstream
// request, the flight; the others wait for its response head and are then fed its body as it
// arrives, each at its own pace.
//
// Memory stays bounded per flight. The body's chunks are kept from byte 0 only while the body is
// under `joinBytes` (so a request arriving early in the flight can still start from the beginning);
// past that no one joins any more, and chunks every attached subscriber has passed are dropped. The
// upstream is read at the pace of the fastest subscriber and paused while every subscriber is
// paused, so one slow client alone never makes the flight buffer. A subscriber more than `lagBytes`
// behind a faster one is detached: it stops holding chunks, and when the flight ends it reads the
// rest of the body back from the store (if the entry was stored) or its response is cut short.
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { WarrenError } from "../../lib/errors.ts";
import { BodyPlayer, type Downstream, type ResponseHeaders, type Source } from "./downstream.ts";

export interface FlightLimits {
  /** Waiters per flight; more go upstream on their own. */
  readonly maxWaiters: number;
  /** How long waiters wait for the flight's response head before going upstream on their own. */
  readonly waitMs: number;
  /** Late requests may join while the body so far is at most this big. */
  readonly joinBytes: number;
  /** A subscriber this far behind a faster one is detached. */
  readonly lagBytes: number;
}

export const DEFAULT_FLIGHT_LIMITS: FlightLimits = Object.freeze({ maxWaiters: 1000, waitMs: 30_000, joinBytes: 4 * 1024 * 1024, lagBytes: 8 * 1024 * 1024 });

/** retry: look the key up again (the store was just refreshed or filled); upstream: go on your own. */
export type Release = "retry" | "upstream";

export interface Waiter {
  /** The flight's head is here (synchronously, in start()): subscribe now, or go elsewhere. */
  started(flight: Flight): void;
  released(outcome: Release): void;
}

class Subscriber implements Source {
  /** Absolute index of the next chunk to deliver, and bytes delivered so far. */
  idx = 0;
  offset = 0;
  paused = false;
  attached = true;
  pumping = false;

  constructor(
    private readonly flight: Flight,
    readonly down: Downstream,
  ) {}

  pause(): void {
    this.paused = true;
    this.flight.flow();
  }
  resume(): void {
    this.paused = false;
    this.flight.pump(this);
    this.flight.flow();
  }
  abort(reason: Error): void {
    this.flight.remove(this);
    this.down.error(reason);
  }
}

export class Flight {
  status = 0;
  headers: ResponseHeaders = {};
  /** The response's vary names and the variant key it is stored under (set with the head). */
  vary: readonly string[] = [];
  storeKey = "";
  private state: "waiting" | "streaming" | "ended" | "failed" = "waiting";
  private waiters: Waiter[] = [];
  private readonly subs = new Set<Subscriber>();
  private readonly chunks: Buffer[] = [];
  /** Chunks dropped from the front (absolute index of chunks[0]). */
  private dropped = 0;
  private bytes = 0;
  private joinClosed = false;
  private upstream: Dispatcher.DispatchController | undefined;
  private upstreamPaused = false;
  private readBack: (() => Readable | undefined) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private waitExpired = false;

  constructor(
    readonly key: string,
    private readonly limits: FlightLimits,
    private readonly onClose: (f: Flight) => void,
  ) {}

  /**
   * Queues a waiter for the head, or starts it at once when the body is already streaming and can
   * still be joined; false when the flight takes no more (full, timed out, or past joining).
   */
  wait(w: Waiter): boolean {
    if (this.state === "streaming" && !this.joinClosed) {
      w.started(this);
      return true;
    }
    if (this.state !== "waiting" || this.waitExpired || this.waiters.length >= this.limits.maxWaiters) return false;
    this.waiters.push(w);
    this.timer ??= setTimeout(this.expire, this.limits.waitMs);
    return true;
  }

  /** A waiter whose client went away. */
  unwait(w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    this.waitExpired = true;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w.released("upstream");
  };

  get waiting(): number {
    return this.waiters.length;
  }
  get subscribers(): number {
    return this.subs.size;
  }
  /** Body bytes held right now. */
  get buffered(): number {
    let n = 0;
    for (const c of this.chunks) n += c.length;
    return n;
  }

  /** The cacheable head arrived: waiters subscribe (or not) before any body byte is pushed. */
  start(status: number, headers: ResponseHeaders, upstream: Dispatcher.DispatchController, readBack: () => Readable | undefined): void {
    if (this.state !== "waiting") return;
    this.status = status;
    this.headers = headers;
    this.upstream = upstream;
    this.readBack = readBack;
    this.state = "streaming";
    this.clearTimer();
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w.started(this);
  }

  /** Subscribes a chain whose response has started; undefined when the flight is past joining. */
  subscribe(down: Downstream): Subscriber | undefined {
    if ((this.state !== "streaming" && this.state !== "ended") || this.joinClosed) return undefined;
    const s = new Subscriber(this, down);
    down.source = s;
    this.subs.add(s);
    this.pump(s);
    this.flow();
    return s;
  }

  push(chunk: Buffer): void {
    if (this.state !== "streaming" || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes > this.limits.joinBytes) this.joinClosed = true;
    for (const s of this.subs) this.pump(s);
    this.flow();
  }

  /** The body is complete (and stored, when it was). Subscribers get the rest, detached ones read it back. */
  finish(): void {
    if (this.state !== "streaming") return;
    this.state = "ended";
    this.unpause();
    for (const s of [...this.subs]) {
      if (s.attached) this.pump(s);
      else this.replay(s);
    }
    this.close();
  }

  /** The upstream failed mid-body, or the flight was abandoned: every subscriber's response is cut. */
  fail(err: Error): void {
    if (this.state === "waiting") return this.release("upstream");
    if (this.state !== "streaming") return;
    this.state = "failed";
    for (const s of [...this.subs]) {
      this.subs.delete(s);
      s.down.error(err);
    }
    this.chunks.length = 0;
    this.close();
  }

  /**
   * Before any head: the response is not shared (uncacheable, a 304 refreshed the store, an error).
   * The leader may still start it later (a retry on another target) and store it, for no waiters.
   */
  release(outcome: Release): void {
    if (this.state !== "waiting") return;
    this.waitExpired = true;
    const ws = this.waiters;
    this.waiters = [];
    this.close();
    for (const w of ws) w.released(outcome);
  }

  remove(s: Subscriber): void {
    s.attached = false;
    this.subs.delete(s);
    if (this.subs.size === 0 && this.state === "streaming") {
      // Nobody is left to read it: stop the upstream instead of filling the cache for no one.
      this.upstream?.abort(new WarrenError("client_aborted", "every client of a coalesced response went away"));
      return;
    }
    this.flow();
  }

  pump(s: Subscriber): void {
    if (s.pumping) return;
    s.pumping = true;
    try {
      while (s.attached && !s.paused && !s.down.done) {
        const c = this.chunks[s.idx - this.dropped];
        if (c !== undefined) {
          s.idx++;
          s.offset += c.length;
          s.down.data(c);
          continue;
        }
        if (this.state === "ended") {
          this.subs.delete(s);
          s.attached = false;
          s.down.end();
        }
        break;
      }
    } finally {
      s.pumping = false;
    }
  }

  /** Detach laggards, drop what nobody needs, and pause the upstream while nobody wants more. */
  flow(): void {
    if (this.state !== "streaming") return;
    let active = false;
    for (const s of this.subs) if (s.attached && !s.paused) active = true;
    if (active) {
      for (const s of this.subs) {
        if (s.attached && this.bytes - s.offset > this.limits.lagBytes) s.attached = false;
      }
    }
    if (this.joinClosed) {
      let min = this.dropped + this.chunks.length;
      for (const s of this.subs) if (s.attached && s.idx < min) min = s.idx;
      while (this.dropped < min) {
        this.chunks.shift();
        this.dropped++;
      }
    }
    let attached = 0;
    for (const s of this.subs) if (s.attached) attached++;
    // With only detached subscribers (or none yet) the upstream runs on: the store is the reader.
    const wants = attached === 0 || active;
    if (!wants && !this.upstreamPaused) {
      this.upstreamPaused = true;
      this.upstream?.pause();
    } else if (wants) this.unpause();
  }

  private unpause(): void {
    if (!this.upstreamPaused) return;
    this.upstreamPaused = false;
    this.upstream?.resume();
  }

  private replay(s: Subscriber): void {
    this.subs.delete(s);
    const body = this.readBack?.();
    if (body === undefined) return s.down.error(new WarrenError("upstream_reset", "a coalesced client fell behind and the response was not stored"));
    new BodyPlayer(s.down, body, s.offset);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private close(): void {
    this.clearTimer();
    this.onClose(this);
  }
}

/** The flights in progress, by variant key. */
export class Flights {
  private readonly byKey = new Map<string, Flight>();

  constructor(readonly limits: FlightLimits = DEFAULT_FLIGHT_LIMITS) {}

  get(key: string): Flight | undefined {
    return this.byKey.get(key);
  }

  /** A new flight for `key` (the caller leads it). */
  lead(key: string): Flight {
    const f = new Flight(key, this.limits, (x) => {
      if (this.byKey.get(x.key) === x) this.byKey.delete(x.key);
    });
    this.byKey.set(key, f);
    return f;
  }

  get size(): number {
    return this.byKey.size;
  }
}
