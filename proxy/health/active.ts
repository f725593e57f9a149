import type { Logger } from "pino";
import type { ActiveCheck, CompiledRoute, CompiledTarget, ProxySnapshot } from "../snapshot.ts";
import type { AgentDialer, UpstreamPools } from "../targets/upstream-pools.ts";

interface Probe {
  readonly fingerprint: string;
  readonly timer: NodeJS.Timeout;
  healthy: boolean;
  ok: number;
  fail: number;
}

/**
 * Active health checks: each (route, target) — and for agent targets each (route, target, agent),
 * probed through that agent — is requested every interval; `unhealthyThreshold` failures in a row
 * take it out of rotation, `healthyThreshold` successes bring it back. Targets start healthy.
 * State is keyed by the snapshot's CompiledTarget.key / AgentCandidate.key plus the check's
 * fingerprint, so an edit resets only what changed.
 */
export class ActiveHealth {
  private readonly probes = new Map<string, Probe>();

  constructor(
    private readonly pools: UpstreamPools,
    private readonly agents: AgentDialer,
    private readonly log: Logger,
  ) {}

  /** `key`: CompiledTarget.key for direct targets, AgentCandidate.key for an agent of an agent target. */
  isHealthy(key: string): boolean {
    if (this.probes.size === 0) return true;
    return this.probes.get(key)?.healthy ?? true;
  }

  apply(snapshot: ProxySnapshot): void {
    const wanted = new Map<string, { route: CompiledRoute; check: ActiveCheck; target: CompiledTarget; agentId: string }>();
    for (const l of snapshot.listeners.values()) {
      if (!l.enabled) continue;
      for (const route of l.router.routes) {
        const check = route.activeCheck;
        if (!check) continue;
        for (const target of route.pool.targets) {
          if (target.kind === "direct") wanted.set(target.key, { route, check, target, agentId: "" });
          else for (const a of target.agents) wanted.set(a.key, { route, check, target, agentId: a.id });
        }
      }
    }
    for (const [key, p] of this.probes) {
      const w = wanted.get(key);
      if (!w || w.check.fingerprint !== p.fingerprint) {
        clearInterval(p.timer);
        this.probes.delete(key);
      }
    }
    for (const [key, w] of wanted) {
      if (this.probes.has(key)) continue;
      const probe: Probe = { fingerprint: w.check.fingerprint, healthy: true, ok: 0, fail: 0, timer: setInterval(() => void this.run(key, probe, w), w.check.intervalMs) };
      probe.timer.unref();
      this.probes.set(key, probe);
      void this.run(key, probe, w);
    }
  }

  private async run(key: string, probe: Probe, w: { route: CompiledRoute; check: ActiveCheck; target: CompiledTarget; agentId: string }): Promise<void> {
    const { check, target, agentId } = w;
    // An offline agent is already out of rotation; probing it would only count as failures.
    if (agentId && !this.agents.isOnline(agentId)) return;
    let ok = false;
    let detail = "";
    try {
      // The route's pools (its connect timeout); the probe as a whole is bounded by the check's timeout below.
      const connectMs = w.route.timeouts.connectMs;
      const dispatcher = agentId ? this.pools.viaAgent(agentId, target, connectMs) : this.pools.direct(target, connectMs);
      const res = await dispatcher.request({
        method: check.method as "GET",
        path: `${target.basePath}${check.path}`,
        headers: { host: target.hostHeader, "user-agent": "warren-health-check" },
        headersTimeout: check.timeoutMs,
        bodyTimeout: check.timeoutMs,
        signal: AbortSignal.timeout(check.timeoutMs),
      });
      await res.body.dump();
      ok = check.expectedStatuses.length > 0 ? check.expectedStatuses.includes(res.statusCode) : res.statusCode >= 200 && res.statusCode < 400;
      detail = `status ${res.statusCode}`;
    } catch (e) {
      detail = (e as Error).message;
    }
    if (this.probes.get(key) !== probe) return;
    if (ok) {
      probe.fail = 0;
      probe.ok++;
      if (!probe.healthy && probe.ok >= check.healthyThreshold) {
        probe.healthy = true;
        this.log.info({ routeId: w.route.id, targetId: target.id, agentId: agentId || undefined }, "target healthy again");
      }
    } else {
      probe.ok = 0;
      probe.fail++;
      if (probe.healthy && probe.fail >= check.unhealthyThreshold) {
        probe.healthy = false;
        this.log.warn({ routeId: w.route.id, targetId: target.id, agentId: agentId || undefined, detail }, "target unhealthy");
      }
    }
  }

  close(): void {
    for (const p of this.probes.values()) clearInterval(p.timer);
    this.probes.clear();
  }
}
