// The cache page's form model (management/ui/src/lib/cache-form.ts): sizes and the TTL convert
// exactly to the API's bigints, spec → form → spec keeps everything, query names go only with an
// allowlist or denylist, the settings' disk budget tells "off" (0) from "default" (empty), the purge
// form builds one oneof case, and the usage panel's and the list's texts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create, equals } from "@bufbuild/protobuf";
import { CacheQueryMode, CacheRuleSchema, CacheRuleSpecSchema, CacheSettingsSchema, CacheTtlMode, GetCacheUsageResponseSchema } from "../../../proto/gen/warren/v1/policy_pb.ts";
import { RouteSchema } from "../../../proto/gen/warren/v1/proxy_pb.ts";
import {
  bytesFromForm,
  bytesText,
  bytesToForm,
  cacheStatusTone,
  cacheRuleSpecWith,
  cacheRuleToForm,
  FormError,
  formToCacheRuleSpec,
  formToSettings,
  hitRatioText,
  newPurgeForm,
  pruneTargets,
  purgeRequest,
  purgeResultText,
  querySummary,
  routeChoices,
  settingsToForm,
  targetChoices,
  tierView,
  ttlSummary,
  ttlText,
  ttlToForm,
  ttlToMs,
  usageView,
} from "../../../management/ui/src/lib/cache-form.ts";

const refused = (field: string, message?: RegExp) => (e: unknown) => e instanceof FormError && e.problem.field === field && (!message || message.test(e.problem.message));

/** A rule as the server stores it (defaults filled in). */
const stored = () =>
  create(CacheRuleSpecSchema, {
    name: "static assets",
    priority: -3,
    enabled: false,
    scope: { hosts: ["cdn.test", "*.example.org"], pathPrefixes: ["/assets"], methods: ["GET", "HEAD"] },
    when: 'headers["x-tier"].exists(v, v == "free")',
    routeIds: ["rte_aaaaaaaaaaaaaaaa"],
    targetIds: ["tgt_bbbbbbbbbbbbbbbb"],
    ttlMode: CacheTtlMode.FIXED,
    ttlMs: 5_400_000n,
    heuristicFreshness: true,
    queryMode: CacheQueryMode.ALLOWLIST,
    queryNames: ["v", "lang"],
    varyHeaders: ["accept-encoding", "accept-language"],
    statuses: [200, 404],
    maxObjectBytes: 1_572_864n,
    cacheStatusHeader: true,
    ignoreRequestCookies: true,
  });

