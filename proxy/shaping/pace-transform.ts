// A pass-through stream that lets each chunk out when its pacer allows: the request body on its way
// upstream, and both directions of a spliced upgrade.
import { Transform, type TransformCallback } from "node:stream";
import type { Pacer } from "./pacer.ts";

/**
 * Holds at most the one chunk it is waiting on: the transform callback is delayed, and a writable
 * high-water mark of one byte makes every write report "full", so pipe() pauses the source (and
 * with it the client socket) for as long as the chunk waits. Destroying it clears the timer.
 */
export class PaceTransform extends Transform {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pacer: Pacer) {
    super({ writableHighWaterMark: 1 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const wait = this.pacer.delay(chunk.length);
    if (wait === 0) return cb(null, chunk);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      cb(null, chunk);
    }, wait);
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    cb(err);
  }
}
