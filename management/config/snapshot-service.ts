import type { Logger } from "pino";
import type { Store } from "../store/index.ts";
import type { ProxySnapshot } from "../../proxy/index.ts";
import { compileSnapshot } from "./compile-snapshot.ts";
import { routeSpecFromJson } from "./validate-route.ts";
import { compilePolicies, compileTemplates } from "./compile-policies.ts";
import { compileRateLimits, compileShapers } from "./compile-rate-limits.ts";
import { rateLimitRuleSpecFromJson } from "./validate-rate-limit.ts";
import { shaperRuleSpecFromJson } from "./validate-shaper.ts";
import { compileCacheRules } from "./compile-cache.ts";
import { cacheRuleSpecFromJson } from "./validate-cache.ts";
import { captchaProviderSpecFromJson, templateSpecFromJson, wafRuleSpecFromJson } from "./validate-policy.ts";
import { policyKey } from "./seed.ts";
import { compileCertificateStores } from "./compile-tls.ts";

export interface SnapshotSink {
  apply(snapshot: ProxySnapshot): Promise<void>;
}

/**
 * Owns the path from SQLite rows to the data plane. A write runs in one transaction that also
 * compiles the resulting config: if compiling throws, the transaction rolls back, so an invalid
 * write changes nothing and the old snapshot keeps serving.
 */
export class SnapshotService {
  private version = 0;

  constructor(
    private readonly store: Store,
    private readonly sink: SnapshotSink,
    private readonly log: Logger,
  ) {}

  private compile(): ProxySnapshot {
    const p = this.store.proxy;
    const routes = p.routes().map((row) => ({ row, spec: routeSpecFromJson(row.spec) }));
    const pol = this.store.policy;
    const templates = pol.templates().map((row) => ({ row, spec: templateSpecFromJson(row.spec) }));
    const waf = compilePolicies({
      wafRules: pol.waf.all().map((row) => ({ row, spec: wafRuleSpecFromJson(row.spec) })),
      templates,
      captchaProviders: pol.captchaProviders().map((row) => ({ row, spec: captchaProviderSpecFromJson(row.spec) })),
    });
    const rateLimits = compileRateLimits(
      pol.rateLimits.all().map((row) => ({ row, spec: rateLimitRuleSpecFromJson(row.spec) })),
      compileTemplates(templates),
    );
    const cacheRules = compileCacheRules(pol.cacheRules.all().map((row) => ({ row, spec: cacheRuleSpecFromJson(row.spec) })));
    const shapers = compileShapers(pol.shapers.all().map((row) => ({ row, spec: shaperRuleSpecFromJson(row.spec) })));
    const certificates = compileCertificateStores(this.store.tls.certificates());
    return compileSnapshot(this.version + 1, p.listeners(), routes, this.store.agents.list(), { waf, rateLimits, shapers, cacheRules }, policyKey(this.store), certificates);
  }

  /** Rebuilds from the database as it is (start-up, agent label changes). */
  async refresh(): Promise<void> {
    const next = this.compile();
    this.version = next.version;
    await this.sink.apply(next);
  }

  /** Runs `mutate` and the compile in one transaction; applies the new snapshot only after commit. */
  async write<T>(mutate: () => T): Promise<T> {
    let next: ProxySnapshot | undefined;
    const result = this.store.proxy.transaction(() => {
      const r = mutate();
      next = this.compile();
      return r;
    });
    this.version = next!.version;
    this.log.debug({ version: this.version }, "proxy snapshot swapped");
    await this.sink.apply(next!);
    return result;
  }
}
