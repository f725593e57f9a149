// Save-time validation of rate-limit rules: every problem is invalid_argument naming the field, so
// an invalid limit never reaches the data plane.
import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { RateLimitAlgorithm, RateLimitRuleSpecSchema, StoreFailMode, type RateLimitRuleSpec, type TemplateKind } from "../../proto/gen/warren/v1/policy_pb.ts";
import { ApiError, fieldError } from "../errors.ts";
import { checkHeaders } from "./validate-route.ts";
import { checkAnswerBody, checkKeyParts, checkRuleCommon } from "./validate-policy.ts";

export const DEFAULT_WINDOW_MS = 60_000;
export const DEFAULT_LIMITED_STATUS = 429;
const MAX_LIMIT = 1_000_000_000;
const MAX_HEADERS = 32;
/** Warren writes these on a limited answer (RFC 9110 framing, Retry-After, the IETF RateLimit fields). */
const RESERVED_HEADERS = new Set(["retry-after", "ratelimit", "ratelimit-policy", "content-length", "transfer-encoding", "connection", "x-request-id"]);

export const ALGORITHM_NAMES = {
  [RateLimitAlgorithm.FIXED_WINDOW]: "fixed_window",
  [RateLimitAlgorithm.SLIDING_WINDOW]: "sliding_window",
  [RateLimitAlgorithm.TOKEN_BUCKET]: "token_bucket",
} as const;

/** Validates (and normalizes: defaults filled in) a rate-limit rule spec. */
export function validateRateLimitRule(spec: RateLimitRuleSpec | undefined, templateKind: (id: string) => TemplateKind | undefined): RateLimitRuleSpec {
  if (!spec) throw fieldError("spec", "is required");
  const scope = checkRuleCommon(spec);
  spec.keyParts = checkKeyParts(spec.keyParts);
  if (spec.algorithm === RateLimitAlgorithm.UNSPECIFIED) spec.algorithm = RateLimitAlgorithm.FIXED_WINDOW;
  if (!(spec.algorithm in ALGORITHM_NAMES)) throw fieldError("spec.algorithm", "must be RATE_LIMIT_ALGORITHM_FIXED_WINDOW, RATE_LIMIT_ALGORITHM_SLIDING_WINDOW or RATE_LIMIT_ALGORITHM_TOKEN_BUCKET");
  if (spec.limit < 1 || spec.limit > MAX_LIMIT) throw fieldError("spec.limit", `must be 1–${MAX_LIMIT} requests per window`);
  if (spec.windowMs === 0) spec.windowMs = DEFAULT_WINDOW_MS;
  if (spec.windowMs < 1000 || spec.windowMs > 86_400_000) throw fieldError("spec.window_ms", "must be 1000–86400000 (one second to one day)");
  if (spec.algorithm !== RateLimitAlgorithm.TOKEN_BUCKET && spec.burst !== 0) throw fieldError("spec.burst", "only the token bucket has a burst");
  if (spec.burst > spec.limit * 10) throw fieldError("spec.burst", `must be at most 10 × limit (${spec.limit * 10})`);
  if (spec.failMode !== StoreFailMode.OPEN && spec.failMode !== StoreFailMode.CLOSED) throw fieldError("spec.fail_mode", "must be STORE_FAIL_MODE_OPEN or STORE_FAIL_MODE_CLOSED");
  const r = spec.response ?? { status: 0, templateId: "", body: "", contentType: "", headers: [] };
  if (r.status === 0) r.status = DEFAULT_LIMITED_STATUS;
  if (r.status < 400 || r.status > 599) throw fieldError("spec.response.status", "must be 400–599");
  checkAnswerBody(r, "spec.response", templateKind);
  if (r.headers.length > MAX_HEADERS) throw fieldError("spec.response.headers", `at most ${MAX_HEADERS} headers`);
  checkHeaders(r.headers, "spec.response.headers");
  r.headers.forEach((h, i) => {
    if (RESERVED_HEADERS.has(h.name.toLowerCase())) throw fieldError(`spec.response.headers[${i}].name`, `${h.name} is set by Warren on a limited answer`);
  });
  spec.scope = create(RateLimitRuleSpecSchema, { scope }).scope;
  spec.response = create(RateLimitRuleSpecSchema, { response: r }).response;
  return spec;
}

export function rateLimitRuleSpecToJson(spec: RateLimitRuleSpec): string {
  return JSON.stringify(toJson(RateLimitRuleSpecSchema, spec));
}

export function rateLimitRuleSpecFromJson(json: string): RateLimitRuleSpec {
  try {
    return fromJson(RateLimitRuleSpecSchema, JSON.parse(json) as JsonValue);
  } catch (e) {
    throw new ApiError("internal_error", "a stored rate-limit rule is unreadable", { cause: e });
  }
}
