// Cache rules and settings, from their stored form to the data plane's (part of the one snapshot
// compile: a write that would make an invalid rule live fails as a whole).
import { CacheQueryMode, CacheTtlMode, type CacheRuleSpec, type CacheSettings as CacheSettingsSpec } from "../../proto/gen/warren/v1/policy_pb.ts";
import { compileWhen, ScopeMatcher, type CacheSettings, type CompiledCacheRule, type QueryMode } from "../../proxy/index.ts";
import type { RuleRow } from "../store/policy-repo.ts";
import { ruleFingerprint } from "./compile-policies.ts";
import { CACHE_DEFAULTS } from "./validate-cache.ts";

const QUERY_MODES: Readonly<Record<number, QueryMode>> = {
  [CacheQueryMode.FULL]: "full",
  [CacheQueryMode.IGNORE]: "ignore",
  [CacheQueryMode.ALLOWLIST]: "allowlist",
  [CacheQueryMode.DENYLIST]: "denylist",
};

/** The enabled cache rules in evaluation order (rows come sorted by priority, then id). */
export function compileCacheRules(rules: readonly { readonly row: RuleRow; readonly spec: CacheRuleSpec }[]): readonly CompiledCacheRule[] {
  const out: CompiledCacheRule[] = [];
  for (const { row, spec } of rules) {
    if (spec.enabled === false) continue;
    const s = spec.scope;
    out.push(
      Object.freeze<CompiledCacheRule>({
        id: row.id,
        name: spec.name,
        fingerprint: ruleFingerprint(row.spec),
        scope: new ScopeMatcher({ hosts: s?.hosts ?? [], pathPrefixes: s?.pathPrefixes ?? [], methods: s?.methods ?? [] }),
        when: spec.when === "" ? undefined : compileWhen(spec.when),
        routeIds: spec.routeIds.length === 0 ? undefined : new Set(spec.routeIds),
        targetIds: spec.targetIds.length === 0 ? undefined : new Set(spec.targetIds),
        ttlMode: spec.ttlMode === CacheTtlMode.FIXED ? "fixed" : "origin",
        ttlMs: Number(spec.ttlMs || BigInt(CACHE_DEFAULTS.ttlMs)),
        heuristic: spec.heuristicFreshness,
        queryMode: QUERY_MODES[spec.queryMode] ?? "full",
        queryNames: new Set(spec.queryNames),
        varyHeaders: spec.varyHeaders.length === 0 ? CACHE_DEFAULTS.varyHeaders : spec.varyHeaders,
        statuses: new Set(spec.statuses.length === 0 ? CACHE_DEFAULTS.statuses : spec.statuses),
        maxObjectBytes: Number(spec.maxObjectBytes || BigInt(CACHE_DEFAULTS.maxObjectBytes)),
        cacheStatusHeader: spec.cacheStatusHeader,
        ignoreRequestCookies: spec.ignoreRequestCookies,
      }),
    );
  }
  return Object.freeze(out);
}

/** The settings in the data plane's form (validated: defaults filled in). */
export function compileCacheSettings(s: CacheSettingsSpec): CacheSettings {
  return Object.freeze<CacheSettings>({
    enabled: s.enabled !== false,
    memoryBytes: Number(s.memoryBytes || BigInt(CACHE_DEFAULTS.memoryBytes)),
    diskBytes: Number(s.diskBytes ?? BigInt(CACHE_DEFAULTS.diskBytes)),
    maxEntries: s.maxEntries || CACHE_DEFAULTS.maxEntries,
    hotObjectBytes: Number(s.hotObjectBytes || BigInt(CACHE_DEFAULTS.hotObjectBytes)),
  });
}
