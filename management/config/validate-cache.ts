// Save-time validation of cache rules and the cache's global settings: every problem is
// invalid_argument naming the field, so an invalid rule never reaches the data plane.
import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { CacheQueryMode, CacheRuleSpecSchema, CacheSettingsSchema, CacheTtlMode, type CacheRuleSpec, type CacheSettings } from "../../proto/gen/warren/v1/policy_pb.ts";
import { ApiError, fieldError } from "../errors.ts";
import { DEFAULT_CACHE_SETTINGS, validateHeaderName } from "../../proxy/index.ts";
import { checkRuleCommon } from "./validate-policy.ts";

/** The cache's settings: one proto JSON value in the meta table. */
export const CACHE_SETTINGS_KEY = "cache_settings";

export const CACHE_DEFAULTS = {
  ttlMs: 3_600_000,
  maxObjectBytes: 100 * 1024 * 1024,
  varyHeaders: ["accept-encoding"],
  statuses: [200, 203, 204, 300, 301, 308, 404, 410],
  // Budgets: the data plane's own defaults, so an unset setting means what the cache does without one.
  memoryBytes: DEFAULT_CACHE_SETTINGS.memoryBytes,
  diskBytes: DEFAULT_CACHE_SETTINGS.diskBytes,
  maxEntries: DEFAULT_CACHE_SETTINGS.maxEntries,
  hotObjectBytes: DEFAULT_CACHE_SETTINGS.hotObjectBytes,
} as const;

const MAX_LIST = 64;
const ID_RE = /^[a-z]+_[a-z2-7]{16}$/;
/** Request headers a response must never be keyed (and so shared) on: credentials and forwarding. */
const SENSITIVE_VARY = new Set(["authorization", "cookie", "set-cookie", "proxy-authorization", "forwarded", "x-forwarded-for", "x-real-ip"]);

function checkIds(list: string[], field: string, prefix: string): string[] {
  if (list.length > MAX_LIST) throw fieldError(field, `at most ${MAX_LIST} entries`);
  return list.map((raw, i) => {
    const id = raw.trim();
    if (!ID_RE.test(id) || !id.startsWith(`${prefix}_`)) throw fieldError(`${field}[${i}]`, `must be a ${prefix}_… id`);
    return id;
  });
}

/** Validates (and normalizes: defaults filled in) a cache rule spec. */
export function validateCacheRule(spec: CacheRuleSpec | undefined): CacheRuleSpec {
  if (!spec) throw fieldError("spec", "is required");
  const scope = checkRuleCommon(spec);
  spec.routeIds = checkIds(spec.routeIds, "spec.route_ids", "rte");
  spec.targetIds = checkIds(spec.targetIds, "spec.target_ids", "tgt");
  if (spec.ttlMode !== CacheTtlMode.ORIGIN && spec.ttlMode !== CacheTtlMode.FIXED) throw fieldError("spec.ttl_mode", "must be CACHE_TTL_MODE_ORIGIN or CACHE_TTL_MODE_FIXED");
  if (spec.ttlMs === 0n) spec.ttlMs = BigInt(CACHE_DEFAULTS.ttlMs);
  if (spec.ttlMs < 1000n || spec.ttlMs > 31_536_000_000n) throw fieldError("spec.ttl_ms", "must be 1000–31536000000 (one second to 365 days)");
  const modes = [CacheQueryMode.FULL, CacheQueryMode.IGNORE, CacheQueryMode.ALLOWLIST, CacheQueryMode.DENYLIST];
  if (!modes.includes(spec.queryMode)) throw fieldError("spec.query_mode", "must be CACHE_QUERY_MODE_FULL, _IGNORE, _ALLOWLIST or _DENYLIST");
  spec.queryNames = spec.queryNames.map((q) => q.trim());
  const listed = spec.queryMode === CacheQueryMode.ALLOWLIST || spec.queryMode === CacheQueryMode.DENYLIST;
  if (listed && spec.queryNames.length === 0) throw fieldError("spec.query_names", "name at least one query parameter for an allowlist or denylist");
  if (!listed && spec.queryNames.length > 0) throw fieldError("spec.query_names", "only an allowlist or denylist names query parameters");
  if (spec.queryNames.length > MAX_LIST) throw fieldError("spec.query_names", `at most ${MAX_LIST} entries`);
  spec.queryNames.forEach((q, i) => {
    if (q === "" || q.length > 256) throw fieldError(`spec.query_names[${i}]`, "must be 1–256 characters");
  });
  if (spec.varyHeaders.length > MAX_LIST) throw fieldError("spec.vary_headers", `at most ${MAX_LIST} entries`);
  spec.varyHeaders = spec.varyHeaders.map((h, i) => {
    const name = h.trim().toLowerCase();
    const bad = validateHeaderName(name);
    if (bad) throw fieldError(`spec.vary_headers[${i}]`, bad);
    if (SENSITIVE_VARY.has(name)) throw fieldError(`spec.vary_headers[${i}]`, `${name} cannot be part of a shared cache key`);
    return name;
  });
  if (spec.varyHeaders.length === 0) spec.varyHeaders = [...CACHE_DEFAULTS.varyHeaders];
  if (spec.statuses.length > MAX_LIST) throw fieldError("spec.statuses", `at most ${MAX_LIST} entries`);
  spec.statuses.forEach((st, i) => {
    if (st < 200 || st > 599 || st === 206 || st === 304) throw fieldError(`spec.statuses[${i}]`, "must be a final status 200–599 other than 206 and 304");
  });
  if (spec.statuses.length === 0) spec.statuses = [...CACHE_DEFAULTS.statuses];
  if (spec.maxObjectBytes === 0n) spec.maxObjectBytes = BigInt(CACHE_DEFAULTS.maxObjectBytes);
  if (spec.maxObjectBytes > 1_073_741_824n) throw fieldError("spec.max_object_bytes", "must be at most 1073741824 (1 GiB)");
  spec.scope = create(CacheRuleSpecSchema, { scope }).scope;
  return spec;
}

