import type { RequestContext } from "../context.ts";
import { downloadPacer, uploadPacer } from "../shaping/pacer.ts";
import { PaceTransform } from "../shaping/pace-transform.ts";
import type { SpliceTransform } from "./response-relay.ts";

/**
 * The upgrade shaper (DESIGN.md §5 stage 6): a spliced connection's client → upstream bytes go
 * through the upload bucket and upstream → client bytes through the download bucket, each after its
 * exempt bytes. Backpressure is pipe()'s: a waiting chunk pauses the side that sent it.
 */
export const upgradeShaper: SpliceTransform = (ctx: RequestContext) => {
  const up = uploadPacer(ctx.shaping);
  const down = downloadPacer(ctx.shaping);
  if (up === undefined && down === undefined) return undefined;
  return { aToB: up ? [new PaceTransform(up)] : [], bToA: down ? [new PaceTransform(down)] : [] };
};
