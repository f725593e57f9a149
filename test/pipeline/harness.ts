import { X509Certificate, randomBytes } from "node:crypto";
// The in-process harness for data-plane tests (DESIGN.md §8): the real DataPlane with a snapshot
// compiled from plain objects by the real compiler, real node:http origins on port 0, real sockets,
// and in-process agents — a real AgentRegistry and Yamux session over a loopback TCP connection,
// with the real agent stream relay on the other end. Stage and HTTP-semantics tests run in
// milliseconds instead of starting child processes.
import net from "node:net";
import type { Duplex } from "node:stream";
import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import pino from "pino";
import { DataPlane, parseTrustedProxies, type CompiledRateLimitRule, type ProxySnapshot, type RateLimitStore, type RequestEvent } from "../../proxy/index.ts";
import { MemoryStore } from "../../proxy/policy/rate-limit/index.ts";
import { compileSnapshot } from "../../management/config/compile-snapshot.ts";
import { validateRoute } from "../../management/config/validate-route.ts";
import { RouteSpecSchema } from "../../proto/gen/warren/v1/proxy_pb.ts";
import { ControlMessageSchema, OpenStreamSchema } from "../../proto/gen/warren/v1/tunnel_pb.ts";
import type { AgentRow, ListenerRow, RouteRow, TlsCertificateRow } from "../../management/store/index.ts";
import { compileCertificateStores } from "../../management/config/compile-tls.ts";
import { AgentRegistry } from "../../management/agents/registry.ts";
import { YamuxSession, type YamuxStream } from "../../tunnel/yamux/index.ts";
import { encodeMessage } from "../../tunnel/messages.ts";
import { protoCodec } from "../../tunnel/proto-codec.ts";
import { RelayCounters, relayStream, type Connect } from "../../agent/stream-relay.ts";
import { TargetPolicy, type PolicyResult } from "../../agent/allowlist.ts";
import type { CompiledShaperRule } from "../../proxy/shaping/types.ts";
import type { CompiledCacheRule, CacheStore } from "../../proxy/cache/types.ts";
import type { CacheTuning } from "../../proxy/cache/service.ts";
import { DEFAULT_LISTENER_TIMEOUTS, type ConnectionLimits } from "../../proxy/listeners.ts";

export const silent = pino({ level: "silent" });

