import tls from "node:tls";
import type { Duplex } from "node:stream";
import { Pool, type Dispatcher } from "undici";
import type { CompiledTarget } from "../snapshot.ts";

/** How the data plane reaches agents: the management registry, behind a narrow interface. */
export interface AgentDialer {
  isOnline(agentId: string): boolean;
  openStream(agentId: string, req: { address: string; sni?: string; requestId: string }): Promise<Duplex>;
}

const POOL_OPTIONS = {
  connections: 256,
  pipelining: 1,
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 600_000,
} as const;

/**
 * undici pools, one per direct origin (and TLS mode) and one per (agent, origin): keep-alive
 * connections are reused across requests. Agent pools connect through a tunnel stream.
 */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();
  constructor(private readonly agents: AgentDialer) {}

  direct(t: CompiledTarget, connectTimeoutMs: number): Dispatcher {
    const key = `d|${t.origin}|${t.tlsSkipVerify ? 1 : 0}|${connectTimeoutMs}`;
    let p = this.pools.get(key);
    if (!p) {
      p = new Pool(t.origin, {
        ...POOL_OPTIONS,
        connect: { timeout: connectTimeoutMs, rejectUnauthorized: !t.tlsSkipVerify, servername: t.protocol === "https:" ? t.servername : undefined },
      });
      this.pools.set(key, p);
    }
    return p;
  }

  viaAgent(agentId: string, t: CompiledTarget, requestId: () => string): Dispatcher {
    const key = `a|${agentId}|${t.origin}|${t.tlsSkipVerify ? 1 : 0}`;
    let p = this.pools.get(key);
    if (!p) {
      const agents = this.agents;
      p = new Pool(t.origin, {
        ...POOL_OPTIONS,
        // undici speaks HTTP over whatever `connect` hands it: here a tunnel stream (TLS on top for https origins).
        connect: (_opts, cb) => {
          agents.openStream(agentId, { address: t.address, sni: t.protocol === "https:" ? t.servername : undefined, requestId: requestId() }).then(
            (stream) => {
              if (t.protocol !== "https:") {
                process.nextTick(cb, null, stream as never);
                return;
              }
              const sock = tls.connect({ socket: stream, servername: t.servername, rejectUnauthorized: !t.tlsSkipVerify, ALPNProtocols: ["http/1.1"] });
              sock.once("secureConnect", () => cb(null, sock as never));
              sock.once("error", (e) => cb(e, null));
            },
            (e: Error) => process.nextTick(cb, e, null),
          );
        },
      });
      this.pools.set(key, p);
    }
    return p;
  }

  /** Drops pools to an agent (it went offline or was rotated). */
  closeAgent(agentId: string): void {
    for (const [k, p] of this.pools) {
      if (k.startsWith(`a|${agentId}|`)) {
        this.pools.delete(k);
        void p.destroy().catch(() => {});
      }
    }
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => {})));
  }
}