describe("exact sizes and TTLs", () => {
  it("shows bytes as the largest binary unit they are exact in (three decimals at most)", () => {
    assert.deepEqual(bytesToForm(134_217_728n), { value: "128", unit: "MiB" });
    assert.deepEqual(bytesToForm(1_610_612_736n), { value: "1.5", unit: "GiB" });
    assert.deepEqual(bytesToForm(262_144n), { value: "256", unit: "KiB" }, "not 0.25 MiB");
    assert.deepEqual(bytesToForm(1500n), { value: "1500", unit: "B" });
    assert.deepEqual(bytesToForm(1_099_511_627_776n), { value: "1024", unit: "GiB" });
    assert.deepEqual(bytesToForm(0n), { value: "", unit: "MiB" });
    assert.deepEqual(bytesToForm(0n, { zero: "0", emptyUnit: "GiB" }), { value: "0", unit: "GiB" });
  });
  it("converts sizes to bigint bytes exactly, beyond 2^53, and refuses what is not whole bytes", () => {
    assert.equal(bytesFromForm({ value: "1.5", unit: "MiB" }, "f"), 1_572_864n);
    assert.equal(bytesFromForm({ value: "64", unit: "GiB" }, "f"), 68_719_476_736n);
    assert.equal(bytesFromForm({ value: "9007199254740993", unit: "B" }, "f"), 9_007_199_254_740_993n, "no float rounding");
    assert.equal(bytesFromForm({ value: "0.5", unit: "KiB" }, "f"), 512n);
    assert.equal(bytesFromForm({ value: " ", unit: "GiB" }, "f"), 0n, "empty = the server's default");
    assert.throws(() => bytesFromForm({ value: "0.001", unit: "GiB" }, "settings.memory_bytes"), refused("settings.memory_bytes", /whole number of bytes/), "1073741.824 bytes");
    assert.throws(() => bytesFromForm({ value: "1.5", unit: "B" }, "f"), refused("f"));
    assert.throws(() => bytesFromForm({ value: "-1", unit: "KiB" }, "f"), refused("f", /a number/));
    assert.throws(() => bytesFromForm({ value: "1e3", unit: "KiB" }, "f"), refused("f"));
    assert.throws(() => bytesFromForm({ value: "17179869184", unit: "GiB" }, "f"), refused("f", /at most/), "2^64 bytes does not fit uint64");
    assert.equal(bytesFromForm({ value: "17179869183", unit: "GiB" }, "f"), 17_179_869_183n * 1_073_741_824n);
  });
  it("writes sizes for the usage panel exactly", () => {
    assert.equal(bytesText(0n), "0 B");
    assert.equal(bytesText(1_572_864n), "1.5 MiB");
    assert.equal(bytesText(1000n), "1000 B");
    assert.equal(bytesText(1_073_741_824n), "1 GiB");
  });
  it("shows a TTL in the largest unit it is exact in, and converts it to ms exactly", () => {
    assert.deepEqual(ttlToForm(3_600_000n), { value: "1", unit: "h" });
    assert.deepEqual(ttlToForm(5_400_000n), { value: "1.5", unit: "h" });
    assert.deepEqual(ttlToForm(86_401_000n), { value: "86401", unit: "s" });
    assert.deepEqual(ttlToForm(1500n), { value: "1.5", unit: "s" });
    assert.deepEqual(ttlToForm(31_536_000_000n), { value: "365", unit: "d" });
    assert.deepEqual(ttlToForm(0n), { value: "", unit: "h" });
    assert.equal(ttlToMs("30", "s"), 30_000n);
    assert.equal(ttlToMs("10", "min"), 600_000n);
    assert.equal(ttlToMs("1.5", "h"), 5_400_000n);
    assert.equal(ttlToMs("7", "d"), 604_800_000n);
    assert.equal(ttlToMs("", "d"), 0n);
    assert.throws(() => ttlToMs("0.0001", "s"), refused("ttl_ms", /whole number of ms/));
    assert.throws(() => ttlToMs("one", "h"), refused("ttl_ms"));
    assert.equal(ttlText(0n), "1 h", "0 = the server's one hour");
    assert.equal(ttlText(600_000n), "10 min");
  });
});

