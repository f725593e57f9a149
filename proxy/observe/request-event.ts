/** One record per request (DESIGN.md §5 stage 11). */
export interface RequestEvent {
  readonly at: number;
  readonly requestId: string;
  readonly listenerId: string;
  readonly routeId: string;
  readonly targetId: string;
  readonly agentId: string;
  readonly method: string;
  readonly host: string;
  /** Without the query: queries carry tokens often enough that we never store them. */
  readonly path: string;
  readonly status: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  /** An error code from lib/errors.ts, or "". */
  readonly errorKind: string;
  readonly clientIp: string;
  /** The stage that answered or took the request over ("forward" for proxied requests). */
  readonly answeredBy: string;
  /** An upgrade request (spliced when status is 101). */
  readonly upgrade: boolean;
  /** The policy rule that decided the request ("" when none did). */
  readonly ruleId: string;
  /** What that rule did: "block", "allow" (or "" when no rule decided). */
  readonly ruleAction: string;
  /** Rate-limit rules that counted the request, comma-separated, in order. */
  readonly rateLimitRuleIds: string;
  /** The last of them denied it. */
  readonly limited: boolean;
  /** The shaper that paced it, and the bytes that waited for its buckets in each direction. */
  readonly shaperRuleId: string;
  readonly shapedBytesIn: number;
  readonly shapedBytesOut: number;
  /** What the cache did: hit, miss, stale, revalidated, bypass, expired, stored, store_failed, or "" (no cache rule). */
  readonly cacheStatus: string;
  /** Milliseconds per stage, by index into `stageNames` (a stage that did not run has no entry). */
  readonly timings: readonly number[];
  /** The pipeline's stage names; the same array for every event. */
  readonly stageNames: readonly string[];
}

/** Where the data plane hands events; it must never block or throw on the request path. */
export interface EventSink {
  record(e: RequestEvent): void;
}

export const NO_EVENTS: EventSink = { record: () => {} };
