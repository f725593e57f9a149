// The agent's side of the tunnel (DESIGN.md §4): TLS to management, `GET /agent/tunnel` upgrade, Yamux
// client session, the control stream (hello, heartbeat + stats every 5 s), data streams handed to
// `onStream`, reconnect with backoff. Logs say why a connection was refused.
import { EventEmitter } from "node:events";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import {
  REFUSAL_REASONS,
  TUNNEL_PATH,
  TUNNEL_PROTOCOL_VERSION,
  TUNNEL_VERSION_HEADER,
  UPGRADE_PROTOCOL,
  agentAuthorization,
} from "../tunnel/handshake.ts";
import { frameMessage } from "../tunnel/messages.ts";
import { encodeControlMessage } from "../tunnel/message-codecs.ts";
import { KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS } from "../tunnel/keepalive.ts";
import { YamuxSession, type YamuxOptions, type YamuxStream } from "../tunnel/yamux/index.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import { isCertificateError, type ClientCertificate, type ManagementTls } from "./management-tls.ts";
import { managementEndpoint } from "./settings.ts";
import type { RelayStats } from "./stream-relay.ts";

export const CONTROL_INTERVAL_MS = 5_000;
export const CONNECT_TIMEOUT_MS = 10_000;
const MAX_REFUSAL_BODY = 2048;

export interface TunnelClientOptions {
  readonly managementUrl: URL;
  readonly agentId: string;
  /** Token secret; only ever put in the Authorization header. */
  readonly secret: string;
  readonly tls: ManagementTls;
  /** The client certificate to present, looked up at each connection (so renewals take effect). */
  readonly clientCertificate: () => ClientCertificate | undefined;
  readonly onStream: (stream: YamuxStream) => void;
  readonly stats: () => RelayStats;
  readonly logger: Logger;
  readonly version: string;
  readonly hostname: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly backoff?: BackoffOptions & { resetAfterMs?: number };
  readonly yamux?: Partial<Omit<YamuxOptions, "role">>;
  readonly controlIntervalMs?: number;
  readonly connectTimeoutMs?: number;
}

export interface TunnelClientEvents {
  connected: [info: { remoteAddress: string | undefined; remotePort: number | undefined }];
  disconnected: [err: Error | undefined];
  refused: [status: number, reason: string];
  /** A connection attempt failed before any HTTP answer (DNS, TCP, TLS, timeout). */
  failed: [err: Error];
}

type UpgradedSocket = Duplex & Partial<Pick<Socket, "remoteAddress" | "remotePort">>;

type Attempt =
  | { kind: "upgraded"; socket: UpgradedSocket }
  | { kind: "refused"; status: number; detail: string }
  | { kind: "failed"; err: Error };

