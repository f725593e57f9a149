import http from "node:http";
import https from "node:https";
import http2 from "node:http2";
import net from "node:net";
import type tls from "node:tls";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { CompiledListener, ProxySnapshot } from "./snapshot.ts";
import type { RawRequestSocket } from "./context.ts";
import { ProxyProtocolParser } from "./proxy-protocol.ts";
import { clientErrorCode, mapError } from "../lib/error-mapper.ts";
import { renderErrorPage } from "./errors.ts";
import { addressBucket, peerAddress } from "../lib/ip.ts";
import { rawResponse } from "../lib/http-status.ts";
import { LINGER_MS } from "../lib/lingering-close.ts";
import { ACME_TLS_ALPN_PROTOCOL, type AcmeChallenges } from "./tls/acme-challenges.ts";
import type { OcspStapler } from "./tls/ocsp.ts";
import { adaptHttp2, isHttp2, requestSocket } from "./http2-compat.ts";

export type ListenerState = "running" | "stopped" | "error";

export interface ListenerStatus {
  readonly state: ListenerState;
  readonly error: string;
  readonly since: number;
  readonly boundPort: number;
}

/**
 * Invoked for every request with its listener and the client's TCP (or PROXY protocol) address.
 * `raw` is set for requests node:http hands over as a bare socket (Upgrade, CONNECT); `res` otherwise.
 */
export type RequestHandler = (
  listener: CompiledListener,
  peer: string,
  req: http.IncomingMessage,
  res: http.ServerResponse | undefined,
  raw: RawRequestSocket | undefined,
) => void;

export interface ListenerTimeouts {
  /** A request head must be complete within this (slowloris); default 20 s. */
  readonly headersMs: number;
  /** An idle keep-alive connection is closed after this; default 30 s. */
  readonly keepAliveMs?: number;
}

export const DEFAULT_LISTENER_TIMEOUTS: ListenerTimeouts = { headersMs: 20_000 };
const DEFAULT_KEEP_ALIVE_MS = 30_000;

/** Concurrent connections a listener accepts (PUBLIC_MAX_CONNECTIONS, PUBLIC_MAX_CONNECTIONS_PER_IP). */
export interface ConnectionLimits {
  readonly perListener: number;
  readonly perIp: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { perListener: 10_000, perIp: 256 };

/** PEM chain and key. */
export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
}

/** What HTTPS listeners share beyond the snapshot. */
export interface ListenerTlsDeps {
  /** The certificate an HTTPS listener without a default one serves: Warren's self-signed fallback. */
  readonly fallback: () => Promise<CertificatePair>;
  readonly acme: AcmeChallenges;
  readonly ocsp: OcspStapler;
}

interface Running {
  readonly key: string;
  /** Points requests and handshakes at the listener as the latest snapshot has it (same socket settings). */
  readonly update: (l: CompiledListener) => void;
  readonly server: http.Server | http2.Http2SecureServer;
  readonly port: number;
  /**
   * Stops accepting at once (the port is free again when this is called) and lets in-flight
   * requests finish, closing each connection after its response; whatever is still open after
   * `graceMs` is cut. Resolves when the last connection is gone.
   */
  readonly drain: (graceMs: number) => Promise<void>;
}

const PROXY_HEADER_TIMEOUT_MS = 5_000;
/** HTTP/2: streams one connection may have open at once, and the largest header list (as HTTP/1.1's head). */
const H2_MAX_CONCURRENT_STREAMS = 128;
const MAX_HEADER_BYTES = 32 * 1024;
/** How long a removed or restarted listener lets in-flight requests (and upgraded sockets) run. */
const DRAIN_GRACE_MS = 30_000;
const peerOf = new WeakMap<net.Socket, string>();

/** The client address: the PROXY protocol source when there was one, else the TCP peer. */
function peerFor(req: http.IncomingMessage | http2.Http2ServerRequest): string {
  return socketPeer(requestSocket(req));
}

