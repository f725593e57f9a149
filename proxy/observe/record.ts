// Stage 11's hand-off: when a request is over — the pipeline is done with it and its response is
// closed (finished, or the client or the spliced connection went away) — one event goes to the sink, and a gateway-side failure is logged with its
// cause and the request id the client saw.
import type http from "node:http";
import type { Logger } from "pino";
import { statusOf } from "../../lib/errors.ts";
import type { RequestContext } from "../context.ts";
import type { EventSink } from "./request-event.ts";

function causeOf(err: unknown): { message: string; code?: string } | undefined {
  if (err === undefined || err === null) return undefined;
  if (!(err instanceof Error)) return { message: String(err) };
  const code = (err as { code?: unknown }).code;
  const inner = (err as { cause?: unknown }).cause;
  const innerCode = inner instanceof Error ? (inner as { code?: unknown }).code : undefined;
  // Messages of socket, TLS and undici errors name addresses, never headers or bodies.
  return {
    message: inner instanceof Error && inner.message !== err.message ? `${err.message}: ${inner.message}` : err.message,
    ...(typeof code === "string" ? { code } : typeof innerCode === "string" ? { code: innerCode } : {}),
  };
}

export function recordWhenDone(ctx: RequestContext, sink: EventSink, stageNames: readonly string[], log: Logger): void {
  ctx.onDone = (): void => {
    const res = ctx.res;
    let status = ctx.status;
    if (ctx.raw === undefined) {
      const r = res as http.ServerResponse;
      // A response that never started (client gone) is recorded as 499, like nginx.
      status = r.headersSent ? r.statusCode : 499;
    } else if (status === 0) {
      status = 499;
    }
    const finished = res.writableFinished || ctx.status === 101;
    const code = ctx.code ?? (finished ? undefined : "client_aborted");
    // A waiting room's 503s are its normal answers, not failures.
    if (code !== undefined && statusOf(code) >= 500 && code !== "waf_waiting_room" && code !== "waiting_room_full") {
      const fields = { requestId: ctx.id, routeId: ctx.route?.id, targetId: ctx.target?.id, agentId: ctx.agent?.id, code, cause: causeOf(ctx.cause) };
      // A 500 is Warren's own failure (a bug): logged at error level with the whole cause.
      if (statusOf(code) === 500) log.error({ ...fields, err: ctx.cause }, "request failed: gateway error");
      else log.warn(fields, "request failed");
    }
    const req = ctx.req;
    sink.record({
      at: ctx.at,
      requestId: ctx.id,
      listenerId: ctx.listener.id,
      routeId: ctx.route?.id ?? "",
      targetId: ctx.target?.id ?? "",
      agentId: ctx.agent?.id ?? "",
      method: ctx.method.slice(0, 16),
      host: String(req.headers.host ?? "").slice(0, 255),
      path: (ctx.path || (req.url ?? "").split("?")[0]!).slice(0, 2048),
      status,
      bytesIn: ctx.bytesIn,
      bytesOut: ctx.bytesOut,
      durationMs: Math.round((performance.now() - ctx.startedAt) * 1000) / 1000,
      errorKind: code ?? "",
      clientIp: ctx.clientIp,
      answeredBy: ctx.answeredBy,
      upgrade: ctx.raw?.kind === "upgrade",
      // The rule that decided: a WAF rule, or the rate limit that refused the request.
      ruleId: ctx.rule?.id ?? (ctx.limited ? ctx.rateLimitRules!.at(-1)!.id : ""),
      ruleAction: ctx.rule?.action.kind ?? (ctx.limited ? "rate_limit" : ""),
      rateLimitRuleIds: ctx.rateLimitRules === undefined ? "" : ctx.rateLimitRules.map((r) => r.id).join(","),
      limited: ctx.limited,
      shaperRuleId: ctx.shaping?.rule.id ?? "",
      shapedBytesIn: ctx.shaping?.shapedBytesIn ?? 0,
      shapedBytesOut: ctx.shaping?.shapedBytesOut ?? 0,
      cacheStatus: ctx.cacheStatus,
      timings: ctx.timings,
      stageNames,
    });
  };
  ctx.res.once("close", () => ctx.settle("response"));
}
