/**
 * Passive health: a (route, target) — or (route, target, agent) for agent targets — whose connection
 * failed or timed out is skipped for a cooldown. Keys are the snapshot's precomputed
 * CompiledTarget.key / AgentCandidate.key, so one agent failing never ejects a target that another
 * agent still serves, and an edited route starts clean for new ids.
 */
export class PassiveHealth {
  private readonly until = new Map<string, number>();
  constructor(private readonly now: () => number = Date.now) {}

  eject(key: string, cooldownMs: number): void {
    this.until.set(key, this.now() + cooldownMs);
  }

  isEjected(key: string): boolean {
    if (this.until.size === 0) return false;
    const t = this.until.get(key);
    if (t === undefined) return false;
    if (t <= this.now()) {
      this.until.delete(key);
      return false;
    }
    return true;
  }
}
