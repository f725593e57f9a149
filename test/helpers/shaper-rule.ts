// A compiled shaper rule from plain fields, for tests that put shapers into a snapshot before the
// management compiler does (and for unit tests of the buckets).
import { ScopeMatcher, type ScopeSpec } from "../../proxy/policy/match.ts";
import { compileWhen } from "../../proxy/policy/cel.ts";
import { compileKey } from "../../proxy/policy/key-parts.ts";
import type { CompiledShaperRule, ShaperSpec } from "../../proxy/shaping/types.ts";

export interface ShaperInit extends Partial<ShaperSpec> {
  id: string;
  scope?: Partial<ScopeSpec>;
  when?: string;
  keyParts?: string[];
}

export function shaperRule(o: ShaperInit): CompiledShaperRule {
  const spec: ShaperSpec = {
    budget: o.budget ?? "per_key",
    uploadBytesPerSecond: o.uploadBytesPerSecond ?? 0,
    downloadBytesPerSecond: o.downloadBytesPerSecond ?? 0,
    burstBytes: o.burstBytes ?? 0,
    requestExemptBytes: o.requestExemptBytes ?? 0,
    responseExemptBytes: o.responseExemptBytes ?? 0,
  };
  return {
    id: o.id,
    name: o.id,
    fingerprint: JSON.stringify([spec, o.scope ?? {}, o.when ?? "", o.keyParts ?? []]),
    scope: new ScopeMatcher({ hosts: o.scope?.hosts ?? [], pathPrefixes: o.scope?.pathPrefixes ?? [], methods: o.scope?.methods ?? [] }),
    when: o.when === undefined ? undefined : compileWhen(o.when),
    key: compileKey(o.keyParts ?? ["client_ip"]),
    spec,
  };
}
