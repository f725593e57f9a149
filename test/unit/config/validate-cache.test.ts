// Save-time checks of cache rules and settings: each bad input is invalid_argument naming its field,
// and a valid spec comes back with its defaults filled in.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { CacheQueryMode, CacheRuleSpecSchema, CacheSettingsSchema, CacheTtlMode, type CacheRuleSpec } from "../../../proto/gen/warren/v1/policy_pb.ts";
import { validateCacheRule, validateCacheSettings } from "../../../management/config/validate-cache.ts";
import { ApiError } from "../../../management/errors.ts";

type Init = Parameters<typeof create<typeof CacheRuleSpecSchema>>[1];
const rule = (over: Init = {}): CacheRuleSpec => create(CacheRuleSpecSchema, { name: "static", ...over });

function refused(f: () => unknown, field: string, message?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, "invalid_argument");
    assert.ok(e.message.startsWith(`${field}: `), `${e.message} names ${field}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe("cache rule validation", () => {
  it("fills the defaults: origin TTL with one hour, the full query, accept-encoding, the usual statuses, 100 MiB", () => {
    const s = validateCacheRule(rule());
    assert.equal(s.ttlMode, CacheTtlMode.ORIGIN);
    assert.equal(s.ttlMs, 3_600_000n);
    assert.equal(s.queryMode, CacheQueryMode.FULL);
    assert.deepEqual(s.varyHeaders, ["accept-encoding"]);
    assert.deepEqual(s.statuses, [200, 203, 204, 300, 301, 308, 404, 410]);
    assert.equal(s.maxObjectBytes, 104_857_600n);
    assert.equal(s.enabled, true);
  });

  it("refuses a TTL out of range, query lists that do not fit the mode, sensitive vary headers, partial statuses, huge objects", () => {
    refused(() => validateCacheRule(rule({ ttlMs: 999n })), "spec.ttl_ms");
    refused(() => validateCacheRule(rule({ ttlMs: 31_536_000_001n })), "spec.ttl_ms");
    refused(() => validateCacheRule(rule({ queryMode: CacheQueryMode.ALLOWLIST })), "spec.query_names", /at least one/);
    refused(() => validateCacheRule(rule({ queryNames: ["page"] })), "spec.query_names", /only an allowlist or denylist/);
    refused(() => validateCacheRule(rule({ varyHeaders: ["Accept", "Cookie"] })), "spec.vary_headers[1]", /shared cache key/);
    refused(() => validateCacheRule(rule({ varyHeaders: ["bad header"] })), "spec.vary_headers[0]");
    refused(() => validateCacheRule(rule({ statuses: [200, 206] })), "spec.statuses[1]");
    refused(() => validateCacheRule(rule({ statuses: [304] })), "spec.statuses[0]");
    refused(() => validateCacheRule(rule({ maxObjectBytes: 2n ** 31n })), "spec.max_object_bytes");
    refused(() => validateCacheRule(rule({ routeIds: ["route-1"] })), "spec.route_ids[0]");
    refused(() => validateCacheRule(rule({ targetIds: ["rte_aaaaaaaaaaaaaaaa"] })), "spec.target_ids[0]");
    refused(() => validateCacheRule(rule({ ttlMode: 4 as CacheTtlMode })), "spec.ttl_mode");
  });

  it("keeps an allowlist, lower-cases vary headers, accepts route and target ids", () => {
    const s = validateCacheRule(rule({ queryMode: CacheQueryMode.ALLOWLIST, queryNames: [" page "], varyHeaders: ["Accept-Language"], routeIds: ["rte_abcdefghijklmnop"], targetIds: ["tgt_abcdefghijklmnop"] }));
    assert.deepEqual(s.queryNames, ["page"]);
    assert.deepEqual(s.varyHeaders, ["accept-language"]);
  });
});

describe("cache settings validation", () => {
  it("fills the defaults: on, 128 MiB memory, 1 GiB disk, 100000 entries, 256 KiB hot objects", () => {
    const s = validateCacheSettings(create(CacheSettingsSchema, {}));
    assert.deepEqual([s.enabled, s.memoryBytes, s.diskBytes, s.maxEntries, s.hotObjectBytes], [true, 134_217_728n, 1_073_741_824n, 100_000, 262_144n]);
    assert.equal(validateCacheSettings(create(CacheSettingsSchema, { diskBytes: 0n })).diskBytes, 0n, "0 turns the disk tier off");
  });

  it("refuses budgets out of range and a hot-object size over the memory budget", () => {
    refused(() => validateCacheSettings(create(CacheSettingsSchema, { memoryBytes: 1000n })), "settings.memory_bytes");
    refused(() => validateCacheSettings(create(CacheSettingsSchema, { diskBytes: 2n ** 41n })), "settings.disk_bytes");
    refused(() => validateCacheSettings(create(CacheSettingsSchema, { maxEntries: 10_000_001 })), "settings.max_entries");
    refused(() => validateCacheSettings(create(CacheSettingsSchema, { memoryBytes: 2_097_152n, hotObjectBytes: 4_194_304n })), "settings.hot_object_bytes");
  });
});
