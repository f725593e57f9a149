// Save-time validation of traffic shapers: every problem is invalid_argument naming the field.
import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { ShaperBudget, ShaperRuleSpecSchema, type ShaperRuleSpec } from "../../proto/gen/warren/v1/policy_pb.ts";
import { ApiError, fieldError } from "../errors.ts";
import { checkKeyParts, checkRuleCommon } from "./validate-policy.ts";

const MAX_BYTES = 2 ** 30;

/** Validates (and normalizes) a shaper spec. */
export function validateShaperRule(spec: ShaperRuleSpec | undefined): ShaperRuleSpec {
  if (!spec) throw fieldError("spec", "is required");
  const scope = checkRuleCommon(spec);
  if (spec.budget !== ShaperBudget.PER_KEY && spec.budget !== ShaperBudget.PER_REQUEST) throw fieldError("spec.budget", "must be SHAPER_BUDGET_PER_KEY or SHAPER_BUDGET_PER_REQUEST");
  if (spec.budget === ShaperBudget.PER_REQUEST && spec.keyParts.length > 0) throw fieldError("spec.key_parts", "a per-request budget has no key");
  spec.keyParts = spec.budget === ShaperBudget.PER_KEY ? checkKeyParts(spec.keyParts) : [];
  if (spec.uploadBytesPerSecond === 0 && spec.downloadBytesPerSecond === 0) throw fieldError("spec.download_bytes_per_second", "give an upload or a download rate (bytes per second)");
  for (const [v, field] of [
    [spec.burstBytes, "spec.burst_bytes"],
    [spec.requestExemptBytes, "spec.request_exempt_bytes"],
    [spec.responseExemptBytes, "spec.response_exempt_bytes"],
  ] as const) {
    if (v > MAX_BYTES) throw fieldError(field, `must be at most ${MAX_BYTES} bytes (1 GiB)`);
  }
  spec.scope = create(ShaperRuleSpecSchema, { scope }).scope;
  return spec;
}

export function shaperRuleSpecToJson(spec: ShaperRuleSpec): string {
  return JSON.stringify(toJson(ShaperRuleSpecSchema, spec));
}

export function shaperRuleSpecFromJson(json: string): ShaperRuleSpec {
  try {
    return fromJson(ShaperRuleSpecSchema, JSON.parse(json) as JsonValue);
  } catch (e) {
    throw new ApiError("internal_error", "a stored shaper is unreadable", { cause: e });
  }
}
