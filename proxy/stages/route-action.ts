// Stage 7b, the route's action: HTTP→HTTPS redirect, static response or redirect (answered here,
// without a target), or forward (go on to target selection).
import { TAKEN, type Stage, type StageResult } from "../stage.ts";
import { writeAnswer } from "../respond.ts";
import { matchPathPrefix, normalizePath } from "../routing/path-prefix.ts";
import type { RequestContext } from "../context.ts";
import type { RouteAction } from "../snapshot.ts";
import { writeStaticBody } from "../shaping/static-body.ts";

type Redirect = Extract<RouteAction, { kind: "redirect" }>;

/**
 * The part of the path below the route's prefix ("/old/thing" under "/old" → "/thing"), taken from
 * the routing form (slashes merged, unreserved characters decoded: the same resource, RFC 3986 §6.2.2).
 */
export function pathBelowPrefix(prefix: string, routingPath: string): string {
  const p = normalizePath(prefix === "" ? "/" : prefix).replace(/\/$/, "");
  if (p === "" || !matchPathPrefix(p, routingPath)) return routingPath;
  return routingPath.slice(p.length);
}

function redirectLocation(ctx: RequestContext, a: Redirect): string {
  const query = a.keepQuery ? ctx.query : "";
  if (a.mode === "same_host_path") {
    if (!a.keepPathBelowPrefix) return `${a.location}${query}`;
    const rest = pathBelowPrefix(ctx.route!.pathPrefix, ctx.routingPath);
    const base = a.location.endsWith("/") && rest.startsWith("/") ? a.location.slice(0, -1) : a.location;
    return `${base}${rest}${query}`;
  }
  if (a.mode === "external_origin") return `${a.location}${ctx.path}${query}`;
  if (!a.keepQuery || ctx.query === "") return a.location;
  return a.location.includes("?") ? `${a.location}&${ctx.query.slice(1)}` : `${a.location}${ctx.query}`;
}

export const routeAction: Stage = {
  name: "route_action",
  run(ctx: RequestContext): StageResult {
    const r = ctx.route!;
    if (r.httpsRedirect && ctx.proto === "http") {
      writeAnswer(ctx, 308, ["location", `https://${ctx.hostValue ?? ctx.host}${ctx.forwardTarget}`], "");
      return TAKEN;
    }
    const a = r.action;
    if (a.kind === "forward") return undefined;
    // A static body meets the download shaper like a proxied one.
    if (a.kind === "static") writeAnswer(ctx, a.status, [...a.headers], a.body, writeStaticBody);
    else writeAnswer(ctx, a.status, ["location", redirectLocation(ctx, a)], "");
    return TAKEN;
  },
};
