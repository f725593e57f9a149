// The cache page's and the cache rule editor's form model: CacheRuleSpec ↔ form text, the global
// settings ↔ form, the purge form → PurgeCacheRequest, and what the usage panel and the rule list
// show. Sizes (B, KiB, MiB, GiB: binary) and the TTL (s, min, h, d) are a number and a unit converted
// exactly to the API's uint64 bigints (a fraction that is not a whole byte or millisecond is
// refused). Only what the form can tell on its own is checked here; the server's errors name the
// same fields. Pure: unit-tested in test/unit/ui/cache-form.test.ts.
import { create } from "@bufbuild/protobuf";
import {
  CacheQueryMode,
  CacheRuleSpecSchema,
  CacheSettingsSchema,
  CacheTtlMode,
  PurgeCacheRequestSchema,
  type CacheRule,
  type CacheRuleSpec,
  type CacheSettings,
  type GetCacheUsageResponse,
  type PurgeCacheRequest,
  type PurgeCacheResponse,
  type TierUsage,
} from "../../../../proto/gen/warren/v1/policy_pb.ts";
import type { Route } from "../../../../proto/gen/warren/v1/proxy_pb.ts";
import { FormError, parseWhole, splitList } from "./route-form.ts";
import { formToRuleBasics, joinList, ruleBasicsToForm, ruleSpecWith, type RuleBasicsForm } from "./policy-form.ts";

export { FormError };

const MAX_U64 = 18_446_744_073_709_551_615n;

// ---- Exact number + unit ↔ bigint -------------------------------------------------------------

type Units<U extends string> = readonly (readonly [U, bigint])[];

/** `n / size` as a decimal with at most three places; undefined when it needs more. */
function decimal(n: bigint, size: bigint): string | undefined {
  if ((n * 1000n) % size !== 0n) return undefined;
  const whole = n / size;
  const frac = ((n % size) * 1000n) / size;
  if (frac === 0n) return String(whole);
  return `${whole}.${String(frac).padStart(3, "0").replace(/0+$/, "")}`;
}

/** The largest unit `n` is at least 1 of and exact in with three decimals at most; else the smallest. */
function toUnit<U extends string>(n: bigint, units: Units<U>): { value: string; unit: U } {
  for (let i = units.length - 1; i > 0; i--) {
    const [unit, size] = units[i]!;
    if (n < size) continue;
    const v = decimal(n, size);
    if (v !== undefined) return { value: v, unit };
  }
  const [unit, size] = units[0]!;
  return { value: decimal(n, size) ?? String(n / size), unit };
}

/** A number (decimals allowed) of a unit as an exact whole count; empty = 0n. */
function fromUnit<U extends string>(value: string, unit: U, units: Units<U>, field: string, what: string, max: bigint): bigint {
  const t = value.trim();
  if (t === "") return 0n;
  const m = /^(\d+)(?:\.(\d+))?$/.exec(t);
  if (!m) throw new FormError(field, "must be a number, 0 or more");
  const size = units.find(([u]) => u === unit)?.[1] ?? 1n;
  const digits = m[2] ?? "";
  const scale = 10n ** BigInt(digits.length);
  const fracNum = BigInt(digits || "0") * size;
  if (fracNum % scale !== 0n) throw new FormError(field, `is not a whole number of ${what} (1 ${unit} = ${size} ${what})`);
  const total = BigInt(m[1]!) * size + fracNum / scale;
  if (total > max) throw new FormError(field, `must be at most ${max} ${what}`);
  return total;
}

export type ByteUnit = "B" | "KiB" | "MiB" | "GiB";

export const BYTE_UNITS: Units<ByteUnit> = [
  ["B", 1n],
  ["KiB", 1024n],
  ["MiB", 1_048_576n],
  ["GiB", 1_073_741_824n],
];

export const BYTE_UNIT_LABELS: readonly (readonly [ByteUnit, string])[] = [
  ["B", "bytes"],
  ["KiB", "KiB"],
  ["MiB", "MiB"],
  ["GiB", "GiB"],
];

export interface ByteField {
  value: string;
  unit: ByteUnit;
}

/** Bytes as a number and a unit (1.5 MiB, 1500 B); 0 = empty (the server's default) unless `zero` says how to show it. */
export function bytesToForm(bytes: bigint, opts: { emptyUnit?: ByteUnit; zero?: string } = {}): ByteField {
  if (bytes === 0n) return { value: opts.zero ?? "", unit: opts.emptyUnit ?? "MiB" };
  return toUnit(bytes, BYTE_UNITS);
}

/** Whole bytes from a number and a unit; empty = 0n. */
export function bytesFromForm(f: ByteField, field: string, max = MAX_U64): bigint {
  return fromUnit(f.value, f.unit, BYTE_UNITS, field, "bytes", max);
}

