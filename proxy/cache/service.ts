// The data plane's cache: the store, the flights in progress and the clock, shared by the cache
// stage and the cache tee.
import type { IncomingHttpHeaders } from "node:http";
import type CachePolicy from "http-cache-semantics";
import { DEFAULT_FLIGHT_LIMITS, Flights, type FlightLimits } from "./flight.ts";
import { policyClass, type Policy, type PolicyClass } from "./semantics.ts";
import type { CacheStore, CompiledCacheRule, EntryMeta } from "./types.ts";
import type { CacheRequest } from "./exchange.ts";
import type { ResponseHeaders } from "./downstream.ts";

export interface CacheTuning extends FlightLimits {
  /** Epoch milliseconds; tests move it instead of waiting for entries to age. */
  readonly now: () => number;
}

export class CacheService {
  readonly flights: Flights;
  readonly now: () => number;
  private readonly Policy: PolicyClass;

  constructor(
    /** Replaced when the cache's settings change (swap). */
    public store: CacheStore,
    tuning: Partial<CacheTuning> = {},
  ) {
    const { now = Date.now, ...limits } = tuning;
    this.now = now;
    this.Policy = policyClass(now);
    this.flights = new Flights({ ...DEFAULT_FLIGHT_LIMITS, ...limits });
  }

  /** Puts `next` in place for every later lookup and write; returns the store it replaced. */
  swap(next: CacheStore): CacheStore {
    const old = this.store;
    this.store = next;
    return old;
  }

  /** The request as the policy sees it: the key's URL and host, so every variant of it compares equal. */
  policyRequest(req: CacheRequest, url: string, headers: IncomingHttpHeaders = req.headers): CachePolicy.Request {
    return { url, method: "GET", headers: { ...(headers as CachePolicy.Headers), host: req.host } };
  }

  newPolicy(req: CacheRequest, url: string, status: number, headers: ResponseHeaders, rule: CompiledCacheRule): Policy {
    return new this.Policy(this.policyRequest(req, url), { status, headers: headers as CachePolicy.Headers }, { shared: true, cacheHeuristic: rule.heuristic ? 0.1 : 0 });
  }

  restore(meta: EntryMeta): Policy {
    return this.Policy.fromObject(meta.policy as unknown as CachePolicy.CachePolicyObject);
  }
}
