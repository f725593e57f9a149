// What every load-balancing policy implements. A balancer instance is created per compiled route
// (per priority group, or per agent target) and replaced with the snapshot, so an edit to the
// target set starts its cursors and weights from zero.

export type BalancePolicy = "round_robin" | "weighted_round_robin" | "random" | "least_active" | "consistent_hash";

export const BALANCE_POLICIES: readonly BalancePolicy[] = Object.freeze([
  "round_robin",
  "weighted_round_robin",
  "random",
  "least_active",
  "consistent_hash",
]);

export interface BalanceTarget {
  /** Stable across snapshots for the same target or agent; balancer state is keyed by it. */
  readonly id: string;
  /** ≥ 1 (the API validates); anything else counts as 1. Ignored by round_robin. */
  readonly weight: number;
}

export interface PickContext<T> {
  /** Health / online filter; undefined = every candidate is eligible. */
  readonly eligible?: ((t: T) => boolean) | undefined;
  /** Id of a target to skip: the one that just failed, so the single retry goes elsewhere. */
  readonly exclude?: string | undefined;
  /** consistent_hash key (client IP, a header or a cookie value); without one it falls back to round robin. */
  readonly key?: string | undefined;
  /** In-flight requests (and open upgraded connections) per candidate, for least_active; undefined = 0 for all. */
  readonly active?: ((t: T) => number) | undefined;
}

export interface Balancer<T extends BalanceTarget> {
  readonly policy: BalancePolicy;
  /**
   * One candidate among `candidates` that is eligible and not excluded, or undefined when there is
   * none (never an ineligible one). The list may differ between calls (agents come and go); keep
   * its order stable (by position, then id) for predictable rotation.
   */
  pick(candidates: readonly T[], ctx?: PickContext<T>): T | undefined;
}

export function usable<T extends BalanceTarget>(t: T, ctx: PickContext<T> | undefined): boolean {
  if (ctx === undefined) return true;
  if (ctx.exclude !== undefined && t.id === ctx.exclude) return false;
  return ctx.eligible === undefined || ctx.eligible(t);
}

export function weightOf(t: BalanceTarget): number {
  const w = t.weight;
  return w >= 1 && Number.isFinite(w) ? w : 1;
}
