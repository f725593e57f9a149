// A compiled cache rule from plain fields, for tests that put cache rules into a snapshot before the
// management compiler does (and for unit tests of keys and refusals).
import { ScopeMatcher, type ScopeSpec } from "../../proxy/policy/match.ts";
import { compileWhen } from "../../proxy/policy/cel.ts";
import type { CompiledCacheRule, QueryMode } from "../../proxy/cache/types.ts";

export interface CacheRuleInit {
  id: string;
  scope?: Partial<ScopeSpec>;
  when?: string;
  routeIds?: string[];
  targetIds?: string[];
  ttlMode?: "origin" | "fixed";
  ttlMs?: number;
  heuristic?: boolean;
  queryMode?: QueryMode;
  queryNames?: string[];
  varyHeaders?: string[];
  statuses?: number[];
  maxObjectBytes?: number;
  cacheStatusHeader?: boolean;
  ignoreRequestCookies?: boolean;
}

export function cacheRule(o: CacheRuleInit): CompiledCacheRule {
  return {
    id: o.id,
    name: o.id,
    fingerprint: JSON.stringify(o),
    scope: new ScopeMatcher({ hosts: o.scope?.hosts ?? [], pathPrefixes: o.scope?.pathPrefixes ?? [], methods: o.scope?.methods ?? [] }),
    when: o.when === undefined ? undefined : compileWhen(o.when),
    routeIds: o.routeIds === undefined ? undefined : new Set(o.routeIds),
    targetIds: o.targetIds === undefined ? undefined : new Set(o.targetIds),
    ttlMode: o.ttlMode ?? "origin",
    ttlMs: o.ttlMs ?? 3_600_000,
    heuristic: o.heuristic ?? false,
    queryMode: o.queryMode ?? "full",
    queryNames: new Set(o.queryNames ?? []),
    varyHeaders: o.varyHeaders ?? ["accept-encoding"],
    statuses: new Set(o.statuses ?? [200, 203, 204, 301, 308]),
    maxObjectBytes: o.maxObjectBytes ?? 100 * 1024 * 1024,
    cacheStatusHeader: o.cacheStatusHeader ?? true,
    ignoreRequestCookies: o.ignoreRequestCookies ?? false,
  };
}
