// The WAF stage's waiting room branch: reads the session cookie, asks the rule's room, and either
// lets the request go on (admitted, or the room is off) or answers with the waiting-room page
// (503, Retry-After, a meta refresh: no script needed) or, when the queue is full, a plain 503.
import { writeAnswer, answerError } from "../respond.ts";
import { errorEntry } from "../../lib/errors.ts";
import { reasonPhrase } from "../../lib/http-status.ts";
import type { RequestContext } from "../context.ts";
import type { CompiledWafRule, WafRuleAction } from "../snapshot.ts";
import { parseCookies } from "./cel-request.ts";
import { readSession, signSession, waitingRoomCookieName, type WaitingRooms } from "./waiting-room.ts";

export type WaitingRoomAction = Extract<WafRuleAction, { kind: "waiting_room" }>;

function sessionCookie(ctx: RequestContext, rule: CompiledWafRule, session: string): string {
  const value = signSession(ctx.snapshot.policyKey, rule.id, rule.fingerprint, ctx.host, session);
  return [`${waitingRoomCookieName(rule.id)}=${value}`, "Path=/", "HttpOnly", "SameSite=Lax", ...(ctx.proto === "https" ? ["Secure"] : [])].join("; ");
}

/** True when the room answered the request; false when it goes on to the next rules. */
export function waitingRoomGate(ctx: RequestContext, rule: CompiledWafRule, a: WaitingRoomAction, rooms: WaitingRooms, cookie: string | undefined): boolean {
  rooms.retain(ctx.snapshot.waf);
  const room = rooms.room(rule, a.config);
  const d = room.enter(readSession(ctx.snapshot.policyKey, cookie, rule.id, rule.fingerprint, ctx.host));
  if (d.kind === "inactive" || d.kind === "admitted") {
    if (d.kind === "admitted" && d.newSession) ctx.setCookie = sessionCookie(ctx, rule, d.session);
    if (a.config.automatic !== undefined) {
      // In flight until the response is done (the load an automatic room watches).
      room.began();
      const next = ctx.onDone;
      ctx.onDone = () => {
        room.ended();
        next?.();
      };
    }
    return false;
  }
  ctx.rule = rule;
  const retryAfter = String(a.config.pollIntervalS);
  if (d.kind === "full") {
    answerError(ctx, "waiting_room_full", ["retry-after", retryAfter]);
    return true;
  }
  ctx.code = "waf_waiting_room";
  if (d.newSession) ctx.setCookie = sessionCookie(ctx, rule, d.session);
  const status = 503;
  const body = a.page.render({
    status: String(status),
    status_text: reasonPhrase(status),
    message: errorEntry("waf_waiting_room").message,
    request_id: ctx.id,
    host: ctx.host,
    path: ctx.path,
    rule_name: rule.name,
    position: String(d.position),
    retry_after: retryAfter,
    refresh: `<meta http-equiv="refresh" content="${retryAfter}">`,
  });
  writeAnswer(ctx, status, ["content-type", a.page.contentType, "cache-control", "no-store", "retry-after", retryAfter], body);
  return true;
}

export const WAITING_ROOM_STATUS_PATH = "/.well-known/warren/waiting-room/status";

/**
 * GET /.well-known/warren/waiting-room/status?rule=<id>: where the caller's session stands, as
 * JSON { position, admitted, retry_after }. A poll like a reload: it keeps a queued place.
 */
export function waitingRoomStatus(ctx: RequestContext, rooms: WaitingRooms): void {
  const ruleId = new URLSearchParams(ctx.query.slice(1)).get("rule") ?? "";
  const rule = ctx.snapshot.waf.find((r) => r.id === ruleId);
  if (rule === undefined || rule.action.kind !== "waiting_room") {
    answerError(ctx, "route_not_found");
    return;
  }
  rooms.retain(ctx.snapshot.waf);
  const room = rooms.room(rule, rule.action.config);
  const cookie = parseCookies(ctx.req.headers.cookie).get(waitingRoomCookieName(rule.id));
  const s = room.status(readSession(ctx.snapshot.policyKey, cookie, rule.id, rule.fingerprint, ctx.host));
  const body = JSON.stringify({ position: s.position, admitted: s.admitted, retry_after: s.retryAfterS });
  writeAnswer(ctx, 200, ["content-type", "application/json", "cache-control", "no-store"], body);
}