describe("cache rule spec and form", () => {
  it("keeps every field through spec → form → spec", () => {
    const f = cacheRuleToForm(stored());
    assert.deepEqual([f.ttlValue, f.ttlUnit, f.maxObject, f.queryNames, f.statuses, f.varyHeaders], ["1.5", "h", { value: "1.5", unit: "MiB" }, "v, lang", "200, 404", "accept-encoding, accept-language"]);
    const back = formToCacheRuleSpec(f);
    assert.ok(equals(CacheRuleSpecSchema, back, stored()), JSON.stringify(back, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)));
  });
  it("starts a new rule on the server's defaults: enabled, origin TTL, full query, empty lists", () => {
    const spec = formToCacheRuleSpec(cacheRuleToForm(undefined));
    assert.equal(spec.enabled, true);
    assert.equal(spec.ttlMode, CacheTtlMode.ORIGIN);
    assert.equal(spec.ttlMs, 0n);
    assert.equal(spec.queryMode, CacheQueryMode.FULL);
    assert.deepEqual([spec.statuses, spec.varyHeaders, spec.queryNames, spec.routeIds, spec.targetIds], [[], [], [], [], []]);
    assert.equal(spec.maxObjectBytes, 0n);
  });
  it("sends query names only for an allowlist or denylist", () => {
    const f = cacheRuleToForm(stored());
    f.queryMode = CacheQueryMode.IGNORE;
    assert.deepEqual(formToCacheRuleSpec(f).queryNames, [], "kept in the form, not sent");
    assert.equal(f.queryNames, "v, lang");
    f.queryMode = CacheQueryMode.DENYLIST;
    assert.deepEqual(formToCacheRuleSpec(f).queryNames, ["v", "lang"]);
  });
  it("refuses a status that is not a number under its index, and a bad priority or TTL under theirs", () => {
    const f = cacheRuleToForm(stored());
    f.statuses = "200, abc";
    assert.throws(() => formToCacheRuleSpec(f), refused("statuses[1]"));
    f.statuses = "200,301 404";
    assert.deepEqual(formToCacheRuleSpec(f).statuses, [200, 301, 404]);
    f.priority = "x";
    assert.throws(() => formToCacheRuleSpec(f), refused("priority"));
    f.priority = "";
    f.ttlValue = "1.0005";
    f.ttlUnit = "s";
    assert.throws(() => formToCacheRuleSpec(f), refused("ttl_ms"));
  });
  it("summarizes TTL and query for the list", () => {
    assert.equal(ttlSummary(stored()), "fixed 1.5 h");
    assert.equal(ttlSummary(create(CacheRuleSpecSchema, { ttlMs: 3_600_000n, heuristicFreshness: true })), "origin, else 1 h (heuristic)");
    assert.equal(ttlSummary(undefined), "origin, else 1 h");
    assert.equal(querySummary(stored()), "only v, lang");
    assert.equal(querySummary(create(CacheRuleSpecSchema, { queryMode: CacheQueryMode.DENYLIST, queryNames: ["utm_source"] })), "all but utm_source");
    assert.equal(querySummary(create(CacheRuleSpecSchema, { queryMode: CacheQueryMode.IGNORE })), "ignored");
    assert.equal(querySummary(create(CacheRuleSpecSchema)), "full");
  });
  it("changes only enabled or priority for the list's toggle and moves, without touching the rule", () => {
    const rule = create(CacheRuleSchema, { id: "cch_aaaaaaaaaaaaaaaa", spec: stored() });
    const on = cacheRuleSpecWith(rule, { enabled: true });
    assert.equal(on.enabled, true);
    assert.equal(rule.spec!.enabled, false, "a copy");
    const moved = cacheRuleSpecWith(rule, { priority: 7 });
    assert.equal(moved.priority, 7);
    assert.equal(moved.ttlMs, 5_400_000n);
  });
  it("offers the routes and the targets of the chosen routes, and keeps unknown ids visible", () => {
    const routes = [
      create(RouteSchema, { id: "rte_a", spec: { name: "web", hosts: ["a.test"], targets: [{ id: "tgt_1", name: "one", url: "http://127.0.0.1:1" }, { id: "tgt_2", url: "http://127.0.0.1:2" }] } }),
      create(RouteSchema, { id: "rte_b", spec: { name: "api", targets: [{ id: "tgt_3", url: "http://127.0.0.1:3" }] } }),
    ];
    assert.deepEqual(
      routeChoices(routes, ["rte_gone"]).map((c) => c.label),
      ["web (a.test)", "api", "rte_gone (no such route)"],
    );
    assert.deepEqual(
      targetChoices(routes, [], []).map((c) => c.id),
      ["tgt_1", "tgt_2", "tgt_3"],
      "no route chosen: every target",
    );
    assert.deepEqual(
      targetChoices(routes, ["rte_b"], []).map((c) => c.label),
      ["http://127.0.0.1:3 (route api)"],
    );
    assert.deepEqual(pruneTargets(routes, ["rte_b"], ["tgt_1", "tgt_3"]), ["tgt_3"]);
  });
});

describe("cache settings", () => {
  it("round-trips the settings, disk 0 (off) shown as 0 and sent as 0", () => {
    const s = create(CacheSettingsSchema, { enabled: false, memoryBytes: 268_435_456n, diskBytes: 0n, maxEntries: 5000, hotObjectBytes: 262_144n });
    const f = settingsToForm(s);
    assert.deepEqual(f.disk, { value: "0", unit: "GiB" });
    assert.deepEqual(f.memory, { value: "256", unit: "MiB" });
    assert.deepEqual(f.hotObject, { value: "256", unit: "KiB" });
    const back = formToSettings(f);
    assert.ok(equals(CacheSettingsSchema, back, s));
    assert.equal(back.diskBytes, 0n);
  });
  it("sends an empty disk budget as unset (the server's 1 GiB), and refuses bad numbers under settings.*", () => {
    const f = settingsToForm(create(CacheSettingsSchema, { memoryBytes: 134_217_728n, diskBytes: 1_073_741_824n }));
    assert.deepEqual(f.disk, { value: "1", unit: "GiB" });
    f.disk.value = "";
    assert.equal(formToSettings(f).diskBytes, undefined);
    f.maxEntries = "lots";
    assert.throws(() => formToSettings(f), refused("settings.max_entries"));
    f.maxEntries = "";
    f.hotObject = { value: "0.1", unit: "KiB" };
    assert.throws(() => formToSettings(f), refused("settings.hot_object_bytes"));
  });
});

