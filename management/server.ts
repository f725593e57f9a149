import http from "node:http";
import http2 from "node:http2";
import type { Duplex } from "node:stream";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createContextValues } from "@connectrpc/connect";
import type { Logger } from "pino";
import { TRUST_NOBODY, clientIp, type TrustedProxies } from "../proxy/index.ts";
import { apiRoutes } from "./api/routes.ts";
import { apiInterceptor } from "./api/interceptor.ts";
import { kPeer } from "./api/context.ts";
import type { ApiDeps } from "./api/deps.ts";
import { peerAddress } from "../lib/ip.ts";
import { TUNNEL_PATH } from "../tunnel/handshake.ts";
import { LINGER_MS, lingerAfterEarlyAnswer } from "../lib/lingering-close.ts";
import { rawResponse } from "../lib/http-status.ts";
import { UiAssets } from "./ui-assets.ts";
import { API_COMPRESSIONS } from "./api/compression.ts";
import { AGENT_DOWNLOAD_PATH, type AgentDownload } from "./agents/agent-download.ts";
import { answerError, answerErrorOnSocket, authorityProblem, guardRequests, guardUpgrades, type ManagementRequest, type ManagementResponse } from "./request-guard.ts";

export const API_MAX_BODY_BYTES = 1024 * 1024;
const API_PATH = /^\/warren\.v1\.[A-Za-z]+\/[A-Za-z]+$/;

type Req = ManagementRequest;
type Res = ManagementResponse;

export interface ManagementServerOptions {
  readonly bindAddress: string;
  readonly port: number;
  /**
   * PEM server certificate chain and key, and the CAs whose client certificates agents may present
   * (mTLS is optional at the TLS layer and enforced per agent). Undefined serves plain HTTP.
   */
  readonly tls: { cert: string; key: string; clientCas: string[] } | undefined;
  readonly uiDisabled: boolean;
  /** GET /agent/download: the self-contained agent. */
  readonly agentDownload: AgentDownload;
  readonly deps: ApiDeps;
  readonly log: Logger;
  /** `/agent/tunnel`: upgrades and plain requests (which get the same checks, then 400). */
  readonly tunnel: {
    handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
    handleRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  };
  /**
   * TRUSTED_PROXIES: behind one of them, the client is the right-most untrusted X-Forwarded-For entry
   * (as on public listeners), so login throttling, sessions and the audit log see each client, not
   * the proxy. Default: nobody is trusted.
   */
  readonly trusted?: TrustedProxies;
  /** Extra upgrade routes (test hooks); keyed by path. */
  readonly extraUpgrades?: ReadonlyMap<string, (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void>;
}

export interface ManagementServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}


/**
 * HTTP/2: a response that ends before its request's body has been read (Warren's 413, connect-node's
 * early 415 for an unsupported content type, a deadline or limit hit while reading) is ended only
 * once that body has been read and discarded, so the client's upload ends normally. Ended at once,
 * the stream was closed under the upload, and Node counted the DATA the client still had in flight
 * as invalid frames: the next requests on that connection failed with INTERNAL_ERROR /
 * ENHANCE_YOUR_CALM. Status and headers still go out at once; only the END_STREAM waits. Bounded: a
 * body still coming after LINGER_MS gets its answer, then RST_STREAM(NO_ERROR) (RFC 9113 §8.1).
 */
function endAfterBody(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  const end = res.end.bind(res) as (...args: unknown[]) => unknown;
  res.end = ((...args: unknown[]) => {
    const stream = req.stream;
    if (req.complete || stream.closed) return end(...args);
    let answered = false;
    const answer = () => {
      if (answered) return;
      answered = true;
      end(...args);
    };
    const settle = () => {
      clearTimeout(timer);
      answer();
    };
    const timer = setTimeout(() => {
      answer();
      closeOnceAnswered(stream);
    }, LINGER_MS);
    timer.unref();
    req.once("end", settle);
    stream.once("close", settle);
    // The RPC layer gave up on the body (over readMaxBytes, say): answer now.
    req.once("error", answer);
    req.resume();
    return res;
  }) as typeof res.end;
}

/**
 * RST_STREAM(NO_ERROR) once the answer's END_STREAM (and trailers) has been sent — `state.localClose`
 * — so that it is not dropped. Closed right after end(), the answer's last frames were lost, and under
 * load the session's write loop grew until std::bad_alloc aborted the process (the API fuzz suite,
 * 1 MiB bodies over HTTP/2). Checked every 10 ms, for at most a second.
 */
function closeOnceAnswered(stream: http2.ServerHttp2Stream, tries = 0): void {
  if (stream.closed || stream.destroyed) return;
  if (stream.state.localClose === 1 || tries >= 100) {
    stream.close(http2.constants.NGHTTP2_NO_ERROR);
    return;
  }
  setTimeout(() => closeOnceAnswered(stream, tries + 1), 10).unref();
}

function send(res: Res, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), ...extra });
  res.end(body);
}

const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  // The setup URL carries a token in its query: never leak it through Referer.
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/**
 * One server for everything on the management port: ConnectRPC (Connect, gRPC, gRPC-Web; JSON and
 * binary), /healthz, the agent tunnel upgrade and the UI. HTTPS serves HTTP/1.1 and HTTP/2 via ALPN.
 */
