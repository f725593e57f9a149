import type { RequestContext } from "../context.ts";
import { uploadPacer } from "../shaping/pacer.ts";
import { PaceTransform } from "../shaping/pace-transform.ts";
import type { BodyTransform } from "./request-body.ts";

/**
 * The upload shaper (DESIGN.md §5 stage 6): the request body goes upstream at the shaper's rate
 * after its exempt bytes. Put it last in the list so it paces what is actually sent, and so the
 * stream undici destroys on an abort is this one (its timer goes with it).
 */
export const uploadShaper: BodyTransform = (ctx: RequestContext) => {
  const p = uploadPacer(ctx.shaping);
  return p === undefined ? undefined : new PaceTransform(p);
};
