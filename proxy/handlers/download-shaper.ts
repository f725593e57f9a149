// The download shaper (DESIGN.md §5 stage 6): a DispatchHandler decorator in front of ResponseRelay
// that lets response body chunks through at the shaper's rate after its exempt bytes.
import type { Dispatcher } from "undici";
import type { RequestContext } from "../context.ts";
import { downloadPacer, type Pacer } from "../shaping/pacer.ts";
import type { HandlerDecorator } from "./compose.ts";

type Headers = Record<string, string | string[] | undefined>;

/**
 * A chunk that must wait is held (never more than one in practice: undici stops parsing once
 * paused) while the upstream connection is paused, forwarded when its tokens are paid, and the
 * connection resumed unless the relay paused it meanwhile for a full client socket. The relay gets
 * a controller of this decorator's own so its pause/resume and the shaper's do not undo each other.
 * An end or error never overtakes a held chunk's order: end waits for it, an error or abort drops it.
 */
export class DownloadShaper implements Dispatcher.DispatchHandler, Dispatcher.DispatchController {
  private upstream: Dispatcher.DispatchController | undefined;
  private readonly held: { chunk: Buffer; due: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The relay asked for a pause (its client socket is full). */
  private nextPaused = false;
  private pendingEnd: Headers | undefined;

  constructor(
    private readonly next: Dispatcher.DispatchHandler,
    private readonly pacer: Pacer,
  ) {}

  // The controller the relay sees.
  get aborted(): boolean {
    return this.upstream?.aborted ?? false;
  }
  get paused(): boolean {
    return this.nextPaused;
  }
  get reason(): Error | null {
    return this.upstream?.reason ?? null;
  }
  pause(): void {
    this.nextPaused = true;
    this.upstream?.pause();
  }
  resume(): void {
    this.nextPaused = false;
    if (this.held.length === 0) this.upstream?.resume();
  }
  abort(reason: Error): void {
    this.clear();
    this.upstream?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.upstream = controller;
    this.next.onRequestStart?.(this, context);
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: Headers, socket: import("node:stream").Duplex): void {
    this.upstream = controller;
    this.next.onRequestUpgrade?.(this, statusCode, headers, socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Headers, statusMessage?: string): void {
    this.upstream = controller;
    this.next.onResponseStart?.(this, statusCode, headers, statusMessage);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (chunk.length === 0) {
      if (this.held.length === 0) this.next.onResponseData?.(this, chunk);
      return;
    }
    const wait = this.pacer.delay(chunk.length);
    if (wait === 0 && this.held.length === 0) return this.next.onResponseData?.(this, chunk);
    this.held.push({ chunk, due: performance.now() + wait });
    this.upstream?.pause();
    if (this.timer === undefined) this.schedule();
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Headers): void {
    if (this.held.length > 0) this.pendingEnd = trailers;
    else this.next.onResponseEnd?.(this, trailers);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.clear();
    this.next.onResponseError?.(this, error);
  }

  private schedule(): void {
    const first = this.held[0]!;
    this.timer = setTimeout(this.release, Math.max(0, first.due - performance.now()));
  }

  private readonly release = (): void => {
    this.timer = undefined;
    const h = this.held.shift();
    if (h === undefined) return;
    this.next.onResponseData?.(this, h.chunk);
    if (this.held.length > 0) return this.schedule();
    if (this.pendingEnd !== undefined) {
      const t = this.pendingEnd;
      this.pendingEnd = undefined;
      this.next.onResponseEnd?.(this, t);
    } else if (!this.nextPaused) {
      this.upstream?.resume();
    }
  };

  private clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.held.length = 0;
    this.pendingEnd = undefined;
  }
}

export const downloadShaper: HandlerDecorator = (next, ctx: RequestContext) => {
  const p = downloadPacer(ctx.shaping);
  return p === undefined ? next : new DownloadShaper(next, p);
};
