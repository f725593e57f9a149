// Static route bodies under the download shaper: Warren's own bytes meet the same bucket as proxied
// ones. Error pages, 429s and WAF answers are small and go out unshaped (writeAnswer's default).
import type { RequestContext } from "../context.ts";
import { downloadPacer, STATIC_CHUNK } from "./pacer.ts";

export { STATIC_CHUNK };

/**
 * Ends ctx.res with `body`: at once without a download shaper; otherwise slice by slice, each after
 * its wait and only while the client socket takes more (drain). A closed response stops it and
 * clears its timer.
 */
export function writeStaticBody(ctx: RequestContext, body: Buffer | string): void {
  const res = ctx.res;
  const pacer = downloadPacer(ctx.shaping);
  if (pacer === undefined) return void res.end(body);
  const buf = typeof body === "string" ? Buffer.from(body) : body;
  let off = 0;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const stop = (): void => {
    done = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    res.off("drain", next);
  };
  /** Writes one slice; true when the next may follow at once. */
  const write = (slice: Buffer): boolean => {
    off += slice.length;
    if (off >= buf.length) {
      res.off("close", stop);
      done = true;
      res.end(slice);
      return false;
    }
    if (res.write(slice)) return true;
    res.once("drain", next);
    return false;
  };
  const send = (slice: Buffer): void => {
    timer = undefined;
    if (!done && write(slice)) next();
  };
  function next(): void {
    while (!done) {
      const slice = buf.subarray(off, off + STATIC_CHUNK);
      const wait = pacer!.delay(slice.length);
      if (wait > 0) {
        timer = setTimeout(send, wait, slice);
        return;
      }
      if (!write(slice)) return;
    }
  }
  res.once("close", stop);
  if (buf.length === 0) {
    stop();
    res.end();
    return;
  }
  next();
}
