import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { YamuxError, YamuxSession, type YamuxStream } from "../../tunnel/yamux/index.ts";
import { TunnelProtocolError, readMessages } from "../../tunnel/messages.ts";
import { protoCodec } from "../../tunnel/proto-codec.ts";
import { TunnelError } from "../../tunnel/errors.ts";
import { KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS } from "../../tunnel/keepalive.ts";
import { requestOpen, type OpenRequest } from "../../tunnel/open-stream.ts";
import { ControlMessageSchema, type AgentStats } from "../../proto/gen/warren/v1/tunnel_pb.ts";

const CONTROL_MESSAGE = protoCodec(ControlMessageSchema);

/** The agent dials with its default 5 s timeout unless told otherwise. */
const DEFAULT_DIAL_MS = 5_000;
/** On top of the dial time: the OpenStream/OpenResult round trip through the tunnel. */
const OPEN_RESULT_SLACK_MS = 2_000;
const PERSIST_SEEN_EVERY_MS = 60_000;

export interface ConnectionInfo {
  readonly remoteAddress: string;
  readonly mtls: boolean;
  readonly certificateNotAfter: number | undefined;
}

/** The counters an agent reports about itself (AgentStats), as last received, with when. */
export interface ReportedStats {
  readonly activeStreams: number;
  readonly streamsTotal: number;
  readonly dialFailures: number;
  readonly bytesFromOrigins: number;
  readonly bytesToOrigins: number;
  readonly reportedAt: number;
}

export interface LiveAgentStatus extends ConnectionInfo {
  readonly connectedAt: number;
  readonly lastSeenAt: number;
  readonly version: string;
  readonly hostname: string;
  readonly activeStreams: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Undefined until the agent's first stats message on this connection. */
  readonly reported: ReportedStats | undefined;
}

const MAX_REPORTED = BigInt(Number.MAX_SAFE_INTEGER);

/** The remote agent chooses these numbers: keep only the latest, each capped so it stays an exact number. */
function reportedStats(m: AgentStats, at: number): ReportedStats {
  const cap = (v: bigint) => Number(v > MAX_REPORTED ? MAX_REPORTED : v);
  return {
    activeStreams: cap(m.activeStreams),
    streamsTotal: cap(m.streamsTotal),
    dialFailures: cap(m.dialFailures),
    bytesFromOrigins: cap(m.bytesFromOrigins),
    bytesToOrigins: cap(m.bytesToOrigins),
    reportedAt: at,
  };
}

export type OpenStreamRequest = OpenRequest;

interface LiveAgent {
  readonly agentId: string;
  readonly session: YamuxSession;
  readonly info: ConnectionInfo;
  readonly connectedAt: number;
  lastSeenAt: number;
  lastPersistedAt: number;
  version: string;
  hostname: string;
  activeStreams: number;
  /** The agent sent go-away (it is shutting down): no new streams, in-flight ones finish. */
  draining: boolean;
  reported: ReportedStats | undefined;
}

export interface SeenRecorder {
  recordSeen(agentId: string, at: number, remote: string, version: string, hostname: string): void;
}

export interface AgentRegistryEvents {
  online: [agentId: string];
  offline: [agentId: string];
  /** The agent sent go-away: the data plane opens no new streams and lets idle ones go. */
  draining: [agentId: string];
}

/**
 * The live tunnel sessions of this gateway, by agent id. The data plane opens streams through it;
 * management asks it who is online and closes sessions on rotate/disable.
 */
export class AgentRegistry extends EventEmitter<AgentRegistryEvents> {
  private readonly live = new Map<string, LiveAgent>();