/** A pino logger that keeps every line, for tests that assert what is logged. */
export function capturingLogger(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

export type RouteInit = MessageInitShape<typeof RouteSpecSchema> & { id?: string };

/** A stored certificate of an HTTPS listener (what TlsService keeps), served by SNI. */
export interface CertificateInit {
  id?: string;
  names: string[];
  certPem: string;
  keyPem: string;
  notAfter?: number;
}

export interface ListenerInit {
  id?: string;
  protocol?: "http" | "https";
  /** HTTPS: the default certificate (else the harness's fallback), the minimum version and stored certificates. */
  tls?: { defaultCertificate?: { cert: string; key: string }; minVersion?: "1.2" | "1.3"; certificates?: CertificateInit[] };
  acceptProxyProtocol?: boolean;
  /** HTTPS: offer HTTP/2 (ALPN h2) besides HTTP/1.1. */
  http2?: boolean;
  routes: RouteInit[];
}

export interface HarnessOptions {
  listeners: ListenerInit[];
  agents?: { id: string; labels?: Record<string, string>; enabled?: boolean }[];
  trustedProxies?: string;
  headersTimeoutMs?: number;
  /** Idle keep-alive timeout of the listeners (default 30 s). */
  keepAliveMs?: number;
  /** Connection caps per listener and per client IP (default 10,000 and 256). */
  connectionLimits?: ConnectionLimits;
  log?: pino.Logger;
  /** Compiled shapers put into the snapshot as they are (enabled, in priority order). */
  shapers?: CompiledShaperRule[];
  /** Compiled rate-limit rules put into the snapshot as they are, and the store they count in (default: memory). */
  rateLimitRules?: CompiledRateLimitRule[];
  rateLimits?: RateLimitStore;
  /** Compiled cache rules put into the snapshot as they are (enabled, in priority order). */
  cacheRules?: CompiledCacheRule[];
  /** The cache's store (default: the data plane's own memory tier) and its coalescing bounds / clock. */
  cache?: CacheStore;
  cacheTuning?: Partial<CacheTuning>;
  /** What HTTPS listeners without a default certificate serve. */
  fallbackCertificate?: () => Promise<{ cert: string; key: string }>;
}

let seq = 0;

function listenerRow(l: ListenerInit, id: string): ListenerRow {
  return {
    id,
    name: id,
    bind_address: "127.0.0.1",
    port: 0,
    protocol: l.protocol ?? "http",
    enabled: 1,
    accept_proxy_protocol: l.acceptProxyProtocol ? 1 : 0,
    tls_cert_pem: l.tls?.defaultCertificate?.cert ?? "",
    tls_key_pem: l.tls?.defaultCertificate?.key ?? "",
    tls_min_version: l.tls?.minVersion ?? "1.2",
    http2: l.http2 ? 1 : 0,
    created_at: 0,
    updated_at: 0,
  };
}

let certSeq = 0;

function certificateRow(c: CertificateInit, listenerId: string): TlsCertificateRow {
  return {
    id: c.id ?? `crt_${++certSeq}`,
    listener_id: listenerId,
    source: "upload",
    names: JSON.stringify(c.names),
    cert_pem: c.certPem,
    key_pem: c.keyPem,
    cert_file: "",
    key_file: "",
    acme_account_id: null,
    challenge: "",
    dns_credential_id: null,
    status: "ready",
    last_error: "",
    failures: 0,
    not_before: Date.parse(new X509Certificate(c.certPem).validFrom),
    not_after: c.notAfter ?? Date.parse(new X509Certificate(c.certPem).validTo),
    next_renewal_at: 0,
    created_at: 0,
    updated_at: 0,
  };
}

function agentRow(a: { id: string; labels?: Record<string, string>; enabled?: boolean }): AgentRow {
  return {
    id: a.id,
    name: a.id,
    labels: JSON.stringify(a.labels ?? {}),
    enabled: a.enabled === false ? 0 : 1,
    require_mtls: 0,
    token_hash: "",
    created_at: 0,
    updated_at: 0,
    last_seen_at: null,
    last_remote_addr: "",
    reported_version: "",
    reported_hostname: "",
  };
}

/** Compiles plain listener/route/agent objects through the real validator and compiler. */
export function buildSnapshot(o: HarnessOptions, version = 1): { snapshot: ProxySnapshot; listenerIds: string[] } {
  const listenerIds: string[] = [];
  const listeners: ListenerRow[] = [];
  const routes: { row: RouteRow; spec: ReturnType<typeof create<typeof RouteSpecSchema>> }[] = [];
  const certificates: TlsCertificateRow[] = [];
  for (const l of o.listeners) {
    const id = l.id ?? `lst_${++seq}`;
    listenerIds.push(id);
    listeners.push(listenerRow(l, id));
    for (const c of l.tls?.certificates ?? []) certificates.push(certificateRow(c, id));
    l.routes.forEach((r, i) => {
      const { id: routeId, ...init } = r;
      const spec = create(RouteSpecSchema, { listenerId: id, name: `r${i}`, pathPrefix: "/", ...init });
      spec.targets.forEach((t, j) => {
        if (t.id === "") t.id = `tgt_${i}_${j}`;
      });
      // Stable target ids (tests name them); passed as "previous" so the validator accepts them.
      validateRoute(spec, create(RouteSpecSchema, spec));
      routes.push({ row: { id: routeId ?? `rt_${id}_${i}`, listener_id: id, spec: "" } as RouteRow, spec });
    });
  }
  return { snapshot: compileSnapshot(version, listeners, routes, (o.agents ?? []).map(agentRow), { waf: [], rateLimits: o.rateLimitRules ?? [], shapers: o.shapers ?? [], cacheRules: o.cacheRules ?? [] }, randomBytes(32), compileCertificateStores(certificates)), listenerIds };
}

export interface InProcessAgent {
  readonly id: string;
  readonly session: YamuxSession;
  readonly counters: RelayCounters;
  /** What the agent saw in each OpenStream. */
  readonly opens: { address: string; requestId: string; dialTimeoutMs: number }[];
  /** Go-away from the agent side (what SIGTERM does), then close once `drained`. */
  goAway(): void;
  /** The agent's connection dies (no go-away). */
  kill(): void;
}

export interface AgentOptions {
  /** Agent-side dial seam (the real relay, with a socket factory of the test's choosing). */
  connect?: Connect;
  /** Agent-side allowlist decision; default: everything. */
  check?: (address: string) => Promise<PolicyResult>;
}

export class Harness {
  readonly events: RequestEvent[] = [];
  readonly registry: AgentRegistry;
  readonly plane: DataPlane;
  private readonly agentsLive: InProcessAgent[] = [];
  private version = 1;
  listenerIds: string[] = [];
  private eventWaiters: { n: number; resolve: () => void }[] = [];

  private constructor(private opts: HarnessOptions) {
    const log = opts.log ?? silent;
    this.registry = new AgentRegistry(log, { recordSeen: () => {} });
    this.plane = new DataPlane({
      agents: this.registry,
      trusted: parseTrustedProxies(opts.trustedProxies ?? ""),
      rateLimits: opts.rateLimits ?? new MemoryStore(),
      fallbackCertificate: opts.fallbackCertificate ?? (() => Promise.reject(new Error("an HTTPS listener without a default certificate needs HarnessOptions.fallbackCertificate"))),
      events: {
        record: (e) => {
          this.events.push(e);
          this.eventWaiters = this.eventWaiters.filter((w) => (this.events.length >= w.n ? (w.resolve(), false) : true));
        },
      },
      log,
      ...(opts.cache !== undefined ? { cache: opts.cache } : {}),
      ...(opts.cacheTuning !== undefined ? { cacheTuning: opts.cacheTuning } : {}),
      ...(opts.headersTimeoutMs !== undefined || opts.keepAliveMs !== undefined
        ? { listenerTimeouts: { headersMs: opts.headersTimeoutMs ?? DEFAULT_LISTENER_TIMEOUTS.headersMs, ...(opts.keepAliveMs !== undefined ? { keepAliveMs: opts.keepAliveMs } : {}) } }
        : {}),
      ...(opts.connectionLimits !== undefined ? { connectionLimits: opts.connectionLimits } : {}),
    });
    this.registry.on("offline", (id) => this.plane.agentOffline(id));
    this.registry.on("draining", (id) => this.plane.agentDraining(id));
  }

  static async start(opts: HarnessOptions): Promise<Harness> {
    const h = new Harness(opts);
    await h.reconfigure(opts);
    return h;
  }

  /** Compiles and applies a new configuration (listener ids are kept by position). */
  async reconfigure(opts: HarnessOptions): Promise<void> {
    const withIds = { ...opts, listeners: opts.listeners.map((l, i) => ({ ...l, id: l.id ?? this.listenerIds[i] })) };
    const { snapshot, listenerIds } = buildSnapshot(withIds, this.version++);
    this.listenerIds = listenerIds;
    this.opts = withIds;
    await this.plane.apply(snapshot);
  }

  /** Base URL of listener `i`. */
  url(i = 0): string {
    const st = this.plane.listenerStatus(this.listenerIds[i]!);
    if (st?.state !== "running") throw new Error(`listener ${i} is not running: ${st?.error ?? "no status"}`);
    return `http://127.0.0.1:${st.boundPort}`;
  }

  port(i = 0): number {
    return Number(new URL(this.url(i)).port);
  }

  /** Resolves once at least `n` events were recorded. */
  waitForEvents(n: number): Promise<void> {
    if (this.events.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.eventWaiters.push({ n, resolve }));
  }

  /** Connects an in-process agent: real registry session, real Yamux, the agent's real stream relay. */
  async connectAgent(id: string, o: AgentOptions = {}): Promise<InProcessAgent> {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const accepted = new Promise<net.Socket>((r) => server.once("connection", r));
    const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    const gatewaySide = await accepted;
    server.close();
    const online = new Promise<void>((r) => {
      const on = (agentId: string) => {
        if (agentId !== id) return;
        this.registry.off("online", on);
        r();
      };
      this.registry.on("online", on);
    });
    this.registry.attach(id, gatewaySide, { remoteAddress: "127.0.0.1", mtls: false, certificateNotAfter: undefined });
    await online;
    const session = new YamuxSession(client as Duplex, { role: "client" });
    const counters = new RelayCounters();
    const opens: InProcessAgent["opens"] = [];
    const policy = o.check ? { check: o.check } : new TargetPolicy("all", undefined);
    session.on("stream", (stream: YamuxStream) => {
      // Peek at OpenStream as the agent's log would see it, then hand the stream to the real relay.
      stream.once("data", (chunk: Buffer) => {
        stream.pause();
        stream.unshift(chunk);
        try {
          const len = chunk.readUInt32BE(0);
          const m = fromBinary(OpenStreamSchema, chunk.subarray(4, 4 + len));
          opens.push({ address: m.address, requestId: m.requestId, dialTimeoutMs: m.dialTimeoutMs });
        } catch {
          // a partial first chunk: not recorded
        }
        void relayStream(stream, { policy, counters, logger: silent, ...(o.connect ? { connect: o.connect } : {}) });
      });
    });
    const control = session.openStream();
    control.on("error", () => {});
    control.write(encodeMessage(protoCodec(ControlMessageSchema), create(ControlMessageSchema, { msg: { case: "hello", value: { version: "test", hostname: "harness", protocolVersion: 1 } } })));
    const agent: InProcessAgent = {
      id,
      session,
      counters,
      opens,
      goAway: () => session.goAway(),
      kill: () => client.destroy(),
    };
    this.agentsLive.push(agent);
    return agent;
  }

  async close(): Promise<void> {
    for (const a of this.agentsLive) a.kill();
    this.registry.closeAll("test over");
    await this.plane.close();
  }
}
