import type http from "node:http";
import type { Logger } from "pino";
import { EMPTY_SNAPSHOT, type CompiledListener, type ProxySnapshot } from "./snapshot.ts";
import { DEFAULT_CONNECTION_LIMITS, DEFAULT_LISTENER_TIMEOUTS, ListenerManager, type CertificatePair, type ConnectionLimits, type ListenerStatus, type ListenerTimeouts } from "./listeners.ts";
import { AcmeChallenges } from "./tls/acme-challenges.ts";
import { OcspStapler, type OcspTarget } from "./tls/ocsp.ts";
import { retainBufferReclaimer } from "../lib/buffer-reclaimer.ts";
import { Pipeline, pipelineStages } from "./pipeline.ts";
import { PassiveHealth } from "./health/passive.ts";
import { ActiveHealth } from "./health/active.ts";
import { UpstreamPools, type AgentDialer } from "./targets/upstream-pools.ts";
import { TargetSelector } from "./targets/target-selector.ts";
import { bodyLimit } from "./body/body-limit.ts";
import { uploadShaper } from "./body/upload-shaper.ts";
import { downloadShaper } from "./handlers/download-shaper.ts";
import { upgradeShaper } from "./handlers/upgrade-shaper.ts";
import { cacheTee } from "./handlers/cache-tee.ts";
import { CacheService, type CacheTuning } from "./cache/service.ts";
import { MemoryTier } from "./cache/memory-tier.ts";
import { openCacheStore } from "./cache/open-store.ts";
import { cacheRequestHeaders } from "./cache/exchange.ts";
import { RequestContext, type RawRequestSocket } from "./context.ts";
import { RawResponse, answerError } from "./respond.ts";
import { recordWhenDone } from "./observe/record.ts";
import { mapError } from "../lib/error-mapper.ts";
import type { TrustedProxies } from "./client-ip.ts";
import type { EventSink } from "./observe/request-event.ts";
import type { RateLimitStore, StoreStatus } from "./policy/rate-limit/store.ts";
import type { CacheSettings, CacheStore, CacheUsage, PurgeFilter } from "./cache/types.ts";

export interface DataPlaneOptions {
  readonly agents: AgentDialer;
  readonly trusted: TrustedProxies;
  /** Served by HTTPS listeners without a default certificate for names no stored certificate covers. */
  readonly fallbackCertificate: () => Promise<CertificatePair>;
  readonly events: EventSink;
  /** Rate-limit counters: memory, or Redis with a memory fallback (RATE_LIMIT_STORE). */
  readonly rateLimits: RateLimitStore;
  readonly log: Logger;
  /** Tests shorten these. */
  readonly listenerTimeouts?: ListenerTimeouts;
  /** Concurrent connections per listener and per client IP; default 10,000 and 256. */
  readonly connectionLimits?: ConnectionLimits;
  /** The HTTP cache's store (stage 9); default: a memory tier with the default settings, closed with the data plane. */
  readonly cache?: CacheStore;
  /** Where configureCache keeps the disk tier ($CONFIG_DIR/cache); without it the cache is memory only. */
  readonly cacheDir?: string;
  /** Coalescing bounds and the cache's clock; tests change them. */
  readonly cacheTuning?: Partial<CacheTuning>;
}

/**
 * What management may do with the data plane (DESIGN.md §2): swap the snapshot, read listener
 * status, and tell it about agents coming and going. cli/serve.ts builds the DataPlane and hands
 * management only this.
 */
export interface DataPlaneControl {
  apply(next: ProxySnapshot): Promise<void>;
  listenerStatus(id: string): ListenerStatus | undefined;
  /** The agent is gone: its pooled upstream connections are destroyed. */
  agentOffline(agentId: string): void;
  /** The agent sent go-away: idle pooled connections close now, busy ones after their response. */
  agentDraining(agentId: string): void;
  /** The rate-limit store in use and its health. */
  rateLimitStatus(): StoreStatus;
  /** Removes cached responses (visible at once) and says how many and how big. */
  purgeCache(filter: PurgeFilter): { entries: number; bytes: number };
  /** The cache's tiers, budgets and hit counts. */
  cacheUsage(): CacheUsage;
  /**
   * Opens the cache's store for these settings (the tiered store in `cacheDir`) and puts it in place
   * of the current one; entries on disk survive, hot copies in memory do not.
   */
  configureCache(settings: CacheSettings): Promise<void>;
  /** ACME validations the listeners answer while an issuance runs (HTTP-01, TLS-ALPN-01). */
  readonly acmeChallenges: AcmeChallenges;
}

/** The public side: the current snapshot, the listeners and the request pipeline. */
export class DataPlane implements DataPlaneControl {
  private current: ProxySnapshot = EMPTY_SNAPSHOT;
  /** ACME validations in progress: answered on every listener while an issuance runs. */
  readonly acmeChallenges = new AcmeChallenges();
  private readonly ocsp: OcspStapler;
  /** Frees dead body chunks' memory promptly (lib/buffer-reclaimer.ts). */
  private readonly releaseReclaimer = retainBufferReclaimer();
  private readonly listeners: ListenerManager;
  private readonly pools: UpstreamPools;
  private readonly active: ActiveHealth;
  private readonly pipeline: Pipeline;
  private readonly cache: CacheService;
  /** The data plane closes the stores it made (all but one given in the options). */
  private ownsCache: boolean;
  private configuring: Promise<void> = Promise.resolve();

