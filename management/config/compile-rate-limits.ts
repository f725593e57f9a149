// Rate-limit rules and shapers, from their stored specs to the data plane's compiled form (part of
// the one snapshot compile, so a write that would make an invalid rule live fails as a whole).
import { RateLimitAlgorithm, ShaperBudget, StoreFailMode, type RateLimitRuleSpec, type ShaperRuleSpec } from "../../proto/gen/warren/v1/policy_pb.ts";
import { compileKey, compileWhen, ScopeMatcher, type CompiledRateLimitRule, type CompiledShaperRule, type CompiledTemplate } from "../../proxy/index.ts";
import type { RuleRow } from "../store/policy-repo.ts";
import { answerBody, ruleFingerprint } from "./compile-policies.ts";
import { ALGORITHM_NAMES, DEFAULT_LIMITED_STATUS, DEFAULT_WINDOW_MS } from "./validate-rate-limit.ts";

type Stored<S> = readonly { readonly row: RuleRow; readonly spec: S }[];

function scopeOf(s: { hosts: string[]; pathPrefixes: string[]; methods: string[] } | undefined): ScopeMatcher {
  return new ScopeMatcher({ hosts: s?.hosts ?? [], pathPrefixes: s?.pathPrefixes ?? [], methods: s?.methods ?? [] });
}

/** The enabled rate-limit rules in evaluation order (rows come sorted by priority, then id). */
export function compileRateLimits(rules: Stored<RateLimitRuleSpec>, templates: ReadonlyMap<string, CompiledTemplate>): readonly CompiledRateLimitRule[] {
  const out: CompiledRateLimitRule[] = [];
  for (const { row, spec } of rules) {
    if (spec.enabled === false) continue;
    const fingerprint = ruleFingerprint(row.spec);
    const r = spec.response;
    const algorithm = ALGORITHM_NAMES[(spec.algorithm || RateLimitAlgorithm.FIXED_WINDOW) as keyof typeof ALGORITHM_NAMES];
    out.push(
      Object.freeze<CompiledRateLimitRule>({
        id: row.id,
        name: spec.name,
        fingerprint,
        // Not the id: ids are made by each gateway, while gateways that share one Redis and were
        // given the same config must share counters. The stored spec holds the name, and names are
        // unique per kind, so two rules of one gateway never meet in one namespace.
        namespace: `rl:${fingerprint}`,
        scope: scopeOf(spec.scope),
        when: spec.when === "" ? undefined : compileWhen(spec.when),
        key: compileKey(spec.keyParts.length === 0 ? ["client_ip"] : spec.keyParts),
        limit: Object.freeze({
          algorithm,
          limit: spec.limit,
          windowMs: spec.windowMs || DEFAULT_WINDOW_MS,
          burst: spec.burst,
          failClosed: spec.failMode === StoreFailMode.CLOSED,
        }),
        headersOnAllowed: spec.headersOnAllowed,
        response: Object.freeze({
          status: r?.status || DEFAULT_LIMITED_STATUS,
          headers: (r?.headers ?? []).flatMap((h) => [h.name, h.value]),
          body: r ? answerBody(r, "spec.response", templates) : { kind: "error_page" as const },
        }),
      }),
    );
  }
  return Object.freeze(out);
}

/** The enabled shapers in evaluation order. */
export function compileShapers(rules: Stored<ShaperRuleSpec>): readonly CompiledShaperRule[] {
  const out: CompiledShaperRule[] = [];
  for (const { row, spec } of rules) {
    if (spec.enabled === false) continue;
    const perRequest = spec.budget === ShaperBudget.PER_REQUEST;
    out.push(
      Object.freeze<CompiledShaperRule>({
        id: row.id,
        name: spec.name,
        fingerprint: ruleFingerprint(row.spec),
        scope: scopeOf(spec.scope),
        when: spec.when === "" ? undefined : compileWhen(spec.when),
        key: compileKey(perRequest || spec.keyParts.length === 0 ? ["client_ip"] : spec.keyParts),
        spec: Object.freeze({
          budget: perRequest ? "per_request" : "per_key",
          uploadBytesPerSecond: spec.uploadBytesPerSecond,
          downloadBytesPerSecond: spec.downloadBytesPerSecond,
          burstBytes: spec.burstBytes,
          requestExemptBytes: spec.requestExemptBytes,
          responseExemptBytes: spec.responseExemptBytes,
        }),
      }),
    );
  }
  return Object.freeze(out);
}
