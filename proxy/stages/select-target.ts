// Stage 8, target selection: the lowest priority group with an eligible target, and for agent
// targets an eligible agent (proxy/targets/target-selector.ts). The forward stage asks the same
// selector again for its one retry.
import { rawHeaderValue } from "../headers.ts";
import { answer, type Stage, type StageResult } from "../stage.ts";
import type { RequestContext } from "../context.ts";
import type { CompiledRoute } from "../snapshot.ts";
import type { TargetSelector } from "../targets/target-selector.ts";

function cookieValue(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function hashKeyOf(route: CompiledRoute, ctx: RequestContext): string | undefined {
  const h = route.hash;
  if (h === undefined) return undefined;
  if (h.on === "client_ip") return ctx.clientIp;
  if (h.on === "header") return rawHeaderValue(ctx.req.rawHeaders, h.key);
  return cookieValue(ctx.req.headers.cookie, h.key);
}

/**
 * Requests in flight per route with a max_concurrent_requests, by route id (kept across snapshots:
 * an edit that keeps the route keeps its count). Entries go when they reach zero.
 */
class RouteLoad {
  private readonly inFlight = new Map<string, number>();

  /** Counts the request in until it is done; false when the route is full. */
  enter(ctx: RequestContext, route: CompiledRoute): boolean {
    const n = this.inFlight.get(route.id) ?? 0;
    if (n >= route.maxConcurrent) return false;
    this.inFlight.set(route.id, n + 1);
    const next = ctx.onDone;
    ctx.onDone = () => {
      const left = (this.inFlight.get(route.id) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(route.id);
      else this.inFlight.set(route.id, left);
      next?.();
    };
    return true;
  }
}

export function selectTarget(selector: TargetSelector): Stage {
  const load = new RouteLoad();
  return {
    name: "select_target",
    run(ctx: RequestContext): StageResult {
      const route = ctx.route!;
      if (route.maxConcurrent > 0 && !load.enter(ctx, route)) return answer("route_busy", ["retry-after", "1"]);
      ctx.hashKey = hashKeyOf(route, ctx);
      const s = selector.select(route, ctx.hashKey);
      if (s === undefined) return answer("no_healthy_target");
      ctx.selection = s;
      ctx.target = s.target;
      ctx.agent = s.agent;
      return undefined;
    },
  };
}
