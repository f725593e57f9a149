// Stage 3, Warren's reserved paths: everything under /.well-known/warren/ belongs to the gateway
// (challenge pages and ACME answers join here), so no route can expose an upstream's version of it.
import { answer, type Stage, type StageResult } from "../stage.ts";
import type { RequestContext } from "../context.ts";

export const RESERVED_PREFIX = "/.well-known/warren/";

export const reservedPaths: Stage = {
  name: "reserved_paths",
  run(ctx: RequestContext): StageResult {
    if (!ctx.routingPath.startsWith(RESERVED_PREFIX)) return undefined;
    // No reserved endpoint exists yet: the path is Warren's, and it has nothing there.
    return answer("route_not_found");
  },
};