/** "128 MiB", "1.5 KiB", "1500 B": exact. */
export function bytesText(bytes: bigint): string {
  const { value, unit } = toUnit(bytes, BYTE_UNITS);
  return `${value} ${unit}`;
}

export type TtlUnit = "s" | "min" | "h" | "d";

export const TTL_UNITS: Units<TtlUnit> = [
  ["s", 1000n],
  ["min", 60_000n],
  ["h", 3_600_000n],
  ["d", 86_400_000n],
];

export const TTL_UNIT_LABELS: readonly (readonly [TtlUnit, string])[] = [
  ["s", "seconds"],
  ["min", "minutes"],
  ["h", "hours"],
  ["d", "days"],
];

export const DEFAULT_TTL_MS = 3_600_000n;

/** A TTL in ms as a number and a unit (90 s → 1.5 min); 0 = empty (the server's one hour). */
export function ttlToForm(ms: bigint): { value: string; unit: TtlUnit } {
  if (ms === 0n) return { value: "", unit: "h" };
  return toUnit(ms, TTL_UNITS);
}

/** The TTL in ms, exactly (1.5 s = 1500); empty = 0n (the server's default). */
export function ttlToMs(value: string, unit: TtlUnit): bigint {
  return fromUnit(value, unit, TTL_UNITS, "ttl_ms", "ms", MAX_U64);
}

/** "1 h", "1.5 min", "7 d". */
export function ttlText(ms: bigint): string {
  const { value, unit } = toUnit(ms === 0n ? DEFAULT_TTL_MS : ms, TTL_UNITS);
  return `${value} ${unit}`;
}

// ---- Cache rules -------------------------------------------------------------------------------

export const TTL_MODES: readonly (readonly [CacheTtlMode, string])[] = [
  [CacheTtlMode.ORIGIN, "The origin's (s-maxage, max-age, Expires); the TTL below when it says nothing"],
  [CacheTtlMode.FIXED, "Fixed: always the TTL below, whatever the origin says about freshness"],
];

export const QUERY_MODES: readonly (readonly [CacheQueryMode, string])[] = [
  [CacheQueryMode.FULL, "The whole query (parameters in a normalized order)"],
  [CacheQueryMode.IGNORE, "Ignored: the query is not part of the key"],
  [CacheQueryMode.ALLOWLIST, "Only the parameters named below"],
  [CacheQueryMode.DENYLIST, "Every parameter but those named below"],
];

export function queryModeNamesList(mode: CacheQueryMode): boolean {
  return mode === CacheQueryMode.ALLOWLIST || mode === CacheQueryMode.DENYLIST;
}

export interface CacheRuleForm extends RuleBasicsForm {
  routeIds: string[];
  targetIds: string[];
  ttlMode: CacheTtlMode;
  ttlValue: string;
  ttlUnit: TtlUnit;
  heuristicFreshness: boolean;
  queryMode: CacheQueryMode;
  /** Comma-separated; sent only for an allowlist or denylist (kept in the form for switching back). */
  queryNames: string;
  varyHeaders: string;
  statuses: string;
  maxObject: ByteField;
  cacheStatusHeader: boolean;
  ignoreRequestCookies: boolean;
}

export function cacheRuleToForm(spec: CacheRuleSpec | undefined): CacheRuleForm {
  const ttl = ttlToForm(spec?.ttlMs ?? 0n);
  return {
    ...ruleBasicsToForm(spec),
    routeIds: [...(spec?.routeIds ?? [])],
    targetIds: [...(spec?.targetIds ?? [])],
    ttlMode: spec?.ttlMode === CacheTtlMode.FIXED ? CacheTtlMode.FIXED : CacheTtlMode.ORIGIN,
    ttlValue: ttl.value,
    ttlUnit: ttl.unit,
    heuristicFreshness: spec?.heuristicFreshness ?? false,
    queryMode: spec?.queryMode ?? CacheQueryMode.FULL,
    queryNames: joinList(spec?.queryNames),
    varyHeaders: joinList(spec?.varyHeaders),
    statuses: (spec?.statuses ?? []).join(", "),
    maxObject: bytesToForm(spec?.maxObjectBytes ?? 0n),
    cacheStatusHeader: spec?.cacheStatusHeader ?? false,
    ignoreRequestCookies: spec?.ignoreRequestCookies ?? false,
  };
}

/** "200, 404" → [200, 404]; a token that is not a whole number is refused under `statuses[i]`. */
export function parseStatuses(text: string): number[] {
  return splitList(text).map((t, i) => {
    if (!/^\d{1,3}$/.test(t)) throw new FormError(`statuses[${i}]`, `"${t}" is not a status code`);
    return Number(t);
  });
}