describe("purge", () => {
  it("builds exactly one target case from the chosen kind", () => {
    const f = { ...newPurgeForm(), host: " App.Test ", ruleId: "cch_x", pathPrefix: "/img", prefixHost: "Cdn.Test", url: "a.test/x?y=1" };
    assert.deepEqual(purgeRequest({ ...f, kind: "host" }).target, { case: "host", value: "app.test" });
    assert.deepEqual(purgeRequest({ ...f, kind: "rule" }).target, { case: "ruleId", value: "cch_x" });
    assert.deepEqual(purgeRequest({ ...f, kind: "all" }).target, { case: "all", value: true });
    assert.deepEqual(purgeRequest({ ...f, kind: "url" }).target, { case: "url", value: "a.test/x?y=1" });
    const p = purgeRequest({ ...f, kind: "prefix" });
    assert.deepEqual([p.target, p.prefixHost], [{ case: "pathPrefix", value: "/img" }, "cdn.test"]);
    assert.equal(purgeRequest({ ...f, kind: "host" }).prefixHost, "", "the prefix's host only goes with a prefix");
  });
  it("refuses a missing value under the field the server would name", () => {
    assert.throws(() => purgeRequest({ ...newPurgeForm(), kind: "host" }), refused("host"));
    assert.throws(() => purgeRequest({ ...newPurgeForm(), kind: "rule" }), refused("rule_id"));
    assert.throws(() => purgeRequest({ ...newPurgeForm(), kind: "prefix" }), refused("path_prefix"));
    assert.throws(() => purgeRequest({ ...newPurgeForm(), kind: "url" }), refused("url"));
  });
  it("says what was removed", () => {
    assert.equal(purgeResultText({ entries: 3n, bytes: 1_572_864n }), "Removed 3 entries (1.5 MiB)");
    assert.equal(purgeResultText({ entries: 1n, bytes: 512n }), "Removed 1 entry (512 B)");
    assert.equal(purgeResultText({ entries: 0n, bytes: 0n }), "Removed 0 entries (0 B)");
  });
});

describe("usage", () => {
  it("gives the hit ratio with one decimal, never rounding up to 100 %", () => {
    assert.equal(hitRatioText(0n, 0n), "—");
    assert.equal(hitRatioText(3n, 1n), "75.0 %");
    assert.equal(hitRatioText(1n, 2n), "33.3 %");
    assert.equal(hitRatioText(2n, 1n), "66.6 %");
    assert.equal(hitRatioText(9999n, 1n), "99.9 %");
    assert.equal(hitRatioText(5n, 0n), "100.0 %");
    assert.equal(hitRatioText(0n, 4n), "0.0 %");
  });
  it("shows each tier against its budget; a tier with no budget is off", () => {
    const u = create(GetCacheUsageResponseSchema, {
      memory: { entries: 12n, bytes: 33_554_432n, budgetBytes: 134_217_728n },
      disk: { entries: 0n, bytes: 0n, budgetBytes: 0n },
      hits: 3n,
      misses: 1n,
    });
    const v = usageView(u);
    assert.deepEqual(v.memory, { entries: "12", bytes: "32 MiB", budget: "128 MiB", percent: 25 });
    assert.deepEqual(v.disk, { entries: "0", bytes: "0 B", budget: "off", percent: undefined });
    assert.equal(v.hitRatio, "75.0 %");
    assert.equal(v.lookups, "3 hits, 1 miss");
    assert.deepEqual(tierView(undefined), { entries: "0", bytes: "0 B", budget: "off", percent: undefined });
  });
});

describe("the request log's cache chip", () => {
  it("marks answers from the cache as good and a failed store as a warning", () => {
    assert.deepEqual(["hit", "stale", "revalidated", "miss", "stored", "bypass", "expired", "store_failed"].map(cacheStatusTone), ["ok", "ok", "ok", "muted", "muted", "muted", "muted", "warn"]);
  });
});
