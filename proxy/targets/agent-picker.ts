import type { AgentInfo, CompiledTarget, ProxySnapshot } from "../snapshot.ts";
import type { AgentDialer } from "./upstream-pools.ts";

export function agentMatches(agent: AgentInfo, selector: CompiledTarget["agentSelector"]): boolean {
  if (!agent.enabled) return false;
  for (const [k, v] of selector) if (agent.labels[k] !== v) return false;
  return true;
}

/** Chooses among the enabled, online agents whose labels match an agent target's selector (round robin). */
export class AgentPicker {
  private readonly cursors = new Map<string, number>();
  constructor(private readonly agents: AgentDialer) {}

  private usable(a: AgentInfo, t: CompiledTarget, exclude: string | undefined, healthy: (agentId: string) => boolean): boolean {
    return a.id !== exclude && agentMatches(a, t.agentSelector) && this.agents.isOnline(a.id) && healthy(a.id);
  }

  hasCandidate(snapshot: ProxySnapshot, t: CompiledTarget, exclude: string | undefined, healthy: (agentId: string) => boolean): boolean {
    return snapshot.agents.some((a) => this.usable(a, t, exclude, healthy));
  }

  pick(snapshot: ProxySnapshot, t: CompiledTarget, exclude: string | undefined, healthy: (agentId: string) => boolean): string | undefined {
    const c = snapshot.agents.filter((a) => this.usable(a, t, exclude, healthy));
    if (c.length === 0) return undefined;
    const n = this.cursors.get(t.id) ?? 0;
    this.cursors.set(t.id, n + 1);
    return c[n % c.length]!.id;
  }
}