export function formToCacheRuleSpec(f: CacheRuleForm): CacheRuleSpec {
  const listed = queryModeNamesList(f.queryMode);
  return create(CacheRuleSpecSchema, {
    ...formToRuleBasics(f),
    routeIds: [...f.routeIds],
    targetIds: [...f.targetIds],
    ttlMode: f.ttlMode,
    ttlMs: ttlToMs(f.ttlValue, f.ttlUnit),
    heuristicFreshness: f.heuristicFreshness,
    queryMode: f.queryMode,
    // The server refuses names with FULL or IGNORE.
    queryNames: listed ? splitList(f.queryNames) : [],
    varyHeaders: splitList(f.varyHeaders),
    statuses: parseStatuses(f.statuses),
    maxObjectBytes: bytesFromForm(f.maxObject, "max_object_bytes"),
    cacheStatusHeader: f.cacheStatusHeader,
    ignoreRequestCookies: f.ignoreRequestCookies,
  });
}

/** What the list shows for the TTL: "origin, else 1 h" / "fixed 10 min" (+ heuristic). */
export function ttlSummary(spec: CacheRuleSpec | undefined): string {
  const ttl = ttlText(spec?.ttlMs ?? 0n);
  const base = spec?.ttlMode === CacheTtlMode.FIXED ? `fixed ${ttl}` : `origin, else ${ttl}`;
  return spec?.heuristicFreshness && spec.ttlMode !== CacheTtlMode.FIXED ? `${base} (heuristic)` : base;
}

/** "full", "ignored", "only page, sort", "all but utm_source". */
export function querySummary(spec: CacheRuleSpec | undefined): string {
  const names = (spec?.queryNames ?? []).join(", ");
  switch (spec?.queryMode) {
    case CacheQueryMode.IGNORE:
      return "ignored";
    case CacheQueryMode.ALLOWLIST:
      return `only ${names}`;
    case CacheQueryMode.DENYLIST:
      return `all but ${names}`;
    default:
      return "full";
  }
}

/** "200, 301, 404", or "default" when the spec names none (the server fills them in on save). */
export function statusesSummary(spec: CacheRuleSpec | undefined): string {
  return spec?.statuses.length ? spec.statuses.join(", ") : "default";
}

export function cacheRuleSpecWith(rule: CacheRule, patch: { enabled?: boolean; priority?: number }): CacheRuleSpec {
  return ruleSpecWith(CacheRuleSpecSchema, rule, patch);
}

export interface Choice {
  id: string;
  label: string;
}

/**
 * The routes a rule can be filtered to (name and hosts), plus any id the rule names that no longer
 * exists (so it can be seen and unticked: the server refuses it on save).
 */
export function routeChoices(routes: readonly Route[], chosen: readonly string[]): Choice[] {
  const out: Choice[] = routes.map((r) => ({ id: r.id, label: `${r.spec?.name || r.id}${r.spec?.hosts.length ? ` (${r.spec.hosts.join(", ")})` : ""}` }));
  for (const id of chosen) if (!out.some((c) => c.id === id)) out.push({ id, label: `${id} (no such route)` });
  return out;
}

/** The targets of the chosen routes (of every route when none is chosen), plus unknown chosen ids. */
export function targetChoices(routes: readonly Route[], routeIds: readonly string[], chosen: readonly string[]): Choice[] {
  const from = routeIds.length === 0 ? routes : routes.filter((r) => routeIds.includes(r.id));
  const out: Choice[] = [];
  for (const r of from) {
    for (const t of r.spec?.targets ?? []) {
      if (!t.id) continue;
      out.push({ id: t.id, label: `${t.name || t.url || t.id} (route ${r.spec?.name || r.id})` });
    }
  }
  for (const id of chosen) if (!out.some((c) => c.id === id)) out.push({ id, label: `${id} (not a target of the chosen routes)` });
  return out;
}

/** The chosen targets that still belong to the chosen routes (after a route is unticked). */
export function pruneTargets(routes: readonly Route[], routeIds: readonly string[], targetIds: readonly string[]): string[] {
  const known = new Set(targetChoices(routes, routeIds, []).map((c) => c.id));
  return targetIds.filter((id) => known.has(id));
}

// ---- Settings ----------------------------------------------------------------------------------

export interface CacheSettingsForm {
  enabled: boolean;
  memory: ByteField;
  /** "0" = no disk tier; empty = the default (1 GiB). */
  disk: ByteField;
  maxEntries: string;
  hotObject: ByteField;
}

export function settingsToForm(s: CacheSettings | undefined): CacheSettingsForm {
  return {
    enabled: s?.enabled ?? true,
    memory: bytesToForm(s?.memoryBytes ?? 0n),
    // 0 means off, not "the default": shown as 0.
    disk: s?.diskBytes === undefined ? bytesToForm(0n, { emptyUnit: "GiB" }) : bytesToForm(s.diskBytes, { emptyUnit: "GiB", zero: "0" }),
    maxEntries: s?.maxEntries ? String(s.maxEntries) : "",
    hotObject: bytesToForm(s?.hotObjectBytes ?? 0n, { emptyUnit: "KiB" }),
  };
}

