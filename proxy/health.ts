/**
 * Passive health: a target whose connection failed or timed out is skipped for a cooldown.
 * Keyed by route and target id, so an edited route starts clean for new ids.
 */
export class PassiveHealth {
  private readonly until = new Map<string, number>();
  constructor(private readonly now: () => number = Date.now) {}

  eject(routeId: string, targetId: string, cooldownMs: number): void {
    this.until.set(`${routeId}|${targetId}`, this.now() + cooldownMs);
  }

  isEjected(routeId: string, targetId: string): boolean {
    if (this.until.size === 0) return false;
    const k = `${routeId}|${targetId}`;
    const t = this.until.get(k);
    if (t === undefined) return false;
    if (t <= this.now()) {
      this.until.delete(k);
      return false;
    }
    return true;
  }
}