function socketPeer(socket: net.Socket): string {
  // On HTTPS listeners req.socket is the TLSSocket; the PROXY header was read on the TCP socket under it.
  const tcp = (socket as net.Socket & { _parent?: net.Socket })._parent ?? socket;
  return peerOf.get(tcp) ?? peerAddress(socket.remoteAddress);
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
    private readonly tlsDeps: ListenerTlsDeps,
    private readonly log: Logger,
    private readonly timeouts: ListenerTimeouts = DEFAULT_LISTENER_TIMEOUTS,
    private readonly limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
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
        // Only stop accepting before going on (a restart may bind the same port); the drain itself
        // runs on, so a long download never holds up this or any later configuration write.
        void r.drain(DRAIN_GRACE_MS).then(() => this.log.info({ listenerId: id }, "public listener drained"));
        this.statuses.set(id, { state: "stopped", error: "", since: Date.now(), boundPort: 0 });
        if (!l) this.statuses.delete(id);
      }
    }
    for (const l of snapshot.listeners.values()) {
      if (!l.enabled) {
        this.statuses.set(l.id, { state: "stopped", error: "", since: this.statuses.get(l.id)?.since ?? Date.now(), boundPort: 0 });
        continue;
      }
      const r = this.running.get(l.id);
      if (r) {
        r.update(l);
        continue;
      }
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

  private async start(first: CompiledListener): Promise<Running> {
    // Requests and handshakes read the listener from here: the latest snapshot's, not the one bound.
    let l = first;
    const inFlight = new Set<http.ServerResponse>();
    const upgraded = new Set<Duplex>();
    const draining = { value: false };
    // The request each connection is answering, for clientError: a parse error found while it is in
    // flight (in its body, or in a request pipelined behind it) must not put a second response, or one
    // out of order, on the connection.
    const answering = new WeakMap<net.Socket, { req: http.IncomingMessage; res: http.ServerResponse; finished: boolean }>();
    const onRequest = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
      // HTTP/2 (listeners with http2): adapted at the edge; the session's GOAWAY does what draining
      // and clientError do for HTTP/1.1 connections.
      if (isHttp2(req)) {
        const a = adaptHttp2(req as http2.Http2ServerRequest, res as http2.Http2ServerResponse);
        return this.guard(a.req, a.res, undefined, () => this.handler(l, peerFor(req), a.req, a.res, undefined));
      }
      return onHttp1(req as http.IncomingMessage, res as http.ServerResponse);
    };
    const onHttp1 = (req: http.IncomingMessage, res: http.ServerResponse) => {
      // While draining, every response closes its connection (the client reconnects elsewhere).
      if (draining.value) res.shouldKeepAlive = false;
      const entry = { req, res, finished: false };
      answering.set(req.socket, entry);
      // Registered after Node's own 'finish' handler, which ends a connection the response closes.
      res.once("finish", () => (entry.finished = true));
      inFlight.add(res);
      res.once("close", () => inFlight.delete(res));
      this.guard(req, res, undefined, () => this.handler(l, peerFor(req), req, res, undefined));
    };
    const onRaw = (kind: RawRequestSocket["kind"]) => (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      // An HTTP/2 CONNECT comes with a response, not a socket: an ordinary request (hygiene answers 405).
      if (isHttp2(req)) return onRequest(req, socket as unknown as http2.Http2ServerResponse);
      upgraded.add(socket);
      socket.once("close", () => upgraded.delete(socket));
      socket.on("error", () => {});
      this.guard(req, undefined, socket, () => this.handler(l, peerFor(req), req, undefined, { kind, socket, head }));
    };
    const opts: http.ServerOptions = {
      // Slowloris: headers must arrive within 20 s, a whole request within 0 (no limit: long uploads
      // stream). Node checks both only every connectionsCheckingInterval (30 s by default), so a
      // slow head was cut after 20–50 s; checked every second, it is cut within 21 s.
      headersTimeout: this.timeouts.headersMs,
      requestTimeout: 0,
      connectionsCheckingInterval: Math.min(1_000, this.timeouts.headersMs),
      maxHeaderSize: MAX_HEADER_BYTES,
      keepAliveTimeout: this.timeouts.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS,
    };
    let server: http.Server | http2.Http2SecureServer;
    let contextKey = "";
    let sessions: Set<http2.ServerHttp2Session> | undefined;
    if (l.tls?.http2) {
      contextKey = l.tls.contextKey;
      const h2 = http2.createSecureServer(
        {
          allowHTTP1: true,
          ...(await this.defaultContext(l.tls)),
          ...this.sniOptions(() => l, true),
          settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS, maxHeaderListSize: MAX_HEADER_BYTES },
          // Header fields are bounded by size (as HTTP/1.1's head), not by Node's default of 128.
          maxHeaderListPairs: 1024,
        },
        onRequest,
      );
      server = h2;
      // HTTP/1.1 connections on it run node:http's parser with these (node:http reads them off the server).
      Object.assign(h2, { ...opts, requireHostHeader: true });
      sessions = this.trackSessions(h2, this.timeouts.headersMs);
    } else if (l.tls) {
      contextKey = l.tls.contextKey;
      server = https.createServer({ ...opts, ...(await this.defaultContext(l.tls)), ...this.sniOptions(() => l, false) }, onRequest);
      // A TLS-ALPN-01 validation only completes the handshake (RFC 8737): no HTTP follows.
      server.on("secureConnection", (socket: tls.TLSSocket) => {
        if (socket.alpnProtocol === ACME_TLS_ALPN_PROTOCOL) socket.end();
      });
    } else {
      server = http.createServer(opts, onRequest);
    }
    if (l.tls) {
      // A client that asks for certificate status gets the stapled OCSP response, if there is one.
      const ocsp = this.tlsDeps.ocsp;
      server.on("OCSPRequest", (certificate: Buffer, _issuer: Buffer, cb: (err: Error | null, response: Buffer | null) => void) => cb(null, ocsp.response(certificate) ?? null));
    }
    const h1 = server as http.Server;
    const update = (next: CompiledListener): void => {
      l = next;
      if (!next.tls || next.tls.contextKey === contextKey) return;
      contextKey = next.tls.contextKey;
      // New handshakes get the new default context; open connections keep theirs.
      void this.defaultContext(next.tls).then(
        (ctx) => (server as https.Server | http2.Http2SecureServer).setSecureContext(ctx),
        (err: unknown) => this.log.error({ listenerId: next.id, err }, "public listener's default certificate could not be loaded"),
      );
    };
    // Node keeps only the first 2000 headers by default and drops the rest unseen, so a second Host
    // or a Transfer-Encoding past them escaped hygiene. maxHeaderSize bounds the count instead.
    h1.maxHeadersCount = 0;
    // Expect: 100-continue is Warren's to answer (once the body is wanted), not Node's at once.
    h1.on("checkContinue", onRequest);
    h1.on("checkExpectation", onRequest);
    h1.on("upgrade", onRaw("upgrade"));
    h1.on("connect", onRaw("connect"));
    h1.on("clientError", (err: Error, socket: net.Socket) => {
      const code = clientErrorCode(err);
      if (!code || !socket.writable) return void socket.destroy();
      const current = answering.get(socket);
      if (current !== undefined && !current.req.complete && current.res.headersSent) {
        // The error is in the body of a request being answered or answered already. Mid-response: cut
        // it (a page written into its body would corrupt it), as Node does. Answered: the answer
        // stands (end() lets it flush first) and nothing follows it.
        if (!current.res.writableEnded) return void socket.destroy();
        socket.end();
        setTimeout(() => socket.destroy(), LINGER_MS).unref();
        return;
      }
      if (current !== undefined && current.req.complete && !current.finished) {
        // The error is in a request pipelined behind one still being answered. Responses go out in
        // order: a page now would pass for the answer to the earlier request. Its answer goes first
        // (announcing the close when it has not started); the page only if the connection stays open.
        if (!current.res.headersSent) current.res.shouldKeepAlive = false;
        current.res.once("finish", () => {
          if (!socket.writable) return;
          const page = renderErrorPage(code, "-", undefined);
          socket.end(rawResponse(page.status, ["content-type", page.contentType], page.body));
        });
        return;
      }
      const page = renderErrorPage(code, "-", undefined);
      socket.end(rawResponse(page.status, ["content-type", page.contentType], page.body));
    });
    this.capConnections(h1);
    if (l.acceptProxyProtocol) this.wrapProxyProtocol(h1, l.protocol === "https");
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(l.port, l.bindAddress || undefined, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (err) => this.log.error({ listenerId: l.id, err: err.message }, "public listener error"));
    const drain = (graceMs: number): Promise<void> => {
      draining.value = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      h1.closeIdleConnections();
      // HTTP/2: GOAWAY; open streams finish, then each session closes.
      for (const s of sessions ?? []) s.close();
      for (const res of inFlight) {
        // Not answered yet: Node sends `Connection: close` and closes after the response. Already
        // answering: close once the response is complete.
        if (!res.headersSent) res.shouldKeepAlive = false;
        else {
          const socket = res.socket;
          res.once("finish", () => socket?.end());
        }
      }
      const force = setTimeout(() => {
        // Http2SecureServer tracks its HTTP/1.1 connections as node:http does but lacks this method.
        http.Server.prototype.closeAllConnections.call(h1);
        for (const s of sessions ?? []) s.destroy();
        for (const s of upgraded) s.destroy();
      }, graceMs);
      force.unref();
      return closed.finally(() => clearTimeout(force));
    };
    return { key: l.socketKey, update, server, port: (server.address() as net.AddressInfo).port, drain };
  }

  /**
   * HTTP/2 sessions of one listener, for draining, with HTTP/1.1's limits: the first request must be
   * complete within the headers timeout; a session with no open stream for the keep-alive time is
   * closed (GOAWAY). A TLS-ALPN-01 validation only completes the handshake: no session is made for it.
   */
  private trackSessions(server: http2.Http2SecureServer, headersMs: number): Set<http2.ServerHttp2Session> {
    const sessions = new Set<http2.ServerHttp2Session>();
    // Node's own listener makes the session; it is not called for a validation.
    const makeSession = server.listeners("secureConnection").slice();
    server.removeAllListeners("secureConnection");
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      if (socket.alpnProtocol === ACME_TLS_ALPN_PROTOCOL) return void socket.end();
      for (const fn of makeSession) (fn as (s: tls.TLSSocket) => void).call(server, socket);
    });
    server.on("session", (session: http2.ServerHttp2Session) => {
      sessions.add(session);
      let open = 0;
      const first = setTimeout(() => session.destroy(), headersMs);
      first.unref();
      session.on("stream", (stream: http2.ServerHttp2Stream) => {
        clearTimeout(first);
        open++;
        stream.once("close", () => open--);
      });
      session.setTimeout(this.timeouts.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS, () => {
        if (open === 0) session.close();
      });
      session.on("error", () => {});
      session.once("close", () => {
        clearTimeout(first);
        sessions.delete(session);
      });
    });
    return sessions;
  }

  private async defaultContext(t: NonNullable<CompiledListener["tls"]>): Promise<tls.SecureContextOptions> {
    const pair = t.defaultCertificate ?? (await this.tlsDeps.fallback());
    return { cert: pair.cert, key: pair.key, minVersion: t.minVersion };
  }

  /**
   * Certificate selection per handshake from the listener's current store (certificate-store.ts), and
   * TLS-ALPN-01: a ClientHello offering acme-tls/1 for a name with a pending challenge gets the
   * challenge certificate. Node calls ALPNCallback before SNICallback, both on the socket.
   */
  private sniOptions(current: () => CompiledListener, h2: boolean): Pick<tls.TlsOptions, "SNICallback" | "ALPNCallback"> {
    const acme = this.tlsDeps.acme;
    const validations = new WeakSet<tls.TLSSocket>();
    return {
      ALPNCallback(this: tls.TLSSocket, { servername, protocols }: { servername: string; protocols: string[] }) {
        if (protocols.includes(ACME_TLS_ALPN_PROTOCOL) && servername && acme.hasTlsAlpn01(servername)) {
          validations.add(this);
          return ACME_TLS_ALPN_PROTOCOL;
        }
        // HTTP/2 when the listener has it and the client offers it, as its first choice or not (curl
        // and browsers offer h2 first; Warren's preference decides, like nginx's).
        if (h2 && protocols.includes("h2")) return "h2";
        // Like nginx: a client offering only protocols Warren does not speak gets no_application_protocol.
        return protocols.includes("http/1.1") ? "http/1.1" : undefined;
      },
      SNICallback(this: tls.TLSSocket, servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) {
        if (validations.has(this)) return cb(null, acme.tlsAlpn01Context(servername));
        const choice = current().tls?.store.select(servername);
        cb(null, choice?.kind === "stored" ? choice.certificate.context : undefined);
      },
    } as Pick<tls.TlsOptions, "SNICallback" | "ALPNCallback">;
  }

  /** The last resort: a throw that escaped the pipeline answers 500 and is logged; the process never dies. */
  private guard(req: http.IncomingMessage, res: http.ServerResponse | undefined, socket: Duplex | undefined, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err, url: req.url?.slice(0, 256) }, "unhandled error in the public request handler");
      const page = renderErrorPage(mapError(err).code, "-", req.headers.accept);
      if (res !== undefined) {
        if (res.headersSent) res.destroy();
        else {
          res.writeHead(500, { "content-type": page.contentType, "content-length": Buffer.byteLength(page.body), connection: "close" });
          res.end(page.body);
        }
      } else if (socket !== undefined && socket.writable) {
        socket.end(rawResponse(500, ["content-type", page.contentType], page.body));
      }
    }
  }

  /**
   * Connection caps, checked before TLS or HTTP sees a byte: past them a new connection is closed at
   * once. Per listener, Node's maxConnections (it closes the handle before 'connection'); per client IP
   * a gate in front of the 'connection' listeners. Installed before the PROXY protocol wrapper, which
   * then calls the gate once the header named the real client.
   */
  private capConnections(server: http.Server): void {
    server.maxConnections = this.limits.perListener;
    const perIp = this.limits.perIp;
    const open = new Map<string, number>();
    const original = server.listeners("connection").slice();
    server.removeAllListeners("connection");
    server.on("connection", (socket: net.Socket) => {
      const ip = addressBucket(socketPeer(socket));
      const n = open.get(ip) ?? 0;
      if (n >= perIp) return void socket.destroy();
      open.set(ip, n + 1);
      socket.once("close", () => {
        const left = (open.get(ip) ?? 1) - 1;
        if (left === 0) open.delete(ip);
        else open.set(ip, left);
      });
      for (const fn of original) (fn as (s: net.Socket) => void).call(server, socket);
    });
  }

  /** Reads the PROXY protocol header before HTTP (or TLS) sees a byte. */
  private wrapProxyProtocol(server: http.Server, tlsServer: boolean): void {
    const original = server.listeners("connection").slice();
    server.removeAllListeners("connection");
    server.on("connection", (socket: net.Socket) => {
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
        if (r.source) peerOf.set(socket, peerAddress(r.source.address));
        if (r.rest.length) socket.unshift(r.rest);
        for (const fn of original) (fn as (s: net.Socket) => void).call(server, socket);
        // The TLS layer takes the bytes still buffered on the socket (the ClientHello that came with
        // the header) on its next tick; resuming here would emit them to nobody and lose them.
        if (!tlsServer) socket.resume();
      };
      socket.on("data", onData);
      socket.on("error", () => {});
    });
  }

  /** Shutdown: stops every listener and cuts its connections. */
  async close(): Promise<void> {
    await this.queue;
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((r) => r.drain(0)));
  }
}
