// One direction of one request's shaping: the exempt allowance first, then the bucket. Every
// shaped path (request body, response body, static body, spliced upgrade) asks a Pacer.
import type { ByteBucket, ShapingState } from "./types.ts";

/** Warren's own bodies (static responses, cache hits) are paced in slices of this size, each when its tokens are paid. */
export const STATIC_CHUNK = 32 * 1024;

export class Pacer {
  private exemptLeft: number;

  constructor(
    private readonly state: ShapingState,
    private readonly bucket: ByteBucket,
    private readonly dir: "in" | "out",
  ) {
    const s = state.rule.spec;
    this.exemptLeft = Math.max(0, (dir === "in" ? s.requestExemptBytes - state.exemptBytesIn : s.responseExemptBytes - state.exemptBytesOut));
  }

  /** Milliseconds to wait before sending an n-byte chunk (0 = send now); the tokens are taken now. */
  delay(n: number): number {
    let shaped = n;
    if (this.exemptLeft > 0) {
      const free = Math.min(this.exemptLeft, n);
      this.exemptLeft -= free;
      shaped -= free;
      if (this.dir === "in") this.state.exemptBytesIn += free;
      else this.state.exemptBytesOut += free;
      if (shaped === 0) return 0;
    }
    const wait = this.bucket.take(shaped, performance.now());
    if (wait > 0) {
      if (this.dir === "in") this.state.shapedBytesIn += shaped;
      else this.state.shapedBytesOut += shaped;
    }
    return wait;
  }
}

/** The pacer for request bytes (client → upstream), or undefined when that direction is not shaped. */
export function uploadPacer(state: ShapingState | undefined): Pacer | undefined {
  return state?.upload === undefined ? undefined : new Pacer(state, state.upload, "in");
}

/** The pacer for response bytes (upstream → client), or undefined when that direction is not shaped. */
export function downloadPacer(state: ShapingState | undefined): Pacer | undefined {
  return state?.download === undefined ? undefined : new Pacer(state, state.download, "out");
}