/** Validates a settings update; unset fields take their defaults. */
export function validateCacheSettings(s: CacheSettings | undefined): CacheSettings {
  if (!s) throw fieldError("settings", "is required");
  s.enabled ??= true;
  if (s.memoryBytes === 0n) s.memoryBytes = BigInt(CACHE_DEFAULTS.memoryBytes);
  if (s.memoryBytes < 1_048_576n || s.memoryBytes > 68_719_476_736n) throw fieldError("settings.memory_bytes", "must be 1048576–68719476736 (1 MiB to 64 GiB)");
  s.diskBytes ??= BigInt(CACHE_DEFAULTS.diskBytes);
  if (s.diskBytes > 1_099_511_627_776n) throw fieldError("settings.disk_bytes", "must be at most 1099511627776 (1 TiB); 0 turns the disk tier off");
  if (s.maxEntries === 0) s.maxEntries = CACHE_DEFAULTS.maxEntries;
  if (s.maxEntries > 10_000_000) throw fieldError("settings.max_entries", "must be 1–10000000");
  if (s.hotObjectBytes === 0n) s.hotObjectBytes = BigInt(CACHE_DEFAULTS.hotObjectBytes);
  if (s.hotObjectBytes > s.memoryBytes) throw fieldError("settings.hot_object_bytes", "must be at most memory_bytes");
  return s;
}

export function cacheRuleSpecToJson(spec: CacheRuleSpec): string {
  return JSON.stringify(toJson(CacheRuleSpecSchema, spec));
}

export function cacheRuleSpecFromJson(json: string): CacheRuleSpec {
  try {
    return fromJson(CacheRuleSpecSchema, JSON.parse(json) as JsonValue);
  } catch (e) {
    throw new ApiError("internal_error", "a stored cache rule is unreadable", { cause: e });
  }
}

export function cacheSettingsToJson(s: CacheSettings): string {
  return JSON.stringify(toJson(CacheSettingsSchema, s));
}

/** The stored settings, or the defaults when none are stored. */
export function cacheSettingsFromJson(json: string | undefined): CacheSettings {
  if (json === undefined) return validateCacheSettings(create(CacheSettingsSchema, {}));
  try {
    return fromJson(CacheSettingsSchema, JSON.parse(json) as JsonValue);
  } catch (e) {
    throw new ApiError("internal_error", "the stored cache settings are unreadable", { cause: e });
  }
}
