import { usable, type Balancer, type BalanceTarget, type PickContext } from "./balancer.ts";

/** Each eligible candidate in turn; ineligible ones are skipped without losing the rotation. */
export class RoundRobinBalancer<T extends BalanceTarget> implements Balancer<T> {
  readonly policy = "round_robin" as const;
  private next = 0;

  pick(candidates: readonly T[], ctx?: PickContext<T>): T | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    const start = this.next % n;
    for (let k = 0; k < n; k++) {
      const i = start + k < n ? start + k : start + k - n;
      const t = candidates[i]!;
      if (usable(t, ctx)) {
        this.next = i + 1;
        return t;
      }
    }
    return undefined;
  }
}
