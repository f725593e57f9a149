// Stage 4, WAF rules (DESIGN.md §5): in priority order, the first enabled rule whose scope — and
// then its CEL `when` — matches decides: `block` answers here, `allow` skips the remaining rules.
// Upgrade requests run this stage too, so a WebSocket to a blocked path is blocked.
import type { Logger } from "pino";
import { TAKEN, type Stage, type StageResult } from "../stage.ts";
import { writeAnswer } from "../respond.ts";
import { renderErrorPage } from "../errors.ts";
import { errorEntry } from "../../lib/errors.ts";
import { reasonPhrase } from "../../lib/http-status.ts";
import { CelRequest } from "../policy/cel.ts";
import type { RequestContext } from "../context.ts";
import type { CompiledWafRule, WafRuleAction } from "../snapshot.ts";
import { CHALLENGE_TTL_S, checkPass, clientNetwork, issueChallenge, passCookieName, safeReturnPath } from "../policy/challenge.ts";
import { captchaWidget, challengeWidget, noScriptBlock } from "../policy/challenge-page.ts";
import { CAPTCHA_KINDS } from "../policy/captcha.ts";
import { waitingRoomCookieName, WaitingRooms } from "../policy/waiting-room.ts";
import { waitingRoomGate } from "../policy/waiting-room-gate.ts";

type Block = Extract<WafRuleAction, { kind: "block" }>;
type Challenge = Extract<WafRuleAction, { kind: "challenge" }>;

/** The challenge page may run only Warren's own script and worker, and post only to Warren. */
export const CHALLENGE_PAGE_CSP =
  "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** Evaluation errors are counted per rule and logged at most once per rule per interval; decisions are logged at debug. */
export class PolicyErrors {
  private readonly counts = new Map<string, number>();
  private readonly lastLog = new Map<string, number>();
  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  evalError(rule: CompiledWafRule, err: unknown, now = Date.now()): void {
    const n = (this.counts.get(rule.id) ?? 0) + 1;
    this.counts.set(rule.id, n);
    if (now - (this.lastLog.get(rule.id) ?? -Infinity) < this.intervalMs) return;
    this.lastLog.set(rule.id, now);
    this.log.warn({ ruleId: rule.id, rule: rule.name, errors: n, err: err instanceof Error ? err.message : String(err) }, "WAF rule's `when` failed to evaluate");
  }

  /** A rule decided a request: at debug level only (the request event has it anyway). */
  decided(rule: CompiledWafRule, ctx: RequestContext, outcome: string): void {
    if (this.log.isLevelEnabled("debug")) this.log.debug({ requestId: ctx.id, ruleId: rule.id, rule: rule.name, outcome, host: ctx.host, path: ctx.path, method: ctx.method }, "WAF rule decided");
  }

  /** Evaluation errors of a rule since start. */
  count(ruleId: string): number {
    return this.counts.get(ruleId) ?? 0;
  }
}

/** The CEL view of a request, for policy stages' `when` expressions. */
export function celRequest(ctx: RequestContext): CelRequest {
  return new CelRequest({
    method: ctx.method,
    protocol: ctx.proto,
    host: ctx.host,
    path: ctx.path,
    rawQuery: ctx.query === "" ? "" : ctx.query.slice(1),
    headers: ctx.req.headers,
    clientIp: ctx.clientIp,
  });
}

function block(ctx: RequestContext, rule: CompiledWafRule, a: Block): void {
  ctx.code = "waf_blocked";
  const b = a.body;
  if (b.kind === "error_page") {
    const page = renderErrorPage("waf_blocked", ctx.id, ctx.req.headers.accept);
    writeAnswer(ctx, a.status, ["content-type", page.contentType, "cache-control", "no-store", ...a.headers], page.body);
  } else if (b.kind === "literal") {
    writeAnswer(ctx, a.status, ["content-type", b.contentType, "cache-control", "no-store", ...a.headers], b.body);
  } else {
    const body = b.template.render({
      status: String(a.status),
      status_text: reasonPhrase(a.status),
      message: errorEntry("waf_blocked").message,
      request_id: ctx.id,
      host: ctx.host,
      path: ctx.path,
      rule_name: rule.name,
    });
    writeAnswer(ctx, a.status, ["content-type", b.template.contentType, "cache-control", "no-store", ...a.headers], body);
  }
}