function joinPath(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}${path}`;
}

/** Logs a refusal as DESIGN/issue 3 want it: status + the operator-readable reason. */
export function refusalReason(status: number): string {
  return REFUSAL_REASONS[status] ?? `unexpected HTTP status ${status} from management (is MANAGEMENT_URL the management port?)`;
}

export class TunnelClient extends EventEmitter<TunnelClientEvents> {
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private stopping = false;
  private running: Promise<void> | undefined;
  private currentRequest: http.ClientRequest | undefined;
  private currentSession: YamuxSession | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly o: TunnelClientOptions) {
    super();
    this.log = o.logger;
    this.backoff = new Backoff(o.backoff);
  }

  /** The live session, if connected. */
  get session(): YamuxSession | undefined {
    return this.currentSession;
  }

  get connected(): boolean {
    return this.currentSession !== undefined && !this.currentSession.isClosed;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Skips the current backoff wait (e.g. right after enrollment, so a 403 is retried at once). */
  kick(): void {
    this.wake?.();
  }

  /**
   * Graceful stop: no reconnects; the live session sends go-away (management opens no new streams), then
   * `drained` (open streams finished) or `graceMs` ends it, and the session is closed.
   */
  async stop(opts: { graceMs?: number; drained?: () => Promise<void> } = {}): Promise<void> {
    this.stopping = true;
    this.currentRequest?.destroy();
    this.wake?.();
    const session = this.currentSession;
    if (session !== undefined && !session.isClosed) {
      session.goAway();
      const grace = opts.graceMs ?? 10_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        opts.drained?.() ?? Promise.resolve(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, grace);
        }),
        new Promise<void>((resolve) => session.once("close", () => resolve())),
      ]);
      clearTimeout(timer);
      session.close();
    }
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const started = Date.now();
      const attempt = await this.connectOnce().catch((err: unknown): Attempt => ({ kind: "failed", err: err as Error }));
      if (this.stopping) {
        if (attempt.kind === "upgraded") attempt.socket.destroy();
        break;
      }
      let delay: number;
      if (attempt.kind === "upgraded") {
        const connectedAt = Date.now();
        const err = await this.runSession(attempt.socket);
        const upForMs = Date.now() - connectedAt;
        this.backoff.connectionEnded(upForMs);
        if (this.stopping) break;
        delay = this.backoff.next();
        this.log.warn({ err: err?.message, upForMs, retryInMs: delay }, "tunnel disconnected");
        this.emit("disconnected", err);
      } else if (attempt.kind === "refused") {
        delay = this.backoff.next();
        const reason = refusalReason(attempt.status);
        const fields = { status: attempt.status, reason, detail: attempt.detail || undefined, retryInMs: delay };
        // 409 usually clears by itself (a stale session is replaced); the others need the operator.
        if (attempt.status === 409) this.log.warn(fields, "tunnel refused");
        else this.log.error(fields, "tunnel refused");
        this.emit("refused", attempt.status, reason);
      } else {
        delay = this.backoff.next();
        const e = attempt.err as NodeJS.ErrnoException;
        if (isCertificateError(e)) this.o.tls.invalidate();
        const fields = { err: e.message, code: e.code, retryInMs: delay, elapsedMs: Date.now() - started };
        if (isCertificateError(e)) this.log.error(fields, "tunnel connection failed: management's TLS certificate is not trusted");
        else this.log.warn(fields, "tunnel connection failed");
        this.emit("failed", attempt.err);
      }
      await this.sleep(delay);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      // Not unref'd: while waiting to reconnect, this timer is what keeps the agent alive.
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** One connection attempt: TLS (per ManagementTls) + HTTP/1.1 upgrade request. */
  private async connectOnce(): Promise<Attempt> {
    const url = this.o.managementUrl;
    const { host, port } = managementEndpoint(url);
    const client = this.o.clientCertificate();
    const tlsOptions = await this.o.tls.options(client);
    if (this.stopping) return { kind: "failed", err: new Error("stopping") };
    const secure = url.protocol === "https:";
    const headers = {
      host: url.host,
      connection: "Upgrade",
      upgrade: UPGRADE_PROTOCOL,
      [TUNNEL_VERSION_HEADER]: String(TUNNEL_PROTOCOL_VERSION),
      authorization: agentAuthorization(this.o.agentId, this.o.secret),
      "user-agent": `warren-agent/${this.o.version}`,
    };
    const requestOptions: https.RequestOptions = {
      host,
      port,
      method: "GET",
      path: joinPath(url.pathname, TUNNEL_PATH),
      headers,
      agent: false,
      ...(secure ? tlsOptions : {}),
    };
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      const settle = (a: Attempt) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.currentRequest = undefined;
        resolve(a);
      };
      const req = (secure ? https : http).request(requestOptions);
      this.currentRequest = req;
      const timeoutMs = this.o.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
      const timer = setTimeout(() => req.destroy(new Error(`no answer from management within ${timeoutMs} ms`)), timeoutMs);
      req.on("upgrade", (res: http.IncomingMessage, socket: Socket, head: Buffer) => {
        const proto = String(res.headers.upgrade ?? "").toLowerCase();
        if (res.statusCode !== 101 || proto !== UPGRADE_PROTOCOL) {
          socket.destroy();
          settle({ kind: "failed", err: new Error(`management switched to "${proto}" instead of ${UPGRADE_PROTOCOL}`) });
          return;
        }
        if (head.length > 0) socket.unshift(head);
        socket.setTimeout(0);
        settle({ kind: "upgraded", socket });
      });
      req.on("response", (res: http.IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () => {
          res.destroy();
          const detail = Buffer.concat(chunks)
            .toString("utf8")
            .replace(/[\x00-\x1f\x7f]+/g, " ")
            .trim()
            .slice(0, 300);
          settle({ kind: "refused", status, detail });
        };
        res.on("data", (c: Buffer) => {
          if (size < MAX_REFUSAL_BODY) chunks.push(c.subarray(0, MAX_REFUSAL_BODY - size));
          size += c.length;
          if (size >= MAX_REFUSAL_BODY) finish();
        });
        res.on("end", finish);
        res.on("error", finish);
        res.on("close", finish);
      });
      req.on("error", (err) => settle({ kind: "failed", err }));
      req.on("close", () => settle({ kind: "failed", err: new Error("connection closed before management answered") }));
      req.end();
    });
  }

  /** Runs a connected session until it closes; resolves with its error, if any. */
  private runSession(socket: UpgradedSocket): Promise<Error | undefined> {
    const session = new YamuxSession(socket, {
      role: "client",
      keepAliveIntervalMs: KEEPALIVE_INTERVAL_MS,
      keepAliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
      ...this.o.yamux,
    });
    this.currentSession = session;
    const remote = { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort };
    this.log.info({ ...remote, managementUrl: this.o.managementUrl.origin, mtls: this.o.clientCertificate() !== undefined }, "tunnel connected");
    this.emit("connected", remote);

    session.on("stream", (stream) => this.o.onStream(stream));
    session.on("goaway", (code) => this.log.info({ code }, "management sent go-away"));

    const control = session.openStream();
    control.on("error", (err) => {
      if (!session.isClosed) {
        this.log.warn({ err: err.message }, "control stream failed; closing the tunnel");
        session.close(err);
      }
    });
    control.resume(); // management sends nothing on it today; never let it buffer
    const sendControl = (first: boolean) => {
      if (control.destroyed || control.writableEnded) return;
      // A peer that does not read gets no pile of heartbeats: skip while the stream is backed up.
      if (!first && control.writableNeedDrain) return;
      const s = this.o.stats();
      control.write(
        Buffer.concat([
          frameMessage(encodeControlMessage({ case: "heartbeat", value: { sentAtUnixMs: BigInt(Date.now()) } })),
          frameMessage(
            encodeControlMessage({
              case: "stats",
              value: {
                activeStreams: BigInt(s.activeStreams),
                streamsTotal: BigInt(s.streamsTotal),
                dialFailures: BigInt(s.dialFailures),
                bytesFromOrigins: BigInt(s.bytesFromOrigins),
                bytesToOrigins: BigInt(s.bytesToOrigins),
              },
            }),
          ),
        ]),
      );
    };
    control.write(
      frameMessage(
        encodeControlMessage({
          case: "hello",
          value: { version: this.o.version, hostname: this.o.hostname, labels: { ...this.o.labels }, protocolVersion: TUNNEL_PROTOCOL_VERSION },
        }),
      ),
    );
    sendControl(true);
    const interval = setInterval(() => sendControl(false), this.o.controlIntervalMs ?? CONTROL_INTERVAL_MS);

    return new Promise((resolve) => {
      session.once("close", (err) => {
        clearInterval(interval);
        if (this.currentSession === session) this.currentSession = undefined;
        resolve(err);
      });
    });
  }
}