export async function startManagementServer(o: ManagementServerOptions): Promise<ManagementServer> {
  const connect = connectNodeAdapter({
    routes: apiRoutes(o.deps),
    interceptors: [apiInterceptor({ authenticator: o.deps.authenticator, audit: o.deps.store.audit, now: o.deps.now, log: o.log })],
    readMaxBytes: API_MAX_BODY_BYTES,
    acceptCompression: API_COMPRESSIONS,
    jsonOptions: { ignoreUnknownFields: false },
    contextValues: (req) => {
      const v = createContextValues();
      const ua = req.headers["user-agent"];
      v.set(kPeer, { ip: clientIp(peerAddress(req.socket.remoteAddress), req.headers["x-forwarded-for"], o.trusted ?? TRUST_NOBODY), userAgent: typeof ua === "string" ? ua : "" });
      return v;
    },
    fallback: (_req, res) => {
      const body = JSON.stringify({ code: "not_found", message: "no such procedure" });
      res.writeHead(404, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    },
  });

  const ui = o.uiDisabled ? undefined : new UiAssets();
  const handle = (req: Req, res: Res): void | Promise<void> => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (req.httpVersionMajor === 2) endAfterBody(req as http2.Http2ServerRequest, res as http2.Http2ServerResponse);
    // Before any handler: connect-node turns the authority into a URL and throws on a bad one.
    const hostProblem = authorityProblem(req);
    if (hostProblem) return answerError(res, hostProblem);
    const path = (req.url ?? "/").split("?")[0]!;
    if (path === "/healthz") {
      if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "method not allowed\n", { allow: "GET, HEAD" });
      return send(res, 200, "application/json", JSON.stringify({ status: "ok", version: o.deps.info.version }));
    }
    if (API_PATH.test(path)) {
      // Only POST reaches handlers: no GET-able RPCs, so no cross-site "simple" requests.
      if (req.method !== "POST") return send(res, 405, "text/plain", "method not allowed\n", { allow: "POST" });
      if (req.httpVersionMajor === 1) lingerAfterEarlyAnswer(req as http.IncomingMessage, res as http.ServerResponse);
      const len = Number(req.headers["content-length"] ?? 0);
      if (len > API_MAX_BODY_BYTES) {
        return send(res, 413, "application/json", JSON.stringify({ code: "resource_exhausted", message: `request body over ${API_MAX_BODY_BYTES} bytes` }));
      }
      return void connect(req, res);
    }
    if (path === TUNNEL_PATH) {
      if (req.httpVersionMajor !== 1) return send(res, 400, "text/plain", "the agent tunnel needs HTTP/1.1\n");
      return o.tunnel.handleRequest(req as http.IncomingMessage, res as http.ServerResponse);
    }
    if (path === AGENT_DOWNLOAD_PATH) return o.agentDownload.handle(req, res);
    if (ui !== undefined && ui.handle(req, res, path)) return;
    return send(res, 404, "text/plain", "not found\n");
  };

  const guarded = guardRequests(handle, o.log);
  const server = o.tls
    ? http2.createSecureServer(
        {
          allowHTTP1: true,
          cert: o.tls.cert,
          key: o.tls.key,
          minVersion: "TLSv1.2",
          // Ask for a client certificate but let the tunnel endpoint decide per agent (require_mtls).
          requestCert: o.tls.clientCas.length > 0,
          rejectUnauthorized: false,
          ...(o.tls.clientCas.length > 0 ? { ca: o.tls.clientCas } : {}),
        },
        guarded,
      )
    : http.createServer({ headersTimeout: 20_000, requestTimeout: 60_000, requireHostHeader: false }, guarded);
  // The request guard answers a missing Host itself (400 missing_host, in the API's error shape);
  // node:http would send a bare 400 first, and for HTTP/1.1 on the HTTP/2 server only from Node 24.
  if (o.tls) Object.assign(server, { requireHostHeader: false });

  const upgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void | Promise<void> => {
    const hostProblem = authorityProblem(req);
    if (hostProblem) return answerErrorOnSocket(socket, hostProblem);
    const path = (req.url ?? "/").split("?")[0];
    if (path === TUNNEL_PATH) return o.tunnel.handleUpgrade(req, socket, head);
    const extra = path === undefined ? undefined : o.extraUpgrades?.get(path);
    if (extra) return extra(req, socket, head);
    socket.end(rawResponse(404, []));
  };
  server.on("upgrade", guardUpgrades(upgrade, o.log));
  // TLS handshakes that fail (scanners, wrong CA) are routine: keep them out of error logs.
  server.on("tlsClientError", (err: Error) => o.log.debug({ err: err.message }, "TLS handshake failed"));
  server.on("clientError", (_err: Error, socket: Duplex) => {
    if (socket.writable) socket.end(rawResponse(400, []));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.bindAddress, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.bindAddress === "0.0.0.0" || o.bindAddress === "::" ? "localhost" : o.bindAddress.includes(":") ? `[${o.bindAddress}]` : o.bindAddress;
  const sessions = new Set<http2.Http2Session>();
  server.on("session", (s: http2.Http2Session) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  return {
    port,
    url: `${o.tls ? "https" : "http"}://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.close();
        server.close(() => resolve());
        if ("closeIdleConnections" in server) server.closeIdleConnections();
      }),
  };
}
