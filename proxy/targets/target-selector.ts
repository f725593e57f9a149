// Target selection in one place (DESIGN.md §5 stage 8): the lowest priority group with an eligible
// target, then for agent targets an agent among the compiled candidates — both through the same
// Balancer interface, with health and in-flight counts keyed per (route, target, agent).
import type { Dispatcher } from "undici";
import type { PickContext } from "../balance/index.ts";
import type { AgentCandidate, CompiledRoute, CompiledTarget } from "../snapshot.ts";
import type { PassiveHealth } from "../health/passive.ts";
import type { ActiveHealth } from "../health/active.ts";
import type { AgentDialer, UpstreamPools } from "./upstream-pools.ts";

export interface Selection {
  readonly target: CompiledTarget;
  /** The agent for agent targets, else undefined. */
  readonly agent: AgentCandidate | undefined;
  /** The health / in-flight key of this choice: the agent candidate's, or the direct target's. */
  readonly key: string;
  readonly dispatcher: Dispatcher;
}

/**
 * In-flight requests and open upgraded connections per key, for least_active and for metrics.
 * Keys are precomputed strings in the snapshot, so counting costs one Map update.
 */
export class ActiveCounts {
  private readonly n = new Map<string, number>();
  get(key: string): number {
    return this.n.get(key) ?? 0;
  }
  add(key: string): void {
    this.n.set(key, (this.n.get(key) ?? 0) + 1);
  }
  done(key: string): void {
    const v = (this.n.get(key) ?? 1) - 1;
    if (v <= 0) this.n.delete(key);
    else this.n.set(key, v);
  }
}

export class TargetSelector {
  readonly active = new ActiveCounts();
  private readonly targetActive = (t: CompiledTarget): number => {
    if (t.kind === "direct") return this.active.get(t.key);
    let sum = 0;
    for (const a of t.agents) sum += this.active.get(a.key);
    return sum;
  };
  private readonly agentActive = (a: AgentCandidate): number => this.active.get(a.key);

  constructor(
    private readonly pools: UpstreamPools,
    private readonly agents: AgentDialer,
    private readonly passive: PassiveHealth,
    private readonly activeHealth: ActiveHealth,
  ) {}

  private usable(key: string, excluded: ReadonlySet<string> | undefined): boolean {
    return !(excluded !== undefined && excluded.has(key)) && !this.passive.isEjected(key) && this.activeHealth.isHealthy(key);
  }

  private agentUsable(a: AgentCandidate, excluded: ReadonlySet<string> | undefined): boolean {
    return this.agents.isOnline(a.id) && this.usable(a.key, excluded);
  }

  /**
   * One target (and agent) for `route`, or undefined when none is eligible. `hashKey` feeds
   * consistent hashing; `excluded` holds the keys that already failed for this request (the retry
   * goes to another agent of the same target, or another target).
   */
  select(route: CompiledRoute, hashKey: string | undefined, excluded?: ReadonlySet<string>): Selection | undefined {
    const eligible = (t: CompiledTarget): boolean => {
      if (t.kind === "direct") return this.usable(t.key, excluded);
      for (const a of t.agents) if (this.agentUsable(a, excluded)) return true;
      return false;
    };
    const target = route.pool.pick({ key: hashKey, eligible, active: this.targetActive });
    if (target === undefined) return undefined;
    const connectMs = route.timeouts.connectMs;
    if (target.kind === "direct") return { target, agent: undefined, key: target.key, dispatcher: this.pools.direct(target, connectMs) };
    const ctx: PickContext<AgentCandidate> = { key: hashKey, eligible: (a) => this.agentUsable(a, excluded), active: this.agentActive };
    const agent = target.agentBalancer?.pick(target.agents, ctx);
    if (agent === undefined) return undefined;
    return { target, agent, key: agent.key, dispatcher: this.pools.viaAgent(agent.id, target, connectMs) };
  }
}
