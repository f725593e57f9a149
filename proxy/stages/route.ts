// Stage 7, routing: listener → route by host, path prefix and method (proxy/routing/router.ts), then
// the checks that depend on the matched route: encoded separators, TRACE, the declared body size.
import { answer, type Stage, type StageResult } from "../stage.ts";
import type { RequestContext } from "../context.ts";
import { COMMON_METHODS } from "./hygiene.ts";

export const route: Stage = {
  name: "route",
  run(ctx: RequestContext): StageResult {
    const m = ctx.listener.router.match(ctx.host, ctx.routingPath, ctx.method);
    if (m.kind !== "match") {
      // %2F / %5C are refused unless the route that matched allows them: with no route, they are.
      if (ctx.encodedSeparator) return answer("path_encoded_separator");
      if (m.kind === "method_not_allowed") return answer("method_not_allowed", ["allow", m.allow.join(", ")]);
      return answer("route_not_found");
    }
    const r = m.route;
    ctx.route = r;
    if (ctx.encodedSeparator && !r.allowEncodedSeparators) return answer("path_encoded_separator");
    // TRACE echoes the request (cookies included) back: only where a route lists it explicitly.
    if (ctx.method === "TRACE" && !r.methods.includes("TRACE")) return answer("method_not_allowed", ["allow", r.methods.length > 0 ? r.methods.join(", ") : COMMON_METHODS]);
    if (r.maxBodyBytes > 0 && ctx.hasBody) {
      const cl = ctx.req.headers["content-length"];
      if (cl !== undefined && Number(cl) > r.maxBodyBytes) return answer("body_too_large");
    }
    return undefined;
  },
};
