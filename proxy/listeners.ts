import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { CompiledListener, ProxySnapshot } from "./snapshot.ts";
import { ProxyProtocolParser } from "./proxy-protocol.ts";
import { clientErrorCode } from "./node-error.ts";
import { renderErrorPage } from "./errors.ts";

export type ListenerState = "running" | "stopped" | "error";

export interface ListenerStatus {
  readonly state: ListenerState;
  readonly error: string;
  readonly since: number;
  readonly boundPort: number;
}

/** Invoked for every request with the listener id and the client's TCP (or PROXY protocol) address. */
export type RequestHandler = (listenerId: string, proto: "http" | "https", peer: string, req: http.IncomingMessage, res: http.ServerResponse) => void;
export type UpgradeHandler = (listenerId: string, proto: "http" | "https", peer: string, req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

interface Running {
  readonly key: string;
  readonly server: http.Server;
  readonly port: number;
}

const PROXY_HEADER_TIMEOUT_MS = 5_000;
const peerOf = new WeakMap<net.Socket, string>();

function plainPeer(addr: string | undefined): string {
  if (!addr) return "";
  return addr.startsWith("::ffff:") ? addr.slice(7) : addr;
}

/**
 * Binds, keeps and closes public listeners to match each snapshot: new ones are bound, removed or
 * disabled ones closed, and ones whose socket settings did not change are left alone (their
 * connections keep working; requests resolve the listener's routes from the current snapshot).
 */
export class ListenerManager {
  private readonly running = new Map<string, Running>();
  private readonly statuses = new Map<string, ListenerStatus>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly handler: RequestHandler,
    private readonly upgradeHandler: UpgradeHandler,
    private readonly selfSigned: (listenerName: string) => Promise<{ cert: string; key: string }>,
    private readonly log: Logger,
  ) {}

  status(id: string): ListenerStatus | undefined {
    return this.statuses.get(id);
  }

  /** Serialized: two quick writes reconcile in order. */
  apply(snapshot: ProxySnapshot): Promise<void> {
    this.queue = this.queue.then(() => this.reconcile(snapshot)).catch((err: unknown) => this.log.error({ err }, "listener reconcile failed"));
    return this.queue;
  }

  private async reconcile(snapshot: ProxySnapshot): Promise<void> {
    for (const [id, r] of this.running) {
      const l = snapshot.listeners.get(id);
      if (!l || !l.enabled || l.socketKey !== r.key) {
        this.running.delete(id);
        await this.closeServer(r.server);
        this.statuses.set(id, { state: "stopped", error: "", since: Date.now(), boundPort: 0 });
        if (!l) this.statuses.delete(id);
      }
    }
    for (const l of snapshot.listeners.values()) {
      if (!l.enabled) {
        this.statuses.set(l.id, { state: "stopped", error: "", since: this.statuses.get(l.id)?.since ?? Date.now(), boundPort: 0 });
        continue;
      }
      if (this.running.has(l.id)) continue;
      try {
        const r = await this.start(l);
        this.running.set(l.id, r);
        this.statuses.set(l.id, { state: "running", error: "", since: Date.now(), boundPort: r.port });
        this.log.info({ listenerId: l.id, name: l.name, port: r.port, protocol: l.protocol }, "public listener running");
      } catch (e) {
        const msg = (e as Error).message;
        this.statuses.set(l.id, { state: "error", error: msg, since: Date.now(), boundPort: 0 });
        this.log.error({ listenerId: l.id, name: l.name, err: msg }, "public listener failed to start");
      }
    }
  }

  private async start(l: CompiledListener): Promise<Running> {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) =>
      this.handler(l.id, l.protocol, peerOf.get(req.socket) ?? plainPeer(req.socket.remoteAddress), req, res);
    const opts: http.ServerOptions = {
      // Slowloris: headers must arrive within 20 s, a whole request within 0 (no limit: long uploads stream).
      headersTimeout: 20_000,
      requestTimeout: 0,
      maxHeaderSize: 32 * 1024,
      keepAliveTimeout: 30_000,
    };
    let server: http.Server;
    if (l.protocol === "https") {
      const pair = l.tls ?? (await this.selfSigned(l.name));
      server = https.createServer({ ...opts, cert: pair.cert, key: pair.key, minVersion: "TLSv1.2", ALPNProtocols: ["http/1.1"] }, onRequest);
    } else {
      server = http.createServer(opts, onRequest);
    }
    server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgradeHandler(l.id, l.protocol, peerOf.get(req.socket) ?? plainPeer(req.socket.remoteAddress), req, socket, head),
    );
    server.on("clientError", (err: Error, socket: net.Socket) => {
      const code = clientErrorCode(err);
      if (!code || !socket.writable) return void socket.destroy();
      const page = renderErrorPage(code, "-", undefined);
      socket.end(`HTTP/1.1 ${page.status} Bad Request\r\nContent-Type: ${page.contentType}\r\nContent-Length: ${Buffer.byteLength(page.body)}\r\nConnection: close\r\n\r\n${page.body}`);
    });
    if (l.acceptProxyProtocol) this.wrapProxyProtocol(server, l.protocol === "https");
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(l.port, l.bindAddress || undefined, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (err) => this.log.error({ listenerId: l.id, err: err.message }, "public listener error"));
    return { key: l.socketKey, server, port: (server.address() as net.AddressInfo).port };
  }

  /** Reads the PROXY protocol header before HTTP (or TLS) sees a byte. */
  private wrapProxyProtocol(server: http.Server, tlsServer: boolean): void {
    const event = tlsServer ? "connection" : "connection";
    const original = server.listeners(event).slice();
    server.removeAllListeners(event);
    server.on(event, (socket: net.Socket) => {
      const parser = new ProxyProtocolParser();
      const timer = setTimeout(() => socket.destroy(), PROXY_HEADER_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        let r;
        try {
          r = parser.push(chunk);
        } catch {
          clearTimeout(timer);
          socket.destroy();
          return;
        }
        if (!r.done) return;
        clearTimeout(timer);
        socket.off("data", onData);
        socket.pause();
        if (r.source) peerOf.set(socket, plainPeer(r.source.address));
        if (r.rest.length) socket.unshift(r.rest);
        for (const fn of original) (fn as (s: net.Socket) => void).call(server, socket);
        socket.resume();
      };
      socket.on("data", onData);
      socket.on("error", () => {});
    });
  }

  private closeServer(server: http.Server): Promise<void> {
    return new Promise((resolve) => {
      // Stop accepting; in-flight requests finish; idle keep-alive sockets go now.
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }

  async close(): Promise<void> {
    await this.queue;
    const all = [...this.running.values()];
    this.running.clear();
    for (const r of all) r.server.closeAllConnections();
    await Promise.all(all.map((r) => this.closeServer(r.server)));
  }
}