  constructor(private readonly o: DataPlaneOptions) {
    this.ocsp = new OcspStapler(o.log);
    this.ownsCache = o.cache === undefined;
    const cache = (this.cache = new CacheService(o.cache ?? new MemoryTier(), o.cacheTuning));
    this.pools = new UpstreamPools(o.agents);
    this.active = new ActiveHealth(this.pools, o.agents, o.log);
    const passive = new PassiveHealth();
    const selector = new TargetSelector(this.pools, o.agents, passive, this.active);
    const stages = pipelineStages(
      {
      selector,
      passive,
      agents: o.agents,
      trusted: o.trusted,
      rateLimits: o.rateLimits,
      decorators: [cacheTee(cache), downloadShaper],
      bodyTransforms: [bodyLimit, uploadShaper],
      headerTransforms: [(ctx, headers) => cacheRequestHeaders(ctx.cache, headers)],
      spliceTransforms: [upgradeShaper],
      log: o.log,
      },
      { service: cache, decorators: [downloadShaper] },
      this.acmeChallenges,
    );
    this.pipeline = new Pipeline(stages, (ctx, stage, err) => {
      ctx.answeredBy = stage.name;
      ctx.cause = err;
      answerError(ctx, mapError(err).code);
    });
    this.listeners = new ListenerManager(
      (l, peer, req, res, raw) => this.handle(l, peer, req, res, raw),
      { fallback: o.fallbackCertificate, acme: this.acmeChallenges, ocsp: this.ocsp },
      o.log,
      o.listenerTimeouts ?? DEFAULT_LISTENER_TIMEOUTS,
      o.connectionLimits ?? DEFAULT_CONNECTION_LIMITS,
    );
  }

  get snapshot(): ProxySnapshot {
    return this.current;
  }

  private handle(l: CompiledListener, peer: string, req: http.IncomingMessage, res: http.ServerResponse | undefined, raw: RawRequestSocket | undefined): void {
    const snapshot = this.current;
    // Routes come from the current snapshot; a listener removed meanwhile keeps its last routes while it drains.
    const listener = snapshot.listeners.get(l.id) ?? l;
    const ctx = new RequestContext(snapshot, listener, listener.protocol, peer, req, res ?? new RawResponse(raw!.socket), raw);
    recordWhenDone(ctx, this.o.events, this.pipeline.names, this.o.log);
    this.pipeline.run(ctx);
  }

  /** Swaps the snapshot atomically, then reconciles listeners and health checks to it. */
  apply(next: ProxySnapshot): Promise<void> {
    this.current = next;
    this.o.rateLimits.retain(new Set(next.rateLimits.map((r) => r.namespace)));
    this.active.apply(next);
    this.pools.retain(next);
    this.ocsp.update(ocspTargets(next));
    return this.listeners.apply(next);
  }

  listenerStatus(id: string): ListenerStatus | undefined {
    return this.listeners.status(id);
  }

  agentOffline(agentId: string): void {
    this.pools.closeAgent(agentId);
  }

  agentDraining(agentId: string): void {
    this.pools.closeAgent(agentId, true);
  }

  rateLimitStatus(): StoreStatus {
    return this.o.rateLimits.status();
  }

  purgeCache(filter: PurgeFilter): { entries: number; bytes: number } {
    return this.cache.store.purge(filter);
  }

  cacheUsage(): CacheUsage {
    return this.cache.store.usage();
  }

  configureCache(settings: CacheSettings): Promise<void> {
    const step = this.configuring.then(async () => {
      // While the tiers change hands nothing is served from or kept in the cache: the disk tier's
      // folder has one owner at a time, so the old store closes before the new one opens it.
      const old = this.cache.swap(new MemoryTier({ ...settings, enabled: false }));
      if (this.ownsCache) await old.close();
      this.ownsCache = true;
      const next = await openCacheStore(this.o.cacheDir, settings, this.o.log);
      await this.cache.swap(next).close();
    });
    this.configuring = step.catch(() => {});
    return step;
  }

  async close(): Promise<void> {
    this.active.close();
    this.ocsp.close();
    this.releaseReclaimer();
    await this.o.rateLimits.close();
    await this.listeners.close();
    await this.pools.close();
    await this.configuring;
    if (this.ownsCache) await this.cache.store.close();
  }
}

/** Every certificate a listener may serve that has an OCSP responder. */
function* ocspTargets(s: ProxySnapshot): Iterable<OcspTarget> {
  for (const l of s.listeners.values()) {
    if (!l.enabled || !l.tls) continue;
    if (l.tls.defaultOcsp) yield l.tls.defaultOcsp;
    yield* l.tls.store.ocspTargets();
  }
}