  constructor(
    private readonly log: Logger,
    private readonly seen: SeenRecorder,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  /** Has a tunnel session, draining or not. */
  isConnected(agentId: string): boolean {
    return this.live.has(agentId);
  }

  /** Connected and accepting new streams (an agent that sent go-away is not). */
  isOnline(agentId: string): boolean {
    const a = this.live.get(agentId);
    return a !== undefined && !a.draining;
  }

  onlineIds(): string[] {
    return [...this.live.keys()];
  }

  status(agentId: string): LiveAgentStatus | undefined {
    const a = this.live.get(agentId);
    if (!a) return undefined;
    return {
      ...a.info,
      connectedAt: a.connectedAt,
      lastSeenAt: a.lastSeenAt,
      version: a.version,
      hostname: a.hostname,
      activeStreams: a.activeStreams,
      bytesIn: a.session.bytesIn,
      bytesOut: a.session.bytesOut,
      reported: a.reported,
    };
  }

  /**
   * Whether a second connection for this agent must be refused (409): true while the current
   * session answers a ping within `withinMs`; otherwise the stale session is closed and false.
   */
  async holdsLiveSession(agentId: string, withinMs: number): Promise<boolean> {
    const a = this.live.get(agentId);
    if (!a) return false;
    try {
      await a.session.ping(withinMs);
      return true;
    } catch {
      this.log.info({ agentId }, "replacing a tunnel session that missed its ping");
      this.disconnect(agentId, "replaced by a new connection");
      return false;
    }
  }

  /** Takes over an upgraded socket: Yamux server side, control stream, bookkeeping. */
  attach(agentId: string, socket: Duplex, info: ConnectionInfo): void {
    this.disconnect(agentId, "replaced by a new connection");
    const session = new YamuxSession(socket, { role: "server", keepAliveIntervalMs: KEEPALIVE_INTERVAL_MS, keepAliveTimeoutMs: KEEPALIVE_TIMEOUT_MS });
    const now = this.now();
    const a: LiveAgent = {
      agentId,
      session,
      info,
      connectedAt: now,
      lastSeenAt: now,
      lastPersistedAt: 0,
      version: "",
      hostname: "",
      activeStreams: 0,
      draining: false,
      reported: undefined,
    };
    this.live.set(agentId, a);
    let controlSeen = false;
    session.on("stream", (stream: YamuxStream) => {
      // The agent opens exactly one stream, the control stream; data streams are opened by us. A second
      // one (or the control stream's id reused) is a hostile or broken agent: end the session.
      if (controlSeen) {
        stream.on("error", () => {});
        session.close(new YamuxError("yamux_protocol_error", `agent opened a second stream (${stream.id})`));
        return;
      }
      controlSeen = true;
      void this.readControl(a, stream);
    });
    session.once("goaway", () => {
      a.draining = true;
      this.log.info({ agentId }, "agent is going away: no new streams");
      this.emit("draining", agentId);
    });
    session.once("close", (err?: Error) => {
      if (this.live.get(agentId) === a) this.live.delete(agentId);
      this.persistSeen(a, this.now());
      this.log.info({ agentId, reason: err?.message }, "agent offline");
      this.emit("offline", agentId);
    });
    this.persistSeen(a, now);
    this.log.info({ agentId, remoteAddress: info.remoteAddress, mtls: info.mtls }, "agent online");
    this.emit("online", agentId);
  }

  private async readControl(a: LiveAgent, stream: YamuxStream): Promise<void> {
    stream.on("error", () => {});
    try {
      for await (const m of readMessages(stream, CONTROL_MESSAGE)) {
        const now = this.now();
        a.lastSeenAt = now;
        if (m.msg.case === "hello") {
          a.version = m.msg.value.version.slice(0, 64);
          a.hostname = m.msg.value.hostname.slice(0, 255);
          this.persistSeen(a, now);
          continue;
        }
        if (m.msg.case === "stats") a.reported = reportedStats(m.msg.value, now);
        if (now - a.lastPersistedAt >= PERSIST_SEEN_EVERY_MS) this.persistSeen(a, now);
      }
    } catch (e) {
      if (a.session.isClosed) return;
      this.log.warn({ agentId: a.agentId, err: (e as Error).message }, "bad control stream; closing the tunnel");
      // A malformed message is a protocol violation (go-away with the protocol-error code); a reset
      // control stream just ends the session.
      a.session.close(e instanceof TunnelProtocolError ? new YamuxError("yamux_protocol_error", `control stream: ${e.message}`) : undefined);
    }
  }

  private persistSeen(a: LiveAgent, now: number): void {
    a.lastPersistedAt = now;
    try {
      this.seen.recordSeen(a.agentId, now, a.info.remoteAddress, a.version, a.hostname);
    } catch (e) {
      // The agent may have been deleted meanwhile; bookkeeping must never break the tunnel.
      this.log.debug({ agentId: a.agentId, err: (e as Error).message }, "could not record agent last-seen");
    }
  }

  disconnect(agentId: string, reason: string): boolean {
    const a = this.live.get(agentId);
    if (!a) return false;
    this.live.delete(agentId);
    this.log.info({ agentId, reason }, "closing agent tunnel");
    a.session.close(new Error(reason));
    return true;
  }

  /**
   * Opens a TCP connection through an agent: sends OpenStream, waits for OpenResult, and returns
   * the stream carrying raw bytes. Fails with a TunnelError whose code the data plane maps to 502/504.
   */
  async openStream(agentId: string, req: OpenStreamRequest): Promise<YamuxStream> {
    const a = this.live.get(agentId);
    if (!a || a.session.isClosed) throw new TunnelError("agent_disconnected", `agent ${agentId} is not connected`);
    let stream: YamuxStream;
    try {
      stream = a.session.openStream();
    } catch (e) {
      throw new TunnelError("agent_disconnected", `agent ${agentId} refused a new stream`, { cause: e });
    }
    const timeoutMs = (req.dialTimeoutMs || DEFAULT_DIAL_MS) + OPEN_RESULT_SLACK_MS;
    try {
      await requestOpen(stream, req, timeoutMs, () => a.session.isClosed);
    } catch (e) {
      stream.destroy();
      if (e instanceof TunnelProtocolError) {
        this.log.warn({ agentId, err: e.message }, "malformed OpenResult; closing the tunnel");
        a.session.close(new YamuxError("yamux_protocol_error", `OpenResult: ${e.message}`));
        throw new TunnelError("agent_disconnected", `agent ${agentId} broke the tunnel protocol`, { cause: e });
      }
      throw e;
    }
    a.activeStreams++;
    let counted = true;
    const release = () => {
      if (counted) {
        counted = false;
        a.activeStreams--;
      }
    };
    stream.once("close", release);
    return stream;
  }

  /** Closes every session (shutdown). */
  closeAll(reason: string): void {
    for (const id of [...this.live.keys()]) this.disconnect(id, reason);
  }
}