export function formToSettings(f: CacheSettingsForm): CacheSettings {
  return create(CacheSettingsSchema, {
    enabled: f.enabled,
    memoryBytes: bytesFromForm(f.memory, "settings.memory_bytes"),
    // Empty = unset (the server's 1 GiB); "0" = no disk tier.
    diskBytes: f.disk.value.trim() === "" ? undefined : bytesFromForm(f.disk, "settings.disk_bytes"),
    maxEntries: parseWhole(f.maxEntries, "settings.max_entries"),
    hotObjectBytes: bytesFromForm(f.hotObject, "settings.hot_object_bytes"),
  });
}

// ---- Purge -------------------------------------------------------------------------------------

export type PurgeKind = "all" | "rule" | "host" | "prefix" | "url";

export const PURGE_KINDS: readonly (readonly [PurgeKind, string])[] = [
  ["host", "Every entry of a host"],
  ["prefix", "Entries under a path prefix"],
  ["url", "One URL"],
  ["rule", "Entries a rule stored"],
  ["all", "Everything"],
];

export interface PurgeForm {
  kind: PurgeKind;
  ruleId: string;
  host: string;
  pathPrefix: string;
  /** With a path prefix: only on this host (empty = every host). */
  prefixHost: string;
  url: string;
}

export function newPurgeForm(): PurgeForm {
  return { kind: "host", ruleId: "", host: "", pathPrefix: "", prefixHost: "", url: "" };
}

/** The request for the chosen kind (only its field); what is missing is refused under the server's field name. */
export function purgeRequest(f: PurgeForm): PurgeCacheRequest {
  const need = (v: string, field: string, message = "is required") => {
    const t = v.trim();
    if (t === "") throw new FormError(field, message);
    return t;
  };
  switch (f.kind) {
    case "all":
      return create(PurgeCacheRequestSchema, { target: { case: "all", value: true } });
    case "rule":
      return create(PurgeCacheRequestSchema, { target: { case: "ruleId", value: need(f.ruleId, "rule_id", "choose a rule") } });
    case "host":
      return create(PurgeCacheRequestSchema, { target: { case: "host", value: need(f.host, "host").toLowerCase() } });
    case "prefix":
      return create(PurgeCacheRequestSchema, { target: { case: "pathPrefix", value: need(f.pathPrefix, "path_prefix") }, prefixHost: f.prefixHost.trim().toLowerCase() });
    case "url":
      return create(PurgeCacheRequestSchema, { target: { case: "url", value: need(f.url, "url") } });
  }
}

/** "Removed 3 entries (1.5 MiB)". */
export function purgeResultText(r: Pick<PurgeCacheResponse, "entries" | "bytes">): string {
  return `Removed ${r.entries} ${r.entries === 1n ? "entry" : "entries"} (${bytesText(r.bytes)})`;
}

// ---- Usage -------------------------------------------------------------------------------------

/** "75.0 %" (one decimal, truncated so a single miss never shows 100 %), or "—" before any lookup. */
export function hitRatioText(hits: bigint, misses: bigint): string {
  const total = hits + misses;
  if (total === 0n) return "—";
  const permille = (hits * 1000n) / total;
  return `${permille / 10n}.${permille % 10n} %`;
}

export interface TierView {
  entries: string;
  bytes: string;
  budget: string;
  /** Share of the budget in use, 0–100 (whole); undefined for a tier that is off. */
  percent: number | undefined;
}

export function tierView(t: TierUsage | undefined): TierView {
  const budget = t?.budgetBytes ?? 0n;
  const used = t?.bytes ?? 0n;
  return {
    entries: String(t?.entries ?? 0n),
    bytes: bytesText(used),
    budget: budget === 0n ? "off" : bytesText(budget),
    percent: budget === 0n ? undefined : Number((used * 100n) / budget),
  };
}

export interface UsageView {
  memory: TierView;
  disk: TierView;
  hitRatio: string;
  lookups: string;
}

export function usageView(u: GetCacheUsageResponse): UsageView {
  return {
    memory: tierView(u.memory),
    disk: tierView(u.disk),
    hitRatio: hitRatioText(u.hits, u.misses),
    lookups: `${u.hits} ${u.hits === 1n ? "hit" : "hits"}, ${u.misses} ${u.misses === 1n ? "miss" : "misses"}`,
  };
}

/** How the request log shows what the cache did: a served answer is good news, a failed store a warning. */
export function cacheStatusTone(status: string): "ok" | "warn" | "muted" {
  if (status === "hit" || status === "stale" || status === "revalidated") return "ok";
  if (status === "store_failed") return "warn";
  return "muted";
}
