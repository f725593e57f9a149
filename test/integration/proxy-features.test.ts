// Data-plane features of issue 4 that the other proxy tests do not reach: HTTPS listeners (Warren's
// CA or an uploaded certificate), static responses and redirects, per-route options, per-target
// headers (sensitive ones write-only), trusted proxies, the PROXY protocol, header limits,
// consistent-hash / least-active / random balancing, and the listener lifecycle.
//
// Everything runs against a real `warren serve` on loopback, driven through the JSON API and real
// HTTP/TLS sockets. There are no sleeps: each step waits for the event it needs (a response, a
// socket close, a request arriving at an origin, a log line).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { Duplex } from "node:stream";
import { Agent, request } from "undici";
import { BIN, ROOT, type JsonApi, type LogLine, type WarrenProcess } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { freePort } from "../helpers/agent-process.ts";
import { CertificateAuthority } from "../../management/pki/index.ts";
import { FALLBACK_NAME } from "../../management/tls/fallback-issuer.ts";

// ---------------------------------------------------------------------------------------------
// Shapes of the JSON API answers we read.

interface ListenerJson {
  id: string;
  spec: { name: string; port?: number; bindAddress?: string; protocol: string; enabled?: boolean; acceptProxyProtocol?: boolean; tlsCertificatePem?: string; tlsPrivateKeyPem?: string };
  status: { state: string; error?: string; boundPort?: number };
  tlsPrivateKeySet?: boolean;
  servesFallbackCertificate?: boolean;
}
interface TargetHeaderJson {
  name: string;
  value?: string;
  sensitive?: boolean;
  valueSet?: boolean;
}
interface RouteJson {
  id: string;
  spec: { targets?: { id: string; headers?: TargetHeaderJson[] }[] };
}
interface Echo {
  origin: string;
  method: string;
  url: string;
  headers: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Raw sockets, TLS and small origins.

interface RawResult {
  text: string;
  /** The socket error, if the connection failed instead of closing cleanly. */
  error?: NodeJS.ErrnoException;
}

/** Writes `chunks` to a fresh TCP connection and collects everything until the server closes it. */
function rawExchange(port: number, chunks: (string | Buffer)[]): Promise<RawResult> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => {
      for (const c of chunks) s.write(c);
    });
    const parts: Buffer[] = [];
    let error: NodeJS.ErrnoException | undefined;
    s.on("data", (d: Buffer) => parts.push(d));
    s.on("error", (e: NodeJS.ErrnoException) => (error = e));
    s.on("close", () => resolve({ text: Buffer.concat(parts).toString("latin1"), ...(error ? { error } : {}) }));
  });
}

/** Resolves with the connect error code for a TCP connection attempt ("connected" when it succeeded). */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve("connected");
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/**
 * Sends `head`, then `chunk()` blocks as fast as the server takes them, until the answer has arrived
 * and 2 MiB more were sent after it, then ends. What a client uploading a large body sees when the
 * server refuses it early: the answer, and no reset while it is still sending.
 */
function uploadPastAnswer(port: number, head: string, chunk: () => Buffer | string): Promise<RawResult> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    const parts: Buffer[] = [];
    let error: NodeJS.ErrnoException | undefined;
    let afterAnswer = 0;
    const pump = () => {
      while (!s.destroyed && s.writable) {
        if (parts.length > 0 && afterAnswer >= 2 * 1024 * 1024) return void s.end();
        const c = chunk();
        if (parts.length > 0) afterAnswer += c.length;
        if (!s.write(c)) return void s.once("drain", pump);
      }
    };
    s.once("connect", () => {
      s.write(head);
      pump();
    });
    s.on("data", (d: Buffer) => parts.push(d));
    s.on("error", (e: NodeJS.ErrnoException) => (error = e));
    s.on("close", () => resolve({ text: Buffer.concat(parts).toString("latin1"), ...(error ? { error } : {}) }));
  });
}

/** Body of a raw HTTP/1.1 response (after the blank line). */
function rawBody(text: string): string {
  const i = text.indexOf("\r\n\r\n");
  return i < 0 ? "" : text.slice(i + 4);
}

interface TlsProbe {
  authorized: boolean;
  authorizationError: string | undefined;
  cert: tls.PeerCertificate;
}

/** A TLS handshake with `servername` against `ca`; resolves with what the client saw. */
function tlsProbe(port: number, servername: string, ca: string): Promise<TlsProbe> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, servername, ca, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }, () => {
      const out = { authorized: s.authorized, authorizationError: s.authorizationError ? String(s.authorizationError) : undefined, cert: s.getPeerCertificate() };
      s.end();
      resolve(out);
    });
    s.once("error", reject);
  });
}

interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTPS request on a fresh connection, verifying the server against `ca` for `servername`. */
function httpsRequest(port: number, path: string, o: { ca: string; servername: string; headers?: Record<string, string>; method?: string }): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: "127.0.0.1", port, path, method: o.method ?? "GET", servername: o.servername, ca: o.ca, agent: false, headers: { host: o.servername, ...o.headers } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/**
 * Reads HTTP/1.1 responses with a Content-Length off one persistent connection, in order; "closed"
 * when the server closed the connection instead of answering.
 */
function responseReader(s: net.Socket) {
  let buf = Buffer.alloc(0);
  let closed = false;
  let wake: (() => void) | undefined;
  s.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    wake?.();
  });
  s.on("close", () => {
    closed = true;
    wake?.();
  });
  s.on("error", () => {});
  return async (): Promise<{ status: number; body: string } | "closed"> => {
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = buf.subarray(0, end).toString("latin1");
        const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length >= end + 4 + len) {
          const body = buf.subarray(end + 4, end + 4 + len).toString("utf8");
          buf = buf.subarray(end + 4 + len);
          return { status: Number(head.split(" ")[1]), body };
        }
      }
      if (closed) return "closed";
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
  };
}

interface RecordedRequest {
  url: string;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  completed: boolean;
  /** Settles when the request ended or was aborted. */
  done: Promise<void>;
}

/**
 * An origin that records each request's body size and whether the body arrived completely; `/hold`
 * requests are answered only on release() (the first arrival resolves `held`).
 */
