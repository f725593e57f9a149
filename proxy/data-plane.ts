import type { Logger } from "pino";
import { EMPTY_SNAPSHOT, type ProxySnapshot } from "./snapshot.ts";
import { ListenerManager, type ListenerStatus } from "./listeners.ts";
import { Pipeline } from "./pipeline.ts";
import { PassiveHealth } from "./health.ts";
import { ActiveHealth } from "./health-checks.ts";
import { UpstreamPools, type AgentDialer } from "./targets/upstream-pools.ts";
import type { TrustedProxies } from "./client-ip.ts";
import type { EventSink } from "./observe/request-event.ts";

export interface DataPlaneOptions {
  readonly agents: AgentDialer;
  readonly trusted: TrustedProxies;
  readonly selfSigned: (listenerName: string) => Promise<{ cert: string; key: string }>;
  readonly events: EventSink;
  readonly log: Logger;
}

/** The public side: holds the current snapshot, the listeners and the request pipeline. */
export class DataPlane {
  private current: ProxySnapshot = EMPTY_SNAPSHOT;
  private readonly listeners: ListenerManager;
  readonly pools: UpstreamPools;
  private readonly active: ActiveHealth;

  constructor(o: DataPlaneOptions) {
    this.pools = new UpstreamPools(o.agents);
    this.active = new ActiveHealth(this.pools, o.agents, o.log);
    const pipeline = new Pipeline({ snapshot: () => this.current, pools: this.pools, agents: o.agents, trusted: o.trusted, health: new PassiveHealth(), active: this.active, events: o.events, log: o.log });
    this.listeners = new ListenerManager(
      (id, proto, peer, req, res) => pipeline.handle(id, proto, peer, req, res),
      (id, proto, peer, req, socket, head) => pipeline.handleUpgrade(id, proto, peer, req, socket, head),
      o.selfSigned,
      o.log,
    );
  }

  get snapshot(): ProxySnapshot {
    return this.current;
  }

  /** Swaps the snapshot atomically, then reconciles listeners to it. */
  apply(next: ProxySnapshot): Promise<void> {
    this.current = next;
    this.active.apply(next);
    return this.listeners.apply(next);
  }

  listenerStatus(id: string): ListenerStatus | undefined {
    return this.listeners.status(id);
  }

  async close(): Promise<void> {
    this.active.close();
    await this.listeners.close();
    await this.pools.close();
  }
}
