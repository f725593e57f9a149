import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { ObservabilityService, RequestEventSchema, type RequestEvent } from "../../proto/gen/warren/v1/observability_pb.ts";
import { fieldError } from "../errors.ts";
import type { EventRow } from "../store/events-repo.ts";
import type { ApiDeps } from "./deps.ts";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;
const DEFAULT_WINDOW_S = 3600;
const MAX_WINDOW_S = 7 * 24 * 3600;

/** The paging cursor is the last id a page returned; opaque to callers. */
function pageToken(id: number): string {
  return Buffer.from(`e${id}`).toString("base64url");
}

function cursorOf(token: string): number | undefined {
  if (token === "") return undefined;
  const m = /^e(\d{1,15})$/.exec(Buffer.from(token, "base64url").toString());
  if (!m) throw fieldError("page_token", "is not a token this service issued");
  return Number(m[1]);
}

function stageTimings(json: string): Record<string, number> {
  try {
    const v = JSON.parse(json) as unknown;
    return typeof v === "object" && v !== null ? (v as Record<string, number>) : {};
  } catch {
    return {};
  }
}

function eventToProto(r: EventRow): RequestEvent {
  return create(RequestEventSchema, {
    id: BigInt(r.id),
    at: timestampFromMs(r.at),
    requestId: r.request_id,
    listenerId: r.listener_id,
    routeId: r.route_id,
    targetId: r.target_id,
    agentId: r.agent_id,
    method: r.method,
    host: r.host,
    path: r.path,
    status: r.status,
    bytesIn: BigInt(r.bytes_in),
    bytesOut: BigInt(r.bytes_out),
    durationMs: r.duration_ms,
    errorCode: r.error_kind,
    clientIp: r.client_ip,
    answeredBy: r.answered_by,
    upgrade: r.upgrade === 1,
    stageTimingsMs: stageTimings(r.stage_timings),
    ruleId: r.rule_id,
    ruleAction: r.rule_action,
    rateLimitRuleIds: r.rate_limit_rule_ids === "" ? [] : r.rate_limit_rule_ids.split(","),
    limited: r.limited === 1,
    shaperRuleId: r.shaper_rule_id,
    shapedBytesIn: BigInt(r.shaped_bytes_in),
    shapedBytesOut: BigInt(r.shaped_bytes_out),
    cacheStatus: r.cache_status,
  });
}

export function observabilityService(d: ApiDeps): ServiceImpl<typeof ObservabilityService> {
  return {
    listRequestEvents(req) {
      if (req.pageSize > MAX_PAGE) throw fieldError("page_size", `must be at most ${MAX_PAGE}`);
      if (req.statusClass > 5) throw fieldError("status_class", "unknown status class");
      if (req.host.length > 253) throw fieldError("host", "must be at most 253 characters");
      const since = req.since ? timestampMs(req.since) : undefined;
      const until = req.until ? timestampMs(req.until) : undefined;
      if (since !== undefined && until !== undefined && until <= since) throw fieldError("until", "must be after since");
      const limit = req.pageSize || DEFAULT_PAGE;
      // One more than asked tells whether another page exists.
      const rows = d.store.events.search(
        {
          host: req.host.trim(),
          routeId: req.routeId,
          statusClass: req.statusClass,
          errorCode: req.errorCode.trim(),
          ruleId: req.ruleId.trim(),
          since,
          until,
          beforeId: cursorOf(req.pageToken),
        },
        limit + 1,
      );
      const page = rows.slice(0, limit);
      return { events: page.map(eventToProto), nextPageToken: rows.length > limit ? pageToken(page[page.length - 1]!.id) : "" };
    },

    getRequestSummary(req) {
      const windowS = req.windowSeconds || DEFAULT_WINDOW_S;
      if (windowS > MAX_WINDOW_S) throw fieldError("window_seconds", `must be at most ${MAX_WINDOW_S}`);
      const since = d.now() - windowS * 1000;
      const s = d.store.events.summary(since);
      return {
        since: timestampFromMs(since),
        requests: BigInt(s.requests),
        clientErrors: BigInt(s.clientErrors),
        serverErrors: BigInt(s.serverErrors),
        warrenErrors: BigInt(s.warrenErrors),
      };
    },
  };
}