async function startRecordingOrigin(name: string) {
  const requests: RecordedRequest[] = [];
  let releaseHold!: () => void;
  const holdReleased = new Promise<void>((r) => (releaseHold = r));
  let heldResolve!: () => void;
  const held = new Promise<void>((r) => (heldResolve = r));
  const server = http.createServer((req, res) => {
    let settle!: () => void;
    const rec: RecordedRequest = { url: req.url ?? "", headers: req.headers, bytes: 0, completed: false, done: new Promise<void>((r) => (settle = r)) };
    requests.push(rec);
    req.on("data", (d: Buffer) => (rec.bytes += d.length));
    req.on("end", () => {
      rec.completed = true;
      settle();
      if (req.url === "/hold") {
        heldResolve();
        void holdReleased.then(() => res.writeHead(200, { "x-origin": name }).end(name));
      } else {
        res.writeHead(200, { "content-type": "application/json", "x-origin": name });
        res.end(JSON.stringify({ origin: name, bytes: rec.bytes }));
      }
    });
    req.on("close", () => settle());
    req.on("error", () => settle());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    requests,
    held,
    release: () => releaseHold(),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------------------------------------

describe("proxy data-plane features", () => {
  const warren = withWarren({ admin: true });
  let w: WarrenProcess;
  let api: JsonApi;
  let c: Record<string, string>;
  let httpPort: number;
  let httpListenerId: string;
  const origins: Origin[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    ({ w, api, admin: c } = warren);
    const cfg = await api.call("ProxyService/GetProxyConfig", {}, c);
    const seeded = (cfg.json.listeners as ListenerJson[]).find((l) => l.spec.name === "public-http")!;
    assert.equal(seeded.status.state, "LISTENER_STATE_RUNNING");
    httpListenerId = seeded.id;
    httpPort = seeded.status.boundPort!;
    for (const n of ["a", "b", "c"]) origins.push(await startOrigin(n));
  });
  after(async () => {
    for (const fn of cleanups) await fn();
    for (const o of origins) await o.close();
  });

  const call = async (proc: string, body: unknown) => {
    const r = await api.call(`ProxyService/${proc}`, body, c);
    assert.equal(r.status, 200, `${proc}: ${r.text}`);
    return r.json;
  };
  const createRoute = async (spec: Record<string, unknown>): Promise<RouteJson> => (await call("CreateRoute", { spec: { listenerId: httpListenerId, ...spec } })).route as RouteJson;
  const createListener = async (spec: Record<string, unknown>): Promise<ListenerJson> =>
    (await call("CreateListener", { spec: { bindAddress: "127.0.0.1", enabled: true, ...spec } })).listener as ListenerJson;
  const config = async () => {
    const r = await api.call("ProxyService/GetProxyConfig", {}, c);
    assert.equal(r.status, 200, r.text);
    return { text: r.text, listeners: r.json.listeners as ListenerJson[], routes: r.json.routes as RouteJson[] };
  };
  const listenerById = async (id: string) => (await config()).listeners.find((l) => l.id === id);
  /** The fallback issuer's certificate: HTTPS listeners without a certificate of their own chain to it. */
  const fallbackPem = (): string => readFileSync(join(w.configDir, "certs", "public-fallback", "ca.crt.pem"), "utf8");
  const direct = (o: { url: string }, extra: Record<string, unknown> = {}) => ({ kind: "TARGET_KIND_DIRECT", url: o.url, enabled: true, ...extra });
  const get = (port: number, path: string, headers: Record<string, string> = {}, method = "GET") =>
    request(`http://127.0.0.1:${port}${path}`, { method: method as "GET", headers });
  const getEcho = async (path: string, host: string, headers: Record<string, string> = {}): Promise<Echo> => {
    const r = await get(httpPort, path, { host, ...headers });
    assert.equal(r.statusCode, 200);
    return (await r.body.json()) as Echo;
  };

  // --- 1. HTTPS listeners --------------------------------------------------------------------

  describe("HTTPS listeners", () => {
    let selfSigned: ListenerJson;
    let uploaded: { id: string; port: number; certPem: string; caPem: string };

    it("without a certificate: RUNNING as soon as CreateListener answers, serving the fallback from its own issuer, not the management CA", async () => {
      selfSigned = await createListener({ name: "tls-own", port: 0, protocol: "LISTENER_PROTOCOL_HTTPS" });
      // The write returns after the snapshot was applied and the listener reconciled: the status in
      // the response is already final, and GetProxyConfig agrees.
      assert.equal(selfSigned.status.state, "LISTENER_STATE_RUNNING", JSON.stringify(selfSigned.status));
      const port = selfSigned.status.boundPort!;
      assert.ok(port > 0);
      assert.equal(selfSigned.tlsPrivateKeySet ?? false, false);
      const read = await listenerById(selfSigned.id);
      assert.equal(read?.status.state, "LISTENER_STATE_RUNNING");
      assert.equal(read?.status.boundPort, port);

      assert.equal(selfSigned.servesFallbackCertificate, true, "the API flags the fallback");
      const warnings = (await api.call("ProxyService/GetProxyConfig", {}, c)).json.warnings as { fallbackCertificateListenerIds?: string[] };
      assert.ok(warnings.fallbackCertificateListenerIds?.includes(selfSigned.id), JSON.stringify(warnings));
      const probe = await tlsProbe(port, FALLBACK_NAME, fallbackPem());
      assert.equal(probe.authorized, true, `verified against the fallback issuer: ${probe.authorizationError}`);
      const served = new X509Certificate(probe.cert.raw);
      assert.equal(served.checkIssued(new X509Certificate(w.caPem)), false, "never issued by the management CA that agents pin");
      assert.equal(served.checkIssued(new X509Certificate(fallbackPem())), true);
      assert.notEqual(new X509Certificate(fallbackPem()).fingerprint256, new X509Certificate(w.caPem).fingerprint256);

      await call("CreateRoute", {
        spec: { listenerId: selfSigned.id, name: "tls-forward", pathPrefix: "/fw", action: "ROUTE_ACTION_FORWARD", targets: [direct(origins[0]!)] },
      });
      const r = await httpsRequest(port, "/fw/x", { ca: fallbackPem(), servername: FALLBACK_NAME });
      assert.equal(r.status, 200);
      const seen = JSON.parse(r.body) as Echo;
      assert.equal(seen.url, "/fw/x");
      assert.equal(seen.headers["x-forwarded-proto"], "https", "the origin learns the client spoke HTTPS");
    });

    it("adds Strict-Transport-Security on an HTTPS listener when hsts_max_age_seconds is set", async () => {
      await call("CreateRoute", {
        spec: {
          listenerId: selfSigned.id,
          name: "hsts",
          pathPrefix: "/hsts",
          action: "ROUTE_ACTION_FORWARD",
          options: { hstsMaxAgeSeconds: 31536000 },
          targets: [direct(origins[0]!)],
        },
      });
      const r = await httpsRequest(selfSigned.status.boundPort!, "/hsts/page", { ca: fallbackPem(), servername: FALLBACK_NAME });
      assert.equal(r.status, 200);
      assert.equal(r.headers["strict-transport-security"], "max-age=31536000");
      const without = await httpsRequest(selfSigned.status.boundPort!, "/fw/page", { ca: fallbackPem(), servername: FALLBACK_NAME });
      assert.equal(without.headers["strict-transport-security"], undefined, "only routes with the option send it");
    });

    it(
      "does not send Strict-Transport-Security over plain HTTP (RFC 6797 §7.2)",
      async () => {
        await createRoute({ name: "hsts-http", hosts: ["hsts-http.test"], action: "ROUTE_ACTION_FORWARD", options: { hstsMaxAgeSeconds: 600 }, targets: [direct(origins[0]!)] });
        const r = await get(httpPort, "/", { host: "hsts-http.test" });
        assert.equal(r.statusCode, 200);
        await r.body.dump();
        assert.equal(r.headers["strict-transport-security"], undefined);
      },
    );

    it("serves an uploaded certificate, never returns its key, keeps the key on an update without it, and refuses a mismatched key", async () => {
      const mat = await CertificateAuthority.generate({ commonName: "Test Upload CA" });
      const testCa = await CertificateAuthority.fromPem(mat.certPem, mat.keyPem);
      const leaf = await testCa.issueServerCertificate(["uploaded.test"]);
      const other = await testCa.issueServerCertificate(["uploaded.test"]);

      const bad = await api.call(
        "ProxyService/CreateListener",
        { spec: { name: "tls-bad", bindAddress: "127.0.0.1", port: 0, enabled: true, protocol: "LISTENER_PROTOCOL_HTTPS", tlsCertificatePem: leaf.certPem, tlsPrivateKeyPem: other.keyPem } },
        c,
      );
      assert.equal(bad.json.code, "invalid_argument", bad.text);
      assert.match(String(bad.json.message), /^spec\.tls_private_key_pem: /);
      assert.ok(!(await config()).listeners.some((l) => l.spec.name === "tls-bad"), "the invalid write changed nothing");

      const created = await createListener({ name: "tls-upload", port: 0, protocol: "LISTENER_PROTOCOL_HTTPS", tlsCertificatePem: leaf.certPem, tlsPrivateKeyPem: leaf.keyPem });
      assert.equal(created.status.state, "LISTENER_STATE_RUNNING");
      assert.equal(created.tlsPrivateKeySet, true);
      assert.equal(created.spec.tlsPrivateKeyPem ?? "", "", "the create response carries no key");
      const port = created.status.boundPort!;

      const probe = await tlsProbe(port, "uploaded.test", mat.certPem);
      assert.equal(probe.authorized, true, `verified against the uploading CA: ${probe.authorizationError}`);
      assert.equal(new X509Certificate(probe.cert.raw).fingerprint256, new X509Certificate(leaf.certPem).fingerprint256, "exactly the uploaded certificate");
      const notWarren = await tlsProbe(port, "uploaded.test", w.caPem);
      assert.equal(notWarren.authorized, false, "not one from Warren's CA");

      const cfg = await config();
      const read = cfg.listeners.find((l) => l.id === created.id)!;
      assert.equal(read.tlsPrivateKeySet, true);
      assert.equal(read.spec.tlsPrivateKeyPem ?? "", "");
      assert.match(read.spec.tlsCertificatePem ?? "", /BEGIN CERTIFICATE/);
      const keyBody = leaf.keyPem.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
      assert.ok(!cfg.text.includes("PRIVATE KEY"), "no key in GetProxyConfig");
      assert.ok(!cfg.text.includes(keyBody.slice(0, 40)), "no key material in GetProxyConfig");
      assert.ok(!w.allOutput().includes(keyBody.slice(0, 40)), "no key material in the logs");

      // The key is write-only: an update that sends the certificate back without it keeps it.
      const upd = (await call("UpdateListener", {
        id: created.id,
        spec: { name: "tls-upload-renamed", bindAddress: "127.0.0.1", port: 0, enabled: true, protocol: "LISTENER_PROTOCOL_HTTPS", tlsCertificatePem: leaf.certPem },
      })).listener as ListenerJson;
      assert.equal(upd.tlsPrivateKeySet, true);
      assert.equal(upd.status.state, "LISTENER_STATE_RUNNING");
      const again = await tlsProbe(upd.status.boundPort!, "uploaded.test", mat.certPem);
      assert.equal(again.authorized, true);
      uploaded = { id: created.id, port: upd.status.boundPort!, certPem: leaf.certPem, caPem: mat.certPem };
    });

    it(
      "leaves an HTTPS listener with an uploaded certificate untouched when only its name changes (open connections keep working)",
      async () => {
        await call("CreateRoute", { spec: { listenerId: uploaded.id, name: "tls-static", isDefault: true, action: "ROUTE_ACTION_STATIC", staticResponse: { status: 200, body: "tls-ok" } } });
        const s = tls.connect({ host: "127.0.0.1", port: uploaded.port, servername: "uploaded.test", ca: uploaded.caPem, ALPNProtocols: ["http/1.1"] });
        const next = responseReader(s);
        try {
          s.write("GET / HTTP/1.1\r\nHost: uploaded.test\r\n\r\n");
          assert.deepEqual(await next(), { status: 200, body: "tls-ok" });
          const renamed = (await call("UpdateListener", {
            id: uploaded.id,
            spec: { name: "tls-upload-again", bindAddress: "127.0.0.1", port: 0, enabled: true, protocol: "LISTENER_PROTOCOL_HTTPS", tlsCertificatePem: uploaded.certPem },
          })).listener as ListenerJson;
          assert.equal(renamed.status.state, "LISTENER_STATE_RUNNING");
          assert.equal(renamed.status.boundPort, uploaded.port, "still bound where it was (a restart of a port-0 listener picks a new port)");
          s.write("GET / HTTP/1.1\r\nHost: uploaded.test\r\n\r\n");
          assert.deepEqual(await next(), { status: 200, body: "tls-ok" }, "the keep-alive connection survived the rename");
        } finally {
          s.destroy();
        }
      },
    );
  });

  // --- 2. Static responses and redirects -------------------------------------------------------

  describe("static responses and redirects", () => {
    it("answers a static route with its status, headers and body (no body for HEAD)", async () => {
      await createRoute({
        name: "teapot",
        hosts: ["static.test"],
        action: "ROUTE_ACTION_STATIC",
        staticResponse: { status: 418, headers: [{ name: "content-type", value: "text/plain; charset=utf-8" }, { name: "x-static", value: "yes" }], body: "short and stout" },
      });
      const r = await get(httpPort, "/anything?x=1", { host: "static.test" });
      assert.equal(r.statusCode, 418);
      assert.equal(r.headers["content-type"], "text/plain; charset=utf-8");
      assert.equal(r.headers["x-static"], "yes");
      assert.equal(r.headers["content-length"], "15");
      assert.equal(await r.body.text(), "short and stout");
      const head = await get(httpPort, "/", { host: "static.test" }, "HEAD");
      assert.equal(head.statusCode, 418);
      assert.equal(head.headers["x-static"], "yes");
      assert.equal(await head.body.text(), "");
    });

    it("redirects with 301/302/307/308 in every mode, keeping or dropping the query", async () => {
      const cases: { host: string; redirect: Record<string, unknown>; path: string; status: number; location: string }[] = [
        { host: "r301.test", redirect: { status: 301, mode: "REDIRECT_MODE_SAME_HOST_PATH", location: "/new", keepQuery: true }, path: "/old/page?a=1&b=2", status: 301, location: "/new?a=1&b=2" },
        { host: "r302.test", redirect: { status: 302, mode: "REDIRECT_MODE_SAME_HOST_PATH", location: "/new", keepQuery: false }, path: "/old/page?a=1", status: 302, location: "/new" },
        {
          host: "r307.test",
          redirect: { status: 307, mode: "REDIRECT_MODE_EXTERNAL_ORIGIN", location: "https://example.org", keepQuery: true },
          path: "/p/q?x=1",
          status: 307,
          location: "https://example.org/p/q?x=1",
        },
        {
          host: "r307b.test",
          redirect: { status: 307, mode: "REDIRECT_MODE_EXTERNAL_ORIGIN", location: "https://example.org:8443/", keepQuery: false },
          path: "/p/q?x=1",
          status: 307,
          location: "https://example.org:8443/p/q",
        },
        {
          host: "r308.test",
          redirect: { status: 308, mode: "REDIRECT_MODE_ABSOLUTE_URL", location: "https://example.org/landing", keepQuery: false },
          path: "/p/q?x=1",
          status: 308,
          location: "https://example.org/landing",
        },
        {
          host: "r308q.test",
          redirect: { status: 308, mode: "REDIRECT_MODE_ABSOLUTE_URL", location: "https://example.org/landing", keepQuery: true },
          path: "/p?x=1",
          status: 308,
          location: "https://example.org/landing?x=1",
        },
        {
          host: "r301q.test",
          redirect: { status: 301, mode: "REDIRECT_MODE_ABSOLUTE_URL", location: "https://example.org/landing?src=warren", keepQuery: true },
          path: "/p?x=1",
          status: 301,
          location: "https://example.org/landing?src=warren&x=1",
        },
      ];
      for (const k of cases) await createRoute({ name: k.host, hosts: [k.host], action: "ROUTE_ACTION_REDIRECT", redirect: k.redirect });
      for (const k of cases) {
        const r = await get(httpPort, k.path, { host: k.host });
        await r.body.dump();
        assert.equal(r.statusCode, k.status, k.host);
        assert.equal(r.headers.location, k.location, k.host);
      }
    });
  });

  // --- 3. Route options --------------------------------------------------------------------------

  describe("route options", () => {
    it("strips the path prefix (segment-aware, onto the target's base path) only when asked", async () => {
      await createRoute({ name: "strip", hosts: ["strip.test"], pathPrefix: "/api", action: "ROUTE_ACTION_FORWARD", options: { stripPathPrefix: true }, targets: [direct(origins[0]!)] });
      await createRoute({ name: "nostrip", hosts: ["nostrip.test"], pathPrefix: "/api", action: "ROUTE_ACTION_FORWARD", targets: [direct(origins[0]!)] });
      await createRoute({
        name: "strip-base",
        hosts: ["strip-base.test"],
        pathPrefix: "/api",
        action: "ROUTE_ACTION_FORWARD",
        options: { stripPathPrefix: true },
        targets: [direct({ url: `${origins[0]!.url}/v2` })],
      });
      assert.equal((await getEcho("/api/users?x=1", "strip.test")).url, "/users?x=1");
      assert.equal((await getEcho("/api", "strip.test")).url, "/");
      assert.equal((await getEcho("/api?x=1", "strip.test")).url, "/?x=1");
      assert.equal((await getEcho("/api/users?x=1", "nostrip.test")).url, "/api/users?x=1");
      assert.equal((await getEcho("/api/users", "strip-base.test")).url, "/v2/users");
    });

    it("rewrites Host to the target by default and preserves the client's Host when asked", async () => {
      await createRoute({ name: "rewrite-host", hosts: ["rewrite.test"], action: "ROUTE_ACTION_FORWARD", targets: [direct(origins[1]!)] });
      await createRoute({ name: "keep-host", hosts: ["keep.test"], action: "ROUTE_ACTION_FORWARD", options: { preserveHost: true }, targets: [direct(origins[1]!)] });
      const rewritten = await getEcho("/", "rewrite.test");
      assert.equal(rewritten.headers.host, `127.0.0.1:${origins[1]!.port}`);
      assert.equal(rewritten.headers["x-forwarded-host"], "rewrite.test");
      assert.equal((await getEcho("/", "keep.test")).headers.host, "keep.test");
    });

    it("adds and removes request headers (the origin sees it) and response headers (the client sees it)", async () => {
      await createRoute({
        name: "headers",
        hosts: ["headers.test"],
        action: "ROUTE_ACTION_FORWARD",
        options: {
          addRequestHeaders: [
            { name: "X-Added", value: "by-warren" },
            { name: "X-Multi", value: "second" },
          ],
          removeRequestHeaders: ["X-Client-Secret"],
          addResponseHeaders: [{ name: "X-Served-By", value: "warren-test" }],
          removeResponseHeaders: ["x-origin"],
        },
        targets: [direct(origins[2]!)],
      });
      const r = await get(httpPort, "/h", { host: "headers.test", "x-client-secret": "do-not-forward", "x-multi": "first", "x-kept": "kept" });
      assert.equal(r.statusCode, 200);
      const seen = (await r.body.json()) as Echo;
      assert.equal(seen.origin, "c");
      assert.equal(seen.headers["x-added"], "by-warren");
      assert.equal(seen.headers["x-multi"], "first, second", "add appends to what the client sent");
      assert.equal(seen.headers["x-client-secret"], undefined);
      assert.equal(seen.headers["x-kept"], "kept");
      assert.equal(r.headers["x-served-by"], "warren-test");
      assert.equal(r.headers["x-origin"], undefined, "the origin's x-origin was removed");
    });

    it("answers 308 to the https:// URL on an HTTP listener with https_redirect, without forwarding", async () => {
      const before = origins[0]!.seen.length;
      await createRoute({ name: "to-https", hosts: ["secure.test"], action: "ROUTE_ACTION_FORWARD", options: { httpsRedirect: true }, targets: [direct(origins[0]!)] });
      const r = await get(httpPort, "/path/x?q=1", { host: "secure.test" });
      await r.body.dump();
      assert.equal(r.statusCode, 308);
      assert.equal(r.headers.location, "https://secure.test/path/x?q=1");
      assert.equal(origins[0]!.seen.length, before, "nothing was forwarded");
    });

    it("enforces max_body_bytes: 413 for a larger Content-Length (nothing forwarded) and for a larger chunked body (never completed upstream)", async () => {
      const rec = await startRecordingOrigin("limited");
      cleanups.push(rec.close);
      await createRoute({ name: "limited", hosts: ["limit.test"], action: "ROUTE_ACTION_FORWARD", options: { maxBodyBytes: "1024" }, targets: [direct(rec)] });

      // Exactly the limit passes.
      const ok = await request(`http://127.0.0.1:${httpPort}/upload`, { method: "POST", headers: { host: "limit.test" }, body: Buffer.alloc(1024, 1) });
      assert.equal(ok.statusCode, 200);
      assert.equal(((await ok.body.json()) as { bytes: number }).bytes, 1024);
      assert.equal(rec.requests.length, 1);

      // A declared length over the limit is refused before anything is forwarded. Only the head is
      // sent, so the server's close never races unread body bytes.
      const declared = await rawExchange(httpPort, ["POST /upload HTTP/1.1\r\nHost: limit.test\r\nContent-Length: 1025\r\n\r\n"]);
      assert.match(declared.text, /^HTTP\/1\.1 413 /);
      assert.equal(rec.requests.length, 1, "the origin never saw the oversized request");

      // A chunked body is counted as it streams. Warren may already have opened the upstream request
      // (headers and the first 1024 bytes can reach the origin); the body that crosses the limit is
      // never delivered, the upstream request is aborted, and the client gets 413. The whole request
      // is written at once and is small, so Warren has read all of it when it closes the connection.
      const chunk = "x".repeat(512);
      const chunked = `POST /upload HTTP/1.1\r\nHost: limit.test\r\nTransfer-Encoding: chunked\r\n\r\n${`200\r\n${chunk}\r\n`.repeat(4)}0\r\n\r\n`;
      const streamed = await rawExchange(httpPort, [chunked]);
      assert.equal(streamed.error, undefined, `the client received the answer: ${streamed.error?.message}`);
      assert.match(streamed.text, /^HTTP\/1\.1 413 /);
      for (const r of rec.requests.slice(1)) {
        await r.done;
        assert.equal(r.completed, false, "the oversized body never completed at the origin");
        assert.ok(r.bytes <= 1024, `the origin got ${r.bytes} bytes`);
      }

      // A client that keeps uploading after the 413 (as curl -T does) reads the answer instead of a
      // reset: Warren lingers, discarding the rest, and closes when the client is done.
      const block = Buffer.alloc(64 * 1024, 0x61);
      const big = await uploadPastAnswer(httpPort, "POST /upload HTTP/1.1\r\nHost: limit.test\r\nContent-Length: 67108864\r\n\r\n", () => block);
      assert.equal(big.error, undefined, `no reset while still sending: ${big.error?.message}`);
      assert.match(big.text, /^HTTP\/1\.1 413 /);
      const chunkedBlock = Buffer.concat([Buffer.from("10000\r\n"), block, Buffer.from("\r\n")]);
      const bigChunked = await uploadPastAnswer(httpPort, "POST /upload HTTP/1.1\r\nHost: limit.test\r\nTransfer-Encoding: chunked\r\n\r\n", () => chunkedBlock);
      assert.equal(bigChunked.error, undefined, `no reset while still sending (chunked): ${bigChunked.error?.message}`);
      assert.match(bigChunked.text, /^HTTP\/1\.1 413 /);
    });

    it("sends per-target headers; a sensitive value is never returned and is kept when an update sends it empty", async () => {
      const secret = "s3cr3t-token-7f1e2d";
      const route = await createRoute({
        name: "target-headers",
        hosts: ["th.test"],
        action: "ROUTE_ACTION_FORWARD",
        targets: [
          direct(origins[1]!, {
            headers: [
              { name: "X-Api-Key", value: secret, sensitive: true },
              { name: "X-Plain", value: "visible" },
            ],
          }),
        ],
      });
      const first = await getEcho("/", "th.test");
      assert.equal(first.headers["x-api-key"], secret);
      assert.equal(first.headers["x-plain"], "visible");

      const check = (r: RouteJson | undefined, plain: string) => {
        const hs = r?.spec.targets?.[0]?.headers ?? [];
        const key = hs.find((h) => h.name === "X-Api-Key");
        assert.equal(key?.value ?? "", "", "the sensitive value is not returned");
        assert.equal(key?.valueSet, true);
        assert.equal(key?.sensitive, true);
        assert.equal(hs.find((h) => h.name === "X-Plain")?.value, plain, "non-sensitive values are returned");
      };
      check(route, "visible");
      const cfg = await config();
      check(cfg.routes.find((r) => r.id === route.id), "visible");
      assert.ok(!cfg.text.includes(secret), "the secret is nowhere in GetProxyConfig");

      const targetId = route.spec.targets![0]!.id;
      const spec = (plain: string, targetIdToSend: string) => ({
        listenerId: httpListenerId,
        name: "target-headers",
        hosts: ["th.test"],
        action: "ROUTE_ACTION_FORWARD",
        targets: [direct(origins[1]!, { id: targetIdToSend, headers: [{ name: "X-Api-Key", value: "", sensitive: true }, { name: "X-Plain", value: plain }] })],
      });
      const upd = (await call("UpdateRoute", { id: route.id, spec: spec("changed", targetId) })).route as RouteJson;
      check(upd, "changed");
      assert.equal(upd.spec.targets![0]!.id, targetId, "the target kept its id");
      const second = await getEcho("/", "th.test");
      assert.equal(second.headers["x-plain"], "changed", "the update is live");
      assert.equal(second.headers["x-api-key"], secret, "the stored secret was kept");

      // Without the target id there is no stored value to keep.
      const noId = await api.call("ProxyService/UpdateRoute", { id: route.id, spec: spec("again", "") }, c);
      assert.equal(noId.json.code, "invalid_argument", noId.text);
      assert.match(String(noId.json.message), /^spec\.targets\[0\]\.headers\[0\]\.value: /);
      assert.equal((await getEcho("/", "th.test")).headers["x-api-key"], secret, "the refused update changed nothing");
      assert.ok(!w.allOutput().includes(secret), "the secret never reached the logs");
    });
  });

  // --- 5. PROXY protocol -------------------------------------------------------------------------

  describe("PROXY protocol listeners", () => {
    let rec: Awaited<ReturnType<typeof startRecordingOrigin>>;
    /** Client sockets a timed-out test may leave open. */
    const openSockets = new Set<net.Socket>();
    before(async () => {
      rec = await startRecordingOrigin("pp");
      cleanups.push(rec.close);
    });
    after(() => {
      for (const s of openSockets) s.destroy();
    });

    it("takes the client address from a v1 header; garbage or a bare request closes the connection and reaches nothing", async () => {
      const l = await createListener({ name: "pp-http", port: 0, protocol: "LISTENER_PROTOCOL_HTTP", acceptProxyProtocol: true });
      assert.equal(l.status.state, "LISTENER_STATE_RUNNING");
      await call("CreateRoute", { spec: { listenerId: l.id, name: "pp", isDefault: true, action: "ROUTE_ACTION_FORWARD", targets: [direct(rec)] } });
      const port = l.status.boundPort!;

      const ok = await rawExchange(port, ["PROXY TCP4 198.51.100.9 127.0.0.1 5555 80\r\nGET /pp HTTP/1.1\r\nHost: pp.test\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n"]);
      assert.match(ok.text, /^HTTP\/1\.1 200 /);
      assert.equal(rec.requests.length, 1);
      assert.equal(rec.requests[0]!.headers["x-real-ip"], "198.51.100.9");
      assert.equal(rec.requests[0]!.headers["x-forwarded-for"], "198.51.100.9", "the PROXY source, not the spoofed header nor 127.0.0.1");

      for (const bad of ["HELLO 198.51.100.9\r\nGET /pp HTTP/1.1\r\nHost: pp.test\r\n\r\n", "GET /pp HTTP/1.1\r\nHost: pp.test\r\nConnection: close\r\n\r\n"]) {
        const r = await rawExchange(port, [bad]);
        assert.equal(r.text, "", `no HTTP answer for ${JSON.stringify(bad.slice(0, 12))}`);
      }
      assert.equal(rec.requests.length, 1, "the origin saw nothing more");
    });

    it(
      "takes the client address from a v1 header on an HTTPS listener too (header and ClientHello in one write, as balancers send them)",
      {
        // A safety net, not a timing assertion: when the ClientHello is lost the handshake never
        // completes and nothing else would ever end this test.
        timeout: 10_000,
      },
      async () => {
        const l = await createListener({ name: "pp-https", port: 0, protocol: "LISTENER_PROTOCOL_HTTPS", acceptProxyProtocol: true });
        assert.equal(l.status.state, "LISTENER_STATE_RUNNING");
        await call("CreateRoute", { spec: { listenerId: l.id, name: "pp-tls", isDefault: true, action: "ROUTE_ACTION_FORWARD", targets: [direct(rec)] } });
        const before = rec.requests.length;
        const text = await new Promise<string>((resolve, reject) => {
          const raw = net.connect(l.status.boundPort!, "127.0.0.1");
          openSockets.add(raw);
          // TLS runs over this stream; its first write (the ClientHello) goes out in one TCP write
          // together with the PROXY header.
          let first = true;
          const carrier = new Duplex({
            read() {},
            write(chunk: Buffer, _enc, cb) {
              if (first) {
                first = false;
                raw.write(Buffer.concat([Buffer.from("PROXY TCP4 198.51.100.10 127.0.0.1 5556 443\r\n"), chunk]), cb);
              } else raw.write(chunk, cb);
            },
            final(cb) {
              raw.end();
              cb();
            },
          });
          raw.on("data", (d: Buffer) => carrier.push(d));
          raw.on("end", () => carrier.push(null));
          raw.on("error", reject);
          const s = tls.connect({ socket: carrier, servername: FALLBACK_NAME, ca: fallbackPem(), ALPNProtocols: ["http/1.1"] }, () => {
            s.write("GET /pp-tls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
          });
          let out = "";
          s.setEncoding("latin1");
          s.on("data", (d: string) => (out += d));
          s.on("end", () => resolve(out));
          s.on("error", reject);
        });
        assert.match(text, /^HTTP\/1\.1 200 /);
        assert.equal(rec.requests.length, before + 1);
        assert.equal(rec.requests[before]!.headers["x-real-ip"], "198.51.100.10");
        assert.equal(rec.requests[before]!.headers["x-forwarded-for"], "198.51.100.10");
      },
    );
  });

  // --- 6. Header limit and balancing policies ----------------------------------------------------

  describe("header limit", () => {
    it("answers 431 to a header block over 32 KiB and forwards nothing; a 30 KB block is served", async () => {
      await createRoute({ name: "big-headers", hosts: ["big.test"], action: "ROUTE_ACTION_FORWARD", targets: [direct(origins[0]!)] });
      await createRoute({ name: "big-static", hosts: ["big-static.test"], action: "ROUTE_ACTION_STATIC", staticResponse: { status: 200, body: "fits" } });
      const before = origins[0]!.seen.length;
      const r = await rawExchange(httpPort, [`GET / HTTP/1.1\r\nHost: big.test\r\nX-Big: ${"a".repeat(33 * 1024)}\r\n\r\n`]);
      assert.match(r.text, /^HTTP\/1\.1 431 /);
      assert.equal(origins[0]!.seen.length, before);
      // Just under the limit is fine (answered by the static route: node:http origins cap headers at 16 KiB).
      const under = await rawExchange(httpPort, [`GET / HTTP/1.1\r\nHost: big-static.test\r\nX-Big: ${"a".repeat(30 * 1024)}\r\nConnection: close\r\n\r\n`]);
      assert.match(under.text, /^HTTP\/1\.1 200 /);
      assert.equal(rawBody(under.text), "fits");
    });
  });

  describe("balancing policies", () => {
    it("consistent hash on a header: one key always lands on one origin, different keys spread", async () => {
      await createRoute({
        name: "hash",
        hosts: ["hash.test"],
        action: "ROUTE_ACTION_FORWARD",
        loadBalancing: { policy: "BALANCE_POLICY_CONSISTENT_HASH", hashOn: "HASH_ON_HEADER", hashKey: "x-user" },
        targets: origins.map((o) => direct(o)),
      });
      const originFor = async (user: string) => {
        const r = await get(httpPort, "/", { host: "hash.test", "x-user": user });
        assert.equal(r.statusCode, 200);
        await r.body.dump();
        return String(r.headers["x-origin"]);
      };
      for (const user of ["alice", "bob"]) {
        const seen = new Set<string>();
        for (let i = 0; i < 20; i++) seen.add(await originFor(user));
        assert.equal(seen.size, 1, `${user} always lands on one origin, got ${[...seen].join(",")}`);
      }
      const spread = new Map<string, string>();
      for (let i = 0; i < 30; i++) spread.set(`user-${i}`, await originFor(`user-${i}`));
      assert.ok(new Set(spread.values()).size >= 2, "30 different keys do not all land on one origin");
      for (const [user, origin] of spread) assert.equal(await originFor(user), origin, `${user} is stable`);
    });

    it("least active sends new requests away from a target busy with an open request", async () => {
      const x = await startRecordingOrigin("x");
      const y = await startRecordingOrigin("y");
      cleanups.push(x.close, y.close);
      await createRoute({ name: "least", hosts: ["least.test"], action: "ROUTE_ACTION_FORWARD", loadBalancing: { policy: "BALANCE_POLICY_LEAST_ACTIVE" }, targets: [direct(x), direct(y)] });
      const holding = get(httpPort, "/hold", { host: "least.test" });
      const busy = await Promise.race([x.held.then(() => "x"), y.held.then(() => "y")]);
      const idle = busy === "x" ? "y" : "x";
      for (let i = 0; i < 6; i++) {
        const r = await get(httpPort, "/", { host: "least.test" });
        assert.equal(r.statusCode, 200);
        await r.body.dump();
        assert.equal(r.headers["x-origin"], idle, `request ${i} goes to the idle origin`);
      }
      x.release();
      y.release();
      const held = await holding;
      assert.equal(held.statusCode, 200);
      assert.equal(await held.body.text(), busy);
    });

    it("random routes every request to one of the targets and uses them all", async () => {
      await createRoute({ name: "random", hosts: ["random.test"], action: "ROUTE_ACTION_FORWARD", loadBalancing: { policy: "BALANCE_POLICY_RANDOM" }, targets: origins.slice(0, 2).map((o) => direct(o)) });
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const r = await get(httpPort, "/", { host: "random.test" });
        assert.equal(r.statusCode, 200);
        await r.body.dump();
        seen.add(String(r.headers["x-origin"]));
      }
      // Both of two targets over 40 uniform picks: missing one has probability 2^-39.
      assert.deepEqual([...seen].sort(), ["a", "b"]);
    });
  });

  // --- 7. Listener lifecycle ----------------------------------------------------------------------

  describe("listener lifecycle", () => {
    it("disables (connections refused), enables (serving again on the same port), moves with a port change, and refuses to delete a listener with routes", async () => {
      const port1 = await freePort();
      const l = await createListener({ name: "life", port: port1, protocol: "LISTENER_PROTOCOL_HTTP" });
      assert.equal(l.status.state, "LISTENER_STATE_RUNNING");
      assert.equal(l.status.boundPort, port1);
      const route = (await call("CreateRoute", {
        spec: { listenerId: l.id, name: "life", isDefault: true, action: "ROUTE_ACTION_STATIC", staticResponse: { status: 200, body: "alive" } },
      })).route as RouteJson;
      const alive = async (port: number) => {
        const r = await rawExchange(port, ["GET / HTTP/1.1\r\nHost: life.test\r\nConnection: close\r\n\r\n"]);
        assert.match(r.text, /^HTTP\/1\.1 200 /);
        assert.equal(rawBody(r.text), "alive");
      };
      await alive(port1);

      const disabled = (await call("DisableListener", { id: l.id })).listener as ListenerJson;
      assert.equal(disabled.status.state, "LISTENER_STATE_STOPPED");
      assert.equal(disabled.spec.enabled ?? false, false);
      assert.equal(await connectOutcome(port1), "ECONNREFUSED");

      const enabled = (await call("EnableListener", { id: l.id })).listener as ListenerJson;
      assert.equal(enabled.status.state, "LISTENER_STATE_RUNNING");
      assert.equal(enabled.status.boundPort, port1);
      await alive(port1);

      const port2 = await freePort();
      const moved = (await call("UpdateListener", { id: l.id, spec: { name: "life", bindAddress: "127.0.0.1", port: port2, enabled: true, protocol: "LISTENER_PROTOCOL_HTTP" } })).listener as ListenerJson;
      assert.equal(moved.status.state, "LISTENER_STATE_RUNNING");
      assert.equal(moved.status.boundPort, port2);
      await alive(port2);
      assert.equal(await connectOutcome(port1), "ECONNREFUSED", "the old port is closed");

      const refused = await api.call("ProxyService/DeleteListener", { id: l.id }, c);
      assert.equal(refused.json.code, "failed_precondition", refused.text);
      await alive(port2);

      await call("DeleteRoute", { id: route.id });
      await call("DeleteListener", { id: l.id });
      assert.equal(await connectOutcome(port2), "ECONNREFUSED");
      assert.equal(await listenerById(l.id), undefined);
    });

    it("leaves a listener untouched when only its name changes (open connections keep working)", async () => {
      const l = await createListener({ name: "rename-me", port: 0, protocol: "LISTENER_PROTOCOL_HTTP" });
      await call("CreateRoute", { spec: { listenerId: l.id, name: "rename", isDefault: true, action: "ROUTE_ACTION_STATIC", staticResponse: { status: 200, body: "same" } } });
      const port = l.status.boundPort!;
      const s = net.connect(port, "127.0.0.1");
      const next = responseReader(s);
      try {
        s.write("GET / HTTP/1.1\r\nHost: rename.test\r\n\r\n");
        assert.deepEqual(await next(), { status: 200, body: "same" });
        const renamed = (await call("UpdateListener", { id: l.id, spec: { name: "renamed", bindAddress: "127.0.0.1", port: 0, enabled: true, protocol: "LISTENER_PROTOCOL_HTTP" } })).listener as ListenerJson;
        assert.equal(renamed.spec.name, "renamed");
        assert.equal(renamed.status.boundPort, port);
        s.write("GET / HTTP/1.1\r\nHost: rename.test\r\n\r\n");
        assert.deepEqual(await next(), { status: 200, body: "same" }, "the keep-alive connection survived the rename");
      } finally {
        s.destroy();
      }
    });

    it("reports ERROR with the bind error when the port is taken by another process, and binds once it is free", async () => {
      const blocker = net.createServer();
      await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
      const port = (blocker.address() as net.AddressInfo).port;
      let blockerOpen = true;
      cleanups.push(() => (blockerOpen ? new Promise<void>((r) => blocker.close(() => r())) : Promise.resolve()));

      const l = await createListener({ name: "taken", port, protocol: "LISTENER_PROTOCOL_HTTP" });
      assert.equal(l.status.state, "LISTENER_STATE_ERROR");
      assert.match(l.status.error ?? "", /EADDRINUSE/);
      const read = await listenerById(l.id);
      assert.equal(read?.status.state, "LISTENER_STATE_ERROR");
      assert.match(read?.status.error ?? "", /EADDRINUSE/);

      await new Promise<void>((r) => blocker.close(() => r()));
      blockerOpen = false;
      // Any write reconciles again; enabling an enabled listener is one.
      const retried = (await call("EnableListener", { id: l.id })).listener as ListenerJson;
      assert.equal(retried.status.state, "LISTENER_STATE_RUNNING", JSON.stringify(retried.status));
      assert.equal(retried.status.error ?? "", "");
      assert.equal(retried.status.boundPort, port);
    });
  });
});

// Its own Warren, so that the held request below cannot disturb the other tests' listeners.
describe("disabling a listener with a request in flight", () => {
  const warren = withWarren({ admin: true });
  let w: WarrenProcess;
  let api: JsonApi;
  before(() => ({ w, api } = warren));

  it("answers the write at once, stops accepting, lets the request finish and then closes its connection", async () => {
    const c = warren.admin;
    const origin = await startRecordingOrigin("drain");
    // A dedicated client pool, so that closing it in `finally` releases the connection either way.
    const client = new Agent();
    try {
      const lr = await api.call("ProxyService/CreateListener", { spec: { name: "drain", bindAddress: "127.0.0.1", port: 0, enabled: true, protocol: "LISTENER_PROTOCOL_HTTP" } }, c);
      assert.equal(lr.status, 200, lr.text);
      const l = lr.json.listener as ListenerJson;
      const rr = await api.call(
        "ProxyService/CreateRoute",
        { spec: { listenerId: l.id, isDefault: true, action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url, enabled: true }] } },
        c,
      );
      assert.equal(rr.status, 200, rr.text);

      const inflight = request(`http://127.0.0.1:${l.status.boundPort}/hold`, { dispatcher: client });
      await origin.held;
      // The request is held at the origin: the write must not wait for it.
      const disabled = await api.call("ProxyService/DisableListener", { id: l.id }, c);
      assert.equal(disabled.status, 200, disabled.text);
      assert.equal((disabled.json.listener as ListenerJson).status.state, "LISTENER_STATE_STOPPED");
      assert.equal(await connectOutcome(l.status.boundPort!), "ECONNREFUSED", "no new connections");
      // Later writes are not held up either.
      const later = await api.call("ProxyService/CreateListener", { spec: { name: "after-drain", bindAddress: "127.0.0.1", port: 0, enabled: true, protocol: "LISTENER_PROTOCOL_HTTP" } }, c);
      assert.equal(later.status, 200, later.text);

      origin.release();
      const res = await inflight;
      assert.equal(res.statusCode, 200, "the in-flight request was not cut");
      assert.equal(res.headers.connection, "close", "the draining listener closes the connection after the response");
      assert.equal(await res.body.text(), "drain");
      await w.waitForLog((x) => x.msg === "public listener drained" && x.listenerId === l.id);
    } finally {
      origin.release();
      await client.close();
      await origin.close();
    }
  });
});

