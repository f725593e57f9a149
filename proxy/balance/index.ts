// Load balancing (DESIGN.md §5 stage 8): one file per policy, a common interface, and priority
// groups (lowest group with an eligible target wins; higher groups are failover).
import { ConsistentHashBalancer } from "./consistent-hash.ts";
import { LeastActiveBalancer } from "./least-active.ts";
import { RandomBalancer } from "./random.ts";
import { RoundRobinBalancer } from "./round-robin.ts";
import { WeightedRoundRobinBalancer } from "./weighted-round-robin.ts";
import type { Balancer, BalancePolicy, BalanceTarget, PickContext } from "./balancer.ts";

export { BALANCE_POLICIES, usable, weightOf } from "./balancer.ts";
export type { Balancer, BalancePolicy, BalanceTarget, PickContext } from "./balancer.ts";
export { ConsistentHashBalancer, hash32 } from "./consistent-hash.ts";
export { LeastActiveBalancer } from "./least-active.ts";
export { RandomBalancer } from "./random.ts";
export { RoundRobinBalancer } from "./round-robin.ts";
export { WeightedRoundRobinBalancer } from "./weighted-round-robin.ts";

export interface BalancerOptions {
  /** For `random`: a source in [0, 1). Default Math.random. */
  random?: () => number;
}

export function createBalancer<T extends BalanceTarget>(policy: BalancePolicy, opts: BalancerOptions = {}): Balancer<T> {
  switch (policy) {
    case "round_robin":
      return new RoundRobinBalancer<T>();
    case "weighted_round_robin":
      return new WeightedRoundRobinBalancer<T>();
    case "random":
      return new RandomBalancer<T>(opts.random);
    case "least_active":
      return new LeastActiveBalancer<T>();
    case "consistent_hash":
      return new ConsistentHashBalancer<T>();
  }
}

export function isBalancePolicy(s: string): s is BalancePolicy {
  return s === "round_robin" || s === "weighted_round_robin" || s === "random" || s === "least_active" || s === "consistent_hash";
}

export interface GroupedTarget extends BalanceTarget {
  /** Lower is preferred; higher groups are used only when no lower group has an eligible target. */
  readonly priorityGroup: number;
}

export interface PriorityGroup<T extends BalanceTarget> {
  readonly priority: number;
  /** In the order given (by position, then id). */
  readonly targets: readonly T[];
  /** Each group has its own state, so failing over does not disturb the primary group's rotation. */
  readonly balancer: Balancer<T>;
}

/** Splits targets into priority groups (ascending), each with a fresh balancer. Compile-time work. */
export function groupByPriority<T extends GroupedTarget>(targets: readonly T[], policy: BalancePolicy, opts: BalancerOptions = {}): PriorityGroup<T>[] {
  const byPrio = new Map<number, T[]>();
  for (const t of targets) {
    let g = byPrio.get(t.priorityGroup);
    if (!g) byPrio.set(t.priorityGroup, (g = []));
    g.push(t);
  }
  return [...byPrio.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([priority, ts]) => ({ priority, targets: Object.freeze(ts), balancer: createBalancer<T>(policy, opts) }));
}

/**
 * The pick of the lowest group that has an eligible (and not excluded) target; undefined when no
 * group has one (→ 503 no_healthy_target). Relies on every balancer returning undefined only when
 * its group has no usable candidate.
 */
export function pickFromGroups<T extends BalanceTarget>(groups: readonly PriorityGroup<T>[], ctx?: PickContext<T>): T | undefined {
  for (const g of groups) {
    const t = g.balancer.pick(g.targets, ctx);
    if (t !== undefined) return t;
  }
  return undefined;
}

/** A route's targets compiled once per snapshot: priority groups plus their balancers. */
export class TargetPool<T extends GroupedTarget> {
  readonly groups: readonly PriorityGroup<T>[];
  constructor(
    readonly targets: readonly T[],
    readonly policy: BalancePolicy,
    opts: BalancerOptions = {},
  ) {
    this.groups = groupByPriority(targets, policy, opts);
  }

  pick(ctx?: PickContext<T>): T | undefined {
    return pickFromGroups(this.groups, ctx);
  }
}
