// One client's response chain (the response decorators in front of ResponseRelay) driven by the
// cache instead of by undici: the chain sees the same callbacks a proxied response gives it, so
// hits, coalesced waiters and revalidated entries get the relay's headers, backpressure and the
// download shaper's pacing with no second writer. A Downstream is the chain's controller; what feeds
// it (an upstream connection, a coalesced flight, a stored body) is its Source, and may change
// under it without the chain noticing.
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { STATIC_CHUNK } from "../shaping/pacer.ts";

export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** What the chain's pause/resume/abort act on. */
export interface Source {
  pause(): void;
  resume(): void;
  abort(reason: Error): void;
}

export class Downstream implements Dispatcher.DispatchController {
  source: Source | undefined = undefined;
  private requestStarted = false;
  private responseStarted = false;
  private over = false;
  private pausedFlag = false;
  private abortReason: Error | null = null;

  constructor(readonly handler: Dispatcher.DispatchHandler) {}

  get aborted(): boolean {
    return this.abortReason !== null;
  }
  get paused(): boolean {
    return this.pausedFlag;
  }
  get reason(): Error | null {
    return this.abortReason;
  }
  /** The chain finished (ended or failed): later callbacks are dropped. */
  get done(): boolean {
    return this.over;
  }
  get started(): boolean {
    return this.responseStarted;
  }

  pause(): void {
    this.pausedFlag = true;
    this.source?.pause();
  }
  resume(): void {
    this.pausedFlag = false;
    this.source?.resume();
  }
  abort(reason: Error): void {
    if (this.abortReason !== null) return;
    this.abortReason = reason;
    const s = this.source;
    if (s !== undefined) s.abort(reason);
    else this.error(reason);
  }

  requestStart(context: unknown = {}): void {
    if (this.requestStarted) return;
    this.requestStarted = true;
    this.handler.onRequestStart?.(this, context);
  }

  start(status: number, headers: ResponseHeaders, statusMessage = ""): void {
    this.requestStart();
    if (this.over || this.responseStarted) return;
    this.responseStarted = true;
    this.handler.onResponseStart?.(this, status, headers, statusMessage);
  }

  data(chunk: Buffer): void {
    if (this.over) return;
    this.handler.onResponseData?.(this, chunk);
  }

  end(): void {
    if (this.over) return;
    this.over = true;
    this.handler.onResponseEnd?.(this, {});
  }

  error(err: Error): void {
    if (this.over) return;
    this.over = true;
    this.handler.onResponseError?.(this, err);
  }
}

/**
 * Plays a stored body (from its start, or from `skip` bytes in) into a Downstream whose response has
 * started, in slices of the static-body writer's size so the download pacing is as fine-grained for
 * a hit as for a static body. Pause and resume follow the chain; abort destroys the stream.
 */
export class BodyPlayer implements Source {
  private skip: number;

  constructor(
    private readonly down: Downstream,
    private readonly body: Readable,
    skip = 0,
  ) {
    this.skip = skip;
    down.source = this;
    body.on("data", (c: Buffer) => this.onData(c));
    body.once("end", () => down.end());
    body.once("error", (e) => down.error(e));
    if (down.paused) body.pause();
  }

  private onData(c: Buffer): void {
    if (this.skip > 0) {
      if (c.length <= this.skip) {
        this.skip -= c.length;
        return;
      }
      c = c.subarray(this.skip);
      this.skip = 0;
    }
    for (let off = 0; off < c.length && !this.down.done; off += STATIC_CHUNK) this.down.data(c.subarray(off, off + STATIC_CHUNK));
  }

  pause(): void {
    this.body.pause();
  }
  resume(): void {
    this.body.resume();
  }
  abort(reason: Error): void {
    this.body.destroy();
    this.down.error(reason);
  }
}

/**
 * Plays a body held in memory (the memory tier's chunks) into a Downstream whose response has
 * started: synchronously, in the same STATIC_CHUNK slices as BodyPlayer, until the chain pauses
 * (a full client socket, the download shaper); resume goes on from there on the next tick. No stream,
 * no async iteration: a small hit's head, body and end are written in one tick.
 */
export class ChunkPlayer implements Source {
  private i = 0;
  private off = 0;
  private paused: boolean;
  private stopped = false;
  private scheduled = false;
  private readonly next = (): void => {
    this.scheduled = false;
    this.play();
  };

  constructor(
    private readonly down: Downstream,
    private readonly chunks: readonly Buffer[],
  ) {
    down.source = this;
    this.paused = down.paused;
    if (!this.paused) this.play();
  }

  private play(): void {
    const { down, chunks } = this;
    while (!this.paused && !this.stopped && this.i < chunks.length) {
      if (down.done) {
        this.stopped = true;
        return;
      }
      const c = chunks[this.i]!;
      const end = Math.min(c.length, this.off + STATIC_CHUNK);
      const slice = this.off === 0 && end === c.length ? c : c.subarray(this.off, end);
      if (end === c.length) {
        this.i++;
        this.off = 0;
      } else this.off = end;
      down.data(slice);
    }
    if (!this.paused && !this.stopped) {
      this.stopped = true;
      down.end();
    }
  }

  pause(): void {
    this.paused = true;
  }
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.stopped || this.scheduled) return;
    this.scheduled = true;
    process.nextTick(this.next);
  }
  abort(reason: Error): void {
    this.stopped = true;
    this.down.error(reason);
  }
}

/** The upstream connection feeds the chain directly: the cache only watches (or is not involved). */
export class UpstreamSource implements Source {
  constructor(private readonly upstream: Dispatcher.DispatchController) {}
  pause(): void {
    this.upstream.pause();
  }
  resume(): void {
    this.upstream.resume();
  }
  abort(reason: Error): void {
    this.upstream.abort(reason);
  }
}

/** Flat [name, value, …] to undici's header object (lower-case names, repeats as arrays). */
export function headerObject(flat: readonly string[]): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!.toLowerCase();
    const v = flat[i + 1]!;
    const cur = out[k];
    if (cur === undefined) out[k] = v;
    else if (Array.isArray(cur)) cur.push(v);
    else out[k] = [cur, v];
  }
  return out;
}
