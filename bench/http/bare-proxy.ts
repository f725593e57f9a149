// The "bare Node proxy" rows of bench/http: the ceiling of any Node proxy on this machine. A node:http
// server and one undici Pool for its one origin; every request is dispatched with `pool.dispatch()`
// and the response written straight into the ServerResponse. No routing, no events, no header
// rewriting beyond dropping hop-by-hop headers. Runs in its own process (forked by run.ts with IPC).
//
//   node --import tsx bench/http/bare-proxy.ts http://127.0.0.1:ORIGIN_PORT [--tunnel]
//
// With --tunnel the pool reaches the origin the way Warren reaches an agent's origin: its `connect`
// opens a Yamux stream (OpenStream / OpenResult) over TLS to bench/http/bare-agent.ts, which relays
// it with agent/stream-relay.ts. That is the ceiling of the via-agent path.
//
// Sends {port, tunnelPort?} over IPC when listening; {cmd:"exit"} exits.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { Pool, type Dispatcher } from "undici";
import { requestOpen } from "../../tunnel/open-stream.ts";
import { YamuxSession } from "../../tunnel/yamux/index.ts";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authenticate", "proxy-authorization"]);

/** Flat [name, value, …] pairs without hop-by-hop headers (nor those named in Connection). */
function endToEnd(raw: readonly string[]): string[] {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === "connection") for (const t of raw[i + 1]!.split(",")) (named ??= new Set()).add(t.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(lower) && !named?.has(lower)) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

function responseHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const raw: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) raw.push(k, x);
    else raw.push(k, v);
  }
  return endToEnd(raw);
}

/** Relays one upstream response into `res`; a full client socket pauses the upstream connection. */
class Relay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private readonly onDrain = () => this.controller?.resume();

  constructor(private readonly res: http.ServerResponse) {}

  abort(reason: Error): void {
    this.controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return;
    this.res.writeHead(statusCode, responseHeaders(headers));
    this.res.on("drain", this.onDrain);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.res.off("drain", this.onDrain);
    this.res.end();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.res.off("drain", this.onDrain);
    if (this.res.headersSent) this.res.destroy(err);
    else {
      this.res.writeHead(502, { "content-length": 0 });
      this.res.end();
    }
  }
}

/** A TLS listener for one agent; resolves once its Yamux session is up. */
async function tunnelListener(): Promise<{ port: number; session: Promise<YamuxSession> }> {
  const dir = mkdtempSync(join(tmpdir(), "warren-bench-tls-"));
  const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
    { stdio: "ignore" },
  );
  const server = tls.createServer({ cert: readFileSync(cert), key: readFileSync(key) });
  rmSync(dir, { recursive: true, force: true });
  const session = new Promise<YamuxSession>((resolve) => {
    server.once("secureConnection", (sock) => resolve(new YamuxSession(sock, { role: "server", keepAliveIntervalMs: 0 })));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as AddressInfo).port, session };
}

const origin = process.argv[2];
if (!origin) {
  console.error("usage: bare-proxy.ts ORIGIN_URL [--tunnel]");
  process.exit(2);
}
const tunnel = process.argv.includes("--tunnel") ? await tunnelListener() : undefined;
const originAddress = new URL(origin).host;
let requests = 0;

// The same pool settings as Warren's targets (proxy/targets/upstream-pools.ts).
const pool = new Pool(origin, {
  connections: 256,
  pipelining: 1,
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 600_000,
  ...(tunnel
    ? {
        connect: (_opts: unknown, cb: (err: Error | null, socket: Duplex | null) => void) => {
          void tunnel.session.then(async (session) => {
            const stream = session.openStream();
            try {
              await requestOpen(stream, { address: originAddress, requestId: `bench-${++requests}` }, 10_000, () => session.isClosed);
              process.nextTick(cb, null, stream);
            } catch (e) {
              stream.destroy();
              process.nextTick(cb, e as Error, null);
            }
          });
        },
      }
    : {}),
} as Pool.Options);

const server = http.createServer((req, res) => {
  const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
  const relay = new Relay(res);
  pool.dispatch({ method: req.method as Dispatcher.HttpMethod, path: req.url!, headers: endToEnd(req.rawHeaders), body: hasBody ? req : null }, relay);
  res.once("close", () => {
    if (!res.writableFinished) relay.abort(new Error("client went away"));
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;

server.listen(0, "127.0.0.1", () => {
  process.send?.({ port: (server.address() as AddressInfo).port, tunnelPort: tunnel?.port });
});

process.on("message", (m: { cmd?: string }) => {
  if (m.cmd === "exit") {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
process.on("disconnect", () => process.exit(0));
