// Save-time checks of rate-limit rules and shapers: each bad input is invalid_argument naming its
// field, and a valid spec comes back with its defaults filled in.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { RateLimitAlgorithm, RateLimitRuleSpecSchema, ShaperBudget, ShaperRuleSpecSchema, StoreFailMode, TemplateKind, type RateLimitRuleSpec, type ShaperRuleSpec } from "../../../proto/gen/warren/v1/policy_pb.ts";
import { validateRateLimitRule } from "../../../management/config/validate-rate-limit.ts";
import { validateShaperRule } from "../../../management/config/validate-shaper.ts";
import { ApiError } from "../../../management/errors.ts";

const templates = new Map<string, TemplateKind>([
  ["tpl_body", TemplateKind.GENERIC_BODY],
  ["tpl_page", TemplateKind.CHALLENGE_PAGE],
]);
const kindOf = (id: string) => templates.get(id);

type RlInit = Parameters<typeof create<typeof RateLimitRuleSpecSchema>>[1];
const rl = (over: RlInit = {}): RateLimitRuleSpec => create(RateLimitRuleSpecSchema, { name: "api", limit: 100, ...over });

function refused(f: () => unknown, field: string, message?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, "invalid_argument");
    assert.ok(e.message.startsWith(`${field}: `), `${e.message} names ${field}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe("rate-limit rule validation", () => {
  it("fills the defaults: fixed window, 60 s, client IP, 429, fail open, enabled", () => {
    const s = validateRateLimitRule(rl(), kindOf);
    assert.equal(s.algorithm, RateLimitAlgorithm.FIXED_WINDOW);
    assert.equal(s.windowMs, 60_000);
    assert.deepEqual(s.keyParts, ["client_ip"]);
    assert.equal(s.response?.status, 429);
    assert.equal(s.failMode, StoreFailMode.OPEN);
    assert.equal(s.enabled, true);
  });

  it("refuses limit 0, a window out of range, a burst over 10 × limit, more than 8 key parts, an unknown key part", () => {
    refused(() => validateRateLimitRule(rl({ limit: 0 }), kindOf), "spec.limit");
    refused(() => validateRateLimitRule(rl({ windowMs: 999 }), kindOf), "spec.window_ms", /1000–86400000/);
    refused(() => validateRateLimitRule(rl({ windowMs: 86_400_001 }), kindOf), "spec.window_ms");
    refused(() => validateRateLimitRule(rl({ algorithm: RateLimitAlgorithm.TOKEN_BUCKET, limit: 10, burst: 101 }), kindOf), "spec.burst", /10 × limit \(100\)/);
    const nine = ["client_ip", "host", "method", "path", "header:a", "header:b", "cookie:c", "query:d", "query:e"];
    refused(() => validateRateLimitRule(rl({ keyParts: nine }), kindOf), "spec.key_parts[8]", /at most 8/);
    refused(() => validateRateLimitRule(rl({ keyParts: ["client_ip", "user_agent"] }), kindOf), "spec.key_parts[1]", /unknown key part/);
  });

  it("accepts the edges: burst exactly 10 × limit, windows of one second and one day", () => {
    assert.equal(validateRateLimitRule(rl({ algorithm: RateLimitAlgorithm.TOKEN_BUCKET, limit: 10, burst: 100 }), kindOf).burst, 100);
    assert.equal(validateRateLimitRule(rl({ windowMs: 1000 }), kindOf).windowMs, 1000);
    assert.equal(validateRateLimitRule(rl({ windowMs: 86_400_000 }), kindOf).windowMs, 86_400_000);
  });

  it("refuses a burst on the window algorithms, an unknown algorithm or fail mode", () => {
    refused(() => validateRateLimitRule(rl({ algorithm: RateLimitAlgorithm.SLIDING_WINDOW, burst: 5 }), kindOf), "spec.burst", /only the token bucket/);
    refused(() => validateRateLimitRule(rl({ algorithm: 9 as RateLimitAlgorithm }), kindOf), "spec.algorithm");
    refused(() => validateRateLimitRule(rl({ failMode: 7 as StoreFailMode }), kindOf), "spec.fail_mode");
  });

  it("checks the answer: status, template kind, body or template, and headers Warren owns", () => {
    refused(() => validateRateLimitRule(rl({ response: { status: 302 } }), kindOf), "spec.response.status");
    refused(() => validateRateLimitRule(rl({ response: { templateId: "tpl_page" } }), kindOf), "spec.response.template_id", /GENERIC_BODY/);
    refused(() => validateRateLimitRule(rl({ response: { templateId: "tpl_gone" } }), kindOf), "spec.response.template_id");
    refused(() => validateRateLimitRule(rl({ response: { templateId: "tpl_body", body: "x" } }), kindOf), "spec.response.body");
    refused(() => validateRateLimitRule(rl({ response: { headers: [{ name: "X-Why", value: "quota" }, { name: "Retry-After", value: "1" }] } }), kindOf), "spec.response.headers[1].name", /set by Warren/);
    refused(() => validateRateLimitRule(rl({ response: { headers: [{ name: "RateLimit", value: "x" }] } }), kindOf), "spec.response.headers[0].name");
    refused(() => validateRateLimitRule(rl({ response: { headers: [{ name: "bad name", value: "x" }] } }), kindOf), "spec.response.headers[0].name");
    const ok = validateRateLimitRule(rl({ response: { status: 503, body: "slow down", headers: [{ name: "X-Why", value: "quota" }] } }), kindOf);
    assert.equal(ok.response?.status, 503);
  });

  it("checks the shared parts: name, priority, scope, when", () => {
    refused(() => validateRateLimitRule(rl({ name: " " }), kindOf), "spec.name");
    refused(() => validateRateLimitRule(rl({ priority: 2_000_000 }), kindOf), "spec.priority");
    refused(() => validateRateLimitRule(rl({ scope: { pathPrefixes: ["api"] } }), kindOf), "spec.scope.path_prefixes[0]");
    refused(() => validateRateLimitRule(rl({ when: "method ==" }), kindOf), "spec.when");
  });
});

type ShInit = Parameters<typeof create<typeof ShaperRuleSpecSchema>>[1];
const sh = (over: ShInit = {}): ShaperRuleSpec => create(ShaperRuleSpecSchema, { name: "slow", downloadBytesPerSecond: 1 << 20, ...over });

describe("shaper validation", () => {
  it("fills the defaults: per key on the client IP, enabled", () => {
    const s = validateShaperRule(sh());
    assert.equal(s.budget, ShaperBudget.PER_KEY);
    assert.deepEqual(s.keyParts, ["client_ip"]);
    assert.equal(s.enabled, true);
  });

  it("refuses no rate at all, sizes over 1 GiB, key parts on a per-request budget, bad key parts", () => {
    refused(() => validateShaperRule(sh({ downloadBytesPerSecond: 0 })), "spec.download_bytes_per_second", /upload or a download rate/);
    refused(() => validateShaperRule(sh({ burstBytes: 2 ** 30 + 1 })), "spec.burst_bytes");
    refused(() => validateShaperRule(sh({ requestExemptBytes: 2 ** 31 })), "spec.request_exempt_bytes");
    refused(() => validateShaperRule(sh({ responseExemptBytes: 2 ** 31 })), "spec.response_exempt_bytes");
    refused(() => validateShaperRule(sh({ budget: ShaperBudget.PER_REQUEST, keyParts: ["host"] })), "spec.key_parts", /per-request/);
    refused(() => validateShaperRule(sh({ keyParts: ["header:"] })), "spec.key_parts[0]");
    refused(() => validateShaperRule(sh({ budget: 5 as ShaperBudget })), "spec.budget");
  });

  it("keeps a per-request budget without key parts", () => {
    const s = validateShaperRule(sh({ budget: ShaperBudget.PER_REQUEST, uploadBytesPerSecond: 1000 }));
    assert.deepEqual(s.keyParts, []);
  });
});