function challenge(ctx: RequestContext, rule: CompiledWafRule, a: Challenge, nowS: number): void {
  ctx.code = "waf_challenge";
  const token = issueChallenge(ctx.snapshot.policyKey, {
    ruleId: rule.id,
    fingerprint: rule.fingerprint,
    host: ctx.host,
    network: clientNetwork(ctx.clientIp),
    difficulty: a.captcha ? 0 : a.difficulty,
    expiresAt: nowS + CHALLENGE_TTL_S,
    check: a.captcha ? "captcha" : "pow",
  });
  const returnTo = safeReturnPath(ctx.forwardTarget);
  const c = a.captcha;
  const ns = a.noScript;
  let noScript = noScriptBlock({ kind: "ask" });
  let csp = c ? c.csp : CHALLENGE_PAGE_CSP;
  if (ns.kind !== "ask") {
    // A token of its own: it is good only for the no-JavaScript way out this rule offers.
    const nsToken = issueChallenge(ctx.snapshot.policyKey, {
      ruleId: rule.id,
      fingerprint: rule.fingerprint,
      host: ctx.host,
      network: clientNetwork(ctx.clientIp),
      difficulty: 0,
      expiresAt: nowS + CHALLENGE_TTL_S,
      check: "noscript",
    });
    if (ns.kind === "block") noScript = noScriptBlock({ kind: "block", token: nsToken });
    else {
      noScript = noScriptBlock({ kind: "captcha", token: nsToken, returnTo, fallbackUrl: ns.fallbackUrl });
      csp = withFrameSource(csp, new URL(ns.fallbackUrl).origin);
    }
  }
  const status = 403;
  const body = a.page.render({
    status: String(status),
    status_text: reasonPhrase(status),
    message: errorEntry("waf_challenge").message,
    request_id: ctx.id,
    host: ctx.host,
    path: ctx.path,
    rule_name: rule.name,
    difficulty: String(a.difficulty),
    // A request body is never replayed: the page says so, and the client sends it again after the check.
    challenge: c
      ? captchaWidget({ token, returnTo, bodyDropped: ctx.hasBody, widgetClass: CAPTCHA_KINDS[c.kind].widgetClass, siteKey: c.siteKey, scriptUrl: c.scriptUrl, noScript })
      : challengeWidget({ token, difficulty: a.difficulty, returnTo, bodyDropped: ctx.hasBody, noScript }),
  });
  writeAnswer(ctx, status, ["content-type", a.page.contentType, "cache-control", "no-store", "content-security-policy", csp], body);
}

/** A CSP that also lets the page frame `origin`. */
export function withFrameSource(csp: string, origin: string): string {
  return /(^|; )frame-src /.test(csp) ? csp.replace(/(^|; )frame-src /, `$1frame-src ${origin} `) : `${csp}; frame-src ${origin}`;
}

export function waf(errors: PolicyErrors, rooms = new WaitingRooms()): Stage {
  return {
    name: "waf",
    run(ctx: RequestContext): StageResult {
      const rules = ctx.snapshot.waf;
      // Waiting rooms of deleted or edited rules go with the first request on the new snapshot.
      rooms.retain(rules);
      if (rules.length === 0) return undefined;
      // Built on the first rule with a `when` whose scope matched, then shared by the rest.
      let cel: CelRequest | undefined;
      for (const rule of rules) {
        if (!rule.scope.matches(ctx.host, ctx.routingPath, ctx.method)) continue;
        if (rule.when !== undefined) {
          let hit: boolean;
          try {
            hit = rule.when.evaluate((cel ??= celRequest(ctx)));
          } catch (e) {
            errors.evalError(rule, e);
            // Fail closed for block rules, open otherwise (DESIGN.md §5).
            hit = rule.action.kind === "block";
          }
          if (!hit) continue;
        }
        const a = rule.action;
        if (a.kind === "challenge") {
          const nowS = Math.floor(Date.now() / 1000);
          const pass = (cel ??= celRequest(ctx)).cookie(passCookieName(rule.id));
          // A valid pass: this rule is done with the client; later rules still apply.
          if (checkPass(ctx.snapshot.policyKey, pass, rule.id, rule.fingerprint, ctx.host, nowS)) {
            errors.decided(rule, ctx, "pass");
            continue;
          }
          ctx.rule = rule;
          errors.decided(rule, ctx, "challenge");
          challenge(ctx, rule, a, nowS);
          return TAKEN;
        }
        if (a.kind === "waiting_room") {
          const answered = waitingRoomGate(ctx, rule, a, rooms, (cel ??= celRequest(ctx)).cookie(waitingRoomCookieName(rule.id)));
          errors.decided(rule, ctx, answered ? "waiting_room" : "admitted");
          if (answered) return TAKEN;
          continue;
        }
        ctx.rule = rule;
        errors.decided(rule, ctx, a.kind);
        if (a.kind === "allow") return undefined;
        block(ctx, rule, a);
        return TAKEN;
      }
      return undefined;
    },
  };
}
