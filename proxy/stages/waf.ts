// Stage 4, WAF rules (DESIGN.md §5): in priority order, the first enabled rule whose scope — and
// then its CEL `when` — matches decides: `block` answers here, `allow` skips the remaining rules.
// Upgrade requests run this stage too, so a WebSocket to a blocked path is blocked.
import { TAKEN, type Stage, type StageResult } from "../stage.ts";
import { writeAnswer } from "../respond.ts";
import { writeRuleAnswer } from "../policy/rule-answer.ts";
import { errorEntry } from "../../lib/errors.ts";
import { reasonPhrase } from "../../lib/http-status.ts";
import { celRequest, ruleMatches, type PolicyErrors } from "../policy/rule-match.ts";
import type { RequestContext } from "../context.ts";
import type { CompiledWafRule, WafRuleAction } from "../snapshot.ts";
import { CHALLENGE_TTL_S, checkPass, clientNetwork, issueChallenge, passCookieName, safeReturnPath } from "../policy/challenge.ts";
import { captchaWidget, challengeWidget, noScriptBlock } from "../policy/challenge-page.ts";
import { CAPTCHA_KINDS } from "../policy/captcha.ts";
import { waitingRoomCookieName, WaitingRooms } from "../policy/waiting-room.ts";
import { waitingRoomGate } from "../policy/waiting-room-gate.ts";

type Block = Extract<WafRuleAction, { kind: "block" }>;
type Challenge = Extract<WafRuleAction, { kind: "challenge" }>;

export { PolicyErrors } from "../policy/rule-match.ts";

/** The challenge page may run only Warren's own script and worker, and post only to Warren. */
export const CHALLENGE_PAGE_CSP =
  "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

function block(ctx: RequestContext, rule: CompiledWafRule, a: Block): void {
  writeRuleAnswer(ctx, "waf_blocked", a.status, a.body, a.headers, rule.name);
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
      for (const rule of rules) {
        // Fail closed for block rules, open otherwise (DESIGN.md §5).
        if (!ruleMatches(ctx, rule, errors, rule.action.kind === "block")) continue;
        const a = rule.action;
        if (a.kind === "challenge") {
          const nowS = Math.floor(Date.now() / 1000);
          const pass = celRequest(ctx).cookie(passCookieName(rule.id));
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
          const answered = waitingRoomGate(ctx, rule, a, rooms, celRequest(ctx).cookie(waitingRoomCookieName(rule.id)));
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