// Its own Warren: TRUSTED_PROXIES is process-wide.
describe("trusted proxies", () => {
  const warren = withWarren({ admin: true, env: { TRUSTED_PROXIES: "127.0.0.1/32, 10.0.0.0/8" } });
  let w: WarrenProcess;
  let api: JsonApi;
  let origin: Origin;

  before(async () => {
    ({ w, api } = warren);
    origin = await startOrigin("trusted");
  });
  after(() => origin.close());

  it("believes X-Forwarded-For from a trusted peer: the right-most untrusted entry is the client", async () => {
    const c = warren.admin;
    const lr = await api.call("ProxyService/CreateListener", { spec: { name: "trusted", bindAddress: "127.0.0.1", port: 0, enabled: true, protocol: "LISTENER_PROTOCOL_HTTP" } }, c);
    assert.equal(lr.status, 200, lr.text);
    const l = lr.json.listener as ListenerJson;
    const r0 = await api.call(
      "ProxyService/CreateRoute",
      { spec: { listenerId: l.id, isDefault: true, action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url, enabled: true }] } },
      c,
    );
    assert.equal(r0.status, 200, r0.text);
    const seenWith = async (headers: Record<string, string>): Promise<Echo> => {
      const r = await request(`http://127.0.0.1:${l.status.boundPort}/`, { headers: { host: "trusted.test", ...headers } });
      assert.equal(r.statusCode, 200);
      return (await r.body.json()) as Echo;
    };

    const one = await seenWith({ "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https" });
    assert.equal(one.headers["x-real-ip"], "203.0.113.7");
    assert.equal(one.headers["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert.equal(one.headers["x-forwarded-proto"], "https", "a trusted proxy's X-Forwarded-Proto is kept");

    // The client may have sent its own (spoofed) entries; trusted hops appended theirs after it.
    const chain = await seenWith({ "x-forwarded-for": "6.6.6.6, 203.0.113.8, 10.1.2.3" });
    assert.equal(chain.headers["x-real-ip"], "203.0.113.8", "the right-most entry that is not a trusted proxy");
  });

  it("stops start-up with one line naming the variable when TRUSTED_PROXIES is invalid", () => {
    for (const bad of ["10.0.0.0/33", "not-an-ip", "127.0.0.1/32, 300.1.1.1"]) {
      const dir = mkdtempSync(join(tmpdir(), "warren-trusted-"));
      try {
        const r = spawnSync(process.execPath, [BIN, "serve"], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? "", CONFIG_DIR: dir, MANAGEMENT_PORT: "0", MANAGEMENT_BIND_ADDRESS: "127.0.0.1", PUBLIC_HTTP_PORT: "0", TRUSTED_PROXIES: bad },
          encoding: "utf8",
        });
        assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
        const lines = r.stderr.trim().split("\n");
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0]!, /^warren: TRUSTED_PROXIES: /);
        assert.equal(lines[0]!.split("TRUSTED_PROXIES").length - 1, 1, `the variable is named once: ${lines[0]}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
