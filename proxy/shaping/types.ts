// Traffic shaping (DESIGN.md §5 stage 6): the compiled shaper rule the snapshot carries, and what
// the shaping stage hands the body transforms and response decorators for one request.
import type { ScopeMatcher } from "../policy/match.ts";
import type { CompiledWhen } from "../policy/cel.ts";
import type { CelRequest } from "../policy/cel-request.ts";

export interface ShaperSpec {
  /** per_key: requests with the same key share the buckets; per_request: fresh buckets each request. */
  readonly budget: "per_key" | "per_request";
  /** Request body bytes per second; 0 = not shaped. */
  readonly uploadBytesPerSecond: number;
  /** Response body bytes per second; 0 = not shaped. */
  readonly downloadBytesPerSecond: number;
  /** Bucket capacity in bytes; 0 = one second of the rate. */
  readonly burstBytes: number;
  /** The first bytes of each request body / response body pass unshaped. */
  readonly requestExemptBytes: number;
  readonly responseExemptBytes: number;
}

export interface CompiledShaperRule {
  readonly id: string;
  readonly name: string;
  /** Changes with the spec: per-key buckets are keyed on it, so an edit starts them afresh. */
  readonly fingerprint: string;
  readonly scope: ScopeMatcher;
  readonly when: CompiledWhen | undefined;
  readonly key: (req: CelRequest) => string;
  readonly spec: ShaperSpec;
}

/**
 * A byte token bucket, possibly shared by every request with the same key. `take` removes n bytes
 * and says how long to wait before sending them (0 = now); the bucket may go into debt, so a chunk
 * larger than the capacity still passes and the average rate stays exact.
 */
export interface ByteBucket {
  take(n: number, now: number): number;
  /** True when the bucket holds its whole capacity at `now`: a fresh one would behave the same. */
  full(now: number): boolean;
}

/** Set on the context by the shaping stage when a shaper applies. */
export interface ShapingState {
  readonly rule: CompiledShaperRule;
  /** undefined when that direction is not shaped. */
  readonly upload: ByteBucket | undefined;
  readonly download: ByteBucket | undefined;
  /** Bytes that waited for tokens, per direction (the request event reports them). */
  shapedBytesIn: number;
  shapedBytesOut: number;
  /** Bytes that passed unshaped under the rule's exempt allowances, per direction. */
  exemptBytesIn: number;
  exemptBytesOut: number;
}
