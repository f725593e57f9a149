// Stage 5, rate limits (DESIGN.md §5): every enabled rule whose scope (then `when`) matches consumes
// from its own counter, in priority order; the first that denies answers — 429 by default, with
// Retry-After and the IETF RateLimit-Policy / RateLimit fields — and the request goes no further.
// Counting past a denial stops: a refused request does not use up the budgets of later rules.
// Memory decisions are synchronous; a Redis store makes the stage wait for one round trip per rule.
import { TAKEN, type Stage, type StageResult } from "../stage.ts";
import { writeRuleAnswer } from "../policy/rule-answer.ts";
import { celRequest, ruleMatches, type PolicyErrors } from "../policy/rule-match.ts";
import type { RequestContext } from "../context.ts";
import type { CompiledRateLimitRule } from "../snapshot.ts";
import type { Decision, RateLimitStore } from "../policy/rate-limit/store.ts";

/**
 * draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "id";q=<quota>;w=<window s>` and
 * `RateLimit: "id";r=<remaining>;t=<seconds to reset>`. The rule id names the policy (ids are tokens,
 * names may hold anything).
 */
export function rateLimitFields(rule: CompiledRateLimitRule, d: Decision): [policy: string, limit: string] {
  const w = Math.max(1, Math.round(rule.limit.windowMs / 1000));
  return [`"${rule.id}";q=${d.limit};w=${w}`, `"${rule.id}";r=${d.remaining};t=${Math.ceil(d.resetMs / 1000)}`];
}

function deny(ctx: RequestContext, rule: CompiledRateLimitRule, d: Decision): StageResult {
  ctx.limited = true;
  // The denying rule's fields only: allowed-response fields from earlier rules do not ride on a 429.
  ctx.rateLimitHeaders = undefined;
  const r = rule.response;
  if (d.degraded && !d.allowed && rule.limit.failClosed) {
    writeRuleAnswer(ctx, "rate_limit_unavailable", 503, { kind: "error_page" }, ["retry-after", String(Math.max(1, Math.ceil(d.retryAfterMs / 1000)))], rule.name);
    return TAKEN;
  }
  const [policy, limit] = rateLimitFields(rule, d);
  // Warren's fields first and the rule's own after; validation refuses custom ones with these names.
  const headers = ["retry-after", String(Math.max(1, Math.ceil(d.retryAfterMs / 1000))), "ratelimit-policy", policy, "ratelimit", limit, ...r.headers];
  writeRuleAnswer(ctx, "rate_limited", r.status, r.body, headers, rule.name);
  return TAKEN;
}

function allowed(ctx: RequestContext, rule: CompiledRateLimitRule, d: Decision): void {
  if (!rule.headersOnAllowed) return;
  const [policy, limit] = rateLimitFields(rule, d);
  const h = ctx.rateLimitHeaders;
  // One field line each, an item per rule (RFC 9651 lists), in the order the rules counted.
  if (h === undefined) ctx.rateLimitHeaders = ["ratelimit-policy", policy, "ratelimit", limit];
  else {
    h[1] += `, ${policy}`;
    h[3] += `, ${limit}`;
  }
}

export function rateLimit(store: RateLimitStore, errors: PolicyErrors): Stage {
  /** Rules from index i on; synchronous while the store answers synchronously. */
  const from = (ctx: RequestContext, rules: readonly CompiledRateLimitRule[], i: number): StageResult | Promise<StageResult> => {
    for (; i < rules.length; i++) {
      const rule = rules[i]!;
      // Fail open: an expression that cannot be evaluated limits nobody (DESIGN.md §5).
      if (!ruleMatches(ctx, rule, errors)) continue;
      (ctx.rateLimitRules ??= []).push(rule);
      const d = store.consume(rule.namespace, rule.key(celRequest(ctx)), rule.limit);
      if (d instanceof Promise) {
        const next = i + 1;
        return d.then((v) => {
          if (!v.allowed) return deny(ctx, rule, v);
          allowed(ctx, rule, v);
          return from(ctx, rules, next);
        });
      }
      if (!d.allowed) return deny(ctx, rule, d);
      allowed(ctx, rule, d);
    }
    return undefined;
  };

  return {
    name: "rate_limit",
    run(ctx: RequestContext): StageResult | Promise<StageResult> {
      const rules = ctx.snapshot.rateLimits;
      if (rules.length === 0) return undefined;
      return from(ctx, rules, 0);
    },
  };
}
