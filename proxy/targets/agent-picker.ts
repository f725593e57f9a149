import type { AgentInfo, CompiledTarget, ProxySnapshot } from "../snapshot.ts";
import type { AgentDialer } from "./upstream-pools.ts";

function matches(agent: AgentInfo, selector: CompiledTarget["agentSelector"]): boolean {
  if (!agent.enabled) return false;
  for (const [k, v] of selector) if (agent.labels[k] !== v) return false;
  return true;
}

/** Chooses among the enabled, online agents whose labels match an agent target's selector (round robin). */
export class AgentPicker {
  private readonly cursors = new Map<string, number>();
  constructor(private readonly agents: AgentDialer) {}

  private candidates(snapshot: ProxySnapshot, t: CompiledTarget, exclude: string | undefined): AgentInfo[] {
    return snapshot.agents.filter((a) => a.id !== exclude && matches(a, t.agentSelector) && this.agents.isOnline(a.id));
  }

  hasCandidate(snapshot: ProxySnapshot, t: CompiledTarget, exclude: string | undefined): boolean {
    return snapshot.agents.some((a) => a.id !== exclude && matches(a, t.agentSelector) && this.agents.isOnline(a.id));
  }

  pick(snapshot: ProxySnapshot, t: CompiledTarget, exclude: string | undefined): string | undefined {
    const c = this.candidates(snapshot, t, exclude);
    if (c.length === 0) return undefined;
    const n = this.cursors.get(t.id) ?? 0;
    this.cursors.set(t.id, n + 1);
    return c[n % c.length]!.id;
  }
}
