import tls from "node:tls";
import type { Duplex } from "node:stream";
import { Client, Pool, type Dispatcher } from "undici";
import type { CompiledTarget, ProxySnapshot } from "../snapshot.ts";
import { ipVersion } from "../../lib/ip.ts";

/** How the data plane reaches agents: the management registry, behind a narrow interface. */
export interface AgentDialer {
  /** Connected and not going away (an agent that sent go-away gets no new streams). */
  isOnline(agentId: string): boolean;
  openStream(agentId: string, req: { address: string; sni?: string; requestId: string; dialTimeoutMs?: number }): Promise<Duplex>;
}

/** undici dispatch options plus the request a tunnel stream is opened for (the agent logs it). */
export type UpstreamDispatchOptions = Dispatcher.DispatchOptions & { readonly requestId?: string };

const POOL_OPTIONS = {
  connections: 256,
  pipelining: 1,
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 600_000,
  // Warren times the connect and response-header phases itself, to the millisecond (proxy/stages/
  // forward.ts); undici's own timers have a one-second resolution and are only a backstop here.
  headersTimeout: 0,
  bodyTimeout: 0,
} as const;

/** undici's connector waits this much longer than Warren's own connect timer (a backstop, never the answer). */
const CONNECT_BACKSTOP_MS = 1_000;

/**
 * A Client whose connection is a tunnel stream. It remembers the request id of the last dispatch, so
 * the stream it opens for that request (pipelining 1: a client connects only for the request just
 * given to it) carries that request's id, not the first one the pool ever saw.
 */
class TunnelClient extends Client {
  requestId = "";
  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const id = (opts as UpstreamDispatchOptions).requestId;
    if (id !== undefined) this.requestId = id;
    return super.dispatch(opts, handler);
  }
}

/**
 * undici pools, one per direct origin (and TLS mode) and one per (agent, origin): keep-alive
 * connections are reused across requests. Agent pools connect through a tunnel stream.
 */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();
  /** The pool of each compiled direct target, so a request costs no key string and no Map lookup. */
  private readonly byTarget = new WeakMap<CompiledTarget, Pool>();
  constructor(private readonly agents: AgentDialer) {}

  direct(t: CompiledTarget, connectTimeoutMs: number): Dispatcher {
    const cached = this.byTarget.get(t);
    if (cached !== undefined && !cached.closed && !cached.destroyed) return cached;
    const key = `d|${t.origin}|${t.tlsSkipVerify ? 1 : 0}|${connectTimeoutMs}`;
    let p = this.pools.get(key);
    if (!p) {
      p = new Pool(t.origin, {
        ...POOL_OPTIONS,
        connect: {
          timeout: connectTimeoutMs + CONNECT_BACKSTOP_MS,
          rejectUnauthorized: !t.tlsSkipVerify,
          // SNI names hosts, never IP addresses (RFC 6066 §3).
          servername: t.protocol === "https:" && ipVersion(t.servername) === 0 ? t.servername : undefined,
        },
      });
      this.pools.set(key, p);
    }
    this.byTarget.set(t, p);
    return p;
  }

  viaAgent(agentId: string, t: CompiledTarget, connectTimeoutMs: number): Dispatcher {
    const key = `a|${agentId}|${t.origin}|${t.tlsSkipVerify ? 1 : 0}|${connectTimeoutMs}`;
    let p = this.pools.get(key);
    if (!p) {
      const agents = this.agents;
      const https = t.protocol === "https:";
      p = new Pool(t.origin, {
        ...POOL_OPTIONS,
        factory: (origin, opts) => {
          const client: TunnelClient = new TunnelClient(origin, {
            ...opts,
            // undici speaks HTTP over whatever `connect` hands it: here a tunnel stream (TLS on top for https origins).
            connect: (_o, cb) => {
              const req = { address: t.address, sni: https ? t.servername : undefined, requestId: client.requestId, dialTimeoutMs: connectTimeoutMs };
              agents.openStream(agentId, req).then(
                (stream) => {
                  if (!https) {
                    process.nextTick(cb, null, stream as never);
                    return;
                  }
                  const sni = ipVersion(t.servername) === 0 ? t.servername : undefined;
                  // `host` is what the certificate is checked against (an IP SAN when the target is an address).
                  const sock = tls.connect({ socket: stream, host: t.servername, servername: sni, rejectUnauthorized: !t.tlsSkipVerify, ALPNProtocols: ["http/1.1"] });
                  sock.once("secureConnect", () => cb(null, sock as never));
                  sock.once("error", (e) => cb(e, null));
                },
                (e: Error) => process.nextTick(cb, e, null),
              );
            },
          });
          return client;
        },
      });
      this.pools.set(key, p);
    }
    return p;
  }

  /**
   * After a snapshot swap: pools no target of the new snapshot uses close gracefully (idle
   * connections at once, busy ones after their response), so a removed origin leaves nothing behind.
   */
  retain(snapshot: ProxySnapshot): void {
    const wanted = new Set<string>();
    for (const l of snapshot.listeners.values()) {
      for (const r of l.router.routes) {
        const ms = r.timeouts.connectMs;
        for (const t of r.pool.targets) {
          if (t.kind === "direct") wanted.add(`d|${t.origin}|${t.tlsSkipVerify ? 1 : 0}|${ms}`);
          else for (const a of t.agents) wanted.add(`a|${a.id}|${t.origin}|${t.tlsSkipVerify ? 1 : 0}|${ms}`);
        }
      }
    }
    for (const [k, p] of this.pools) {
      if (wanted.has(k)) continue;
      this.pools.delete(k);
      void p.close().catch(() => {});
    }
  }

  /**
   * Drops the pools to an agent. `graceful` (the agent sent go-away): idle connections close at
   * once and busy ones after their response, so the agent can exit as soon as its requests finish.
   * Otherwise (it is gone) they are destroyed.
   */
  closeAgent(agentId: string, graceful = false): void {
    for (const [k, p] of this.pools) {
      if (k.startsWith(`a|${agentId}|`)) {
        this.pools.delete(k);
        void (graceful ? p.close() : p.destroy()).catch(() => {});
      }
    }
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => {})));
  }
}
