// No request may crash management (issue item 0): a bad authority is answered 400 before any
// handler sees it, over HTTPS (HTTP/1.1 and HTTP/2) and plain HTTP, and the server keeps serving.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { withWarren, type WarrenFixture } from "../helpers/with-warren.ts";

const API = "/warren.v1.AuthService/GetSetupState";

/** Sends raw bytes on a fresh connection and returns everything that came back before it closed. */
function rawExchange(baseUrl: string, caPem: string, request: string): Promise<string> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const onConnect = () => s.write(request);
    const s =
      u.protocol === "https:"
        ? tls.connect({ host: u.hostname, port: Number(u.port), ca: caPem, servername: "localhost", ALPNProtocols: ["http/1.1"] }, onConnect)
        : net.connect(Number(u.port), u.hostname, onConnect);
    let text = "";
    s.setEncoding("utf8");
    s.setTimeout(10_000, () => s.destroy(new Error(`no answer within 10 s to ${JSON.stringify(request.split("\r\n")[0])}`)));
    s.on("data", (d: string) => (text += d));
    s.on("error", reject);
    s.on("close", () => resolve(text));
  });
}

const post = (hostLines: string, path = API) =>
  `POST ${path} HTTP/1.1\r\n${hostLines}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`;

function statusAndCode(text: string): { status: number; code: unknown } {
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0);
  const body = text.slice(text.indexOf("\r\n\r\n") + 4);
  let code: unknown;
  try {
    code = (JSON.parse(body) as { code?: unknown }).code;
  } catch {
    code = undefined;
  }
  return { status, code };
}

async function stillServing(f: WarrenFixture, after: string): Promise<void> {
  assert.equal(f.w.child.exitCode, null, `warren serve exited after ${after}`);
  const health = await f.api.raw("/healthz", { method: "GET" });
  assert.equal(health.status, 200, `/healthz after ${after}`);
}

const HTTP1_CASES: [string, string, number, string][] = [
  ["Host: a b", "Host: a b\r\n", 400, "bad_host"],
  ["an empty Host", "Host: \r\n", 400, "missing_host"],
  ["no Host", "", 400, "missing_host"],
  ["two Host headers", "Host: localhost\r\nHost: other\r\n", 400, "duplicate_host"],
  ["a port out of range", "Host: localhost:99999\r\n", 400, "bad_host"],
  // A DNS name by its labels, but the URL parser reads it as a bad IPv4 address (was a 500).
  ["a Host the URL parser refuses", "Host: 999.999.999.999\r\n", 400, "bad_host"],
];

describe("management refuses a bad authority instead of crashing (HTTPS)", () => {
  const warren = withWarren();

  for (const [name, hostLines, status, code] of HTTP1_CASES) {
    it(`HTTP/1.1 with ${name}: ${status} ${code}, and /healthz still answers`, async () => {
      const r = statusAndCode(await rawExchange(warren.w.baseUrl, warren.w.caPem, post(hostLines)));
      assert.deepEqual(r, { status, code });
      await stillServing(warren, name);
    });
  }

  it("checks the authority before every route: /healthz, the UI and the tunnel upgrade", async () => {
    for (const path of ["/healthz", "/"]) {
      const r = await rawExchange(warren.w.baseUrl, warren.w.caPem, `GET ${path} HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n`);
      assert.deepEqual(statusAndCode(r), { status: 400, code: "bad_host" }, path);
    }
    const upgrade = await rawExchange(
      warren.w.baseUrl,
      warren.w.caPem,
      "GET /agent/tunnel HTTP/1.1\r\nHost: a b\r\nConnection: Upgrade\r\nUpgrade: warren-yamux\r\nWarren-Tunnel-Version: 1\r\n\r\n",
    );
    assert.deepEqual(statusAndCode(upgrade), { status: 400, code: "bad_host" });
    await stillServing(warren, "a bad upgrade");
  });

  it("HTTP/2 with an :authority connect-node cannot parse: 400 bad_host, and /healthz still answers", async () => {
    const session = http2.connect(warren.w.baseUrl, { ca: warren.w.caPem, servername: "localhost" });
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": API, ":authority": "localhost:99999", "content-type": "application/json" });
        req.setTimeout(10_000, () => req.close(http2.constants.NGHTTP2_CANCEL));
        let body = "";
        let status = 0;
        req.on("response", (h) => (status = Number(h[":status"])));
        req.setEncoding("utf8");
        req.on("data", (d: string) => (body += d));
        req.on("end", () => resolve({ status, body }));
        req.on("error", reject);
        req.end("{}");
      });
      assert.equal(answer.status, 400);
      assert.equal((JSON.parse(answer.body) as { code: string }).code, "bad_host");
    } finally {
      session.close();
    }
    await stillServing(warren, "HTTP/2 with a bad :authority");
  });

  // Answered at once, an over-limit upload's stream was closed under it: Node counted the client's
  // DATA still in flight as invalid frames, and the connection's next requests failed with
  // INTERNAL_ERROR, then ENHANCE_YOUR_CALM (issue 13: "a gRPC call that fails early on a large body must finish").
  const h2Post = (session: http2.ClientHttp2Session, contentType: string, method = "POST") => (payload: Buffer) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ":method": method, ":path": API, "content-type": contentType, "content-length": String(payload.length) });
        req.setTimeout(15_000, () => req.close(http2.constants.NGHTTP2_CANCEL));
        let text = "";
        let status = 0;
        req.on("response", (h) => (status = Number(h[":status"])));
        req.setEncoding("utf8");
        req.on("data", (d: string) => (text += d));
        req.on("end", () => resolve({ status, body: text }));
        req.on("error", reject);
        req.end(payload);
      });

  it("HTTP/2: twenty over-limit uploads on one connection each get 413, and the connection keeps working", async () => {
    const session = http2.connect(warren.w.baseUrl, { ca: warren.w.caPem, servername: "localhost" });
    session.on("error", () => {});
    const body = Buffer.alloc(3 * 1024 * 1024, 1);
    const post = h2Post(session, "application/json");
    try {
      for (let i = 0; i < 20; i++) {
        const a = await post(body);
        assert.equal(a.status, 413, `upload ${i + 1}`);
        assert.equal((JSON.parse(a.body) as { code: string }).code, "resource_exhausted");
      }
      const small = await post(Buffer.from("{}"));
      assert.notEqual(small.status, 413, "a normal request on the same connection is answered normally");
      assert.ok(small.status < 500, `status ${small.status}`);
    } finally {
      session.close();
    }
  });

  // connect-node answers an unsupported content type (415) before reading the body: the same early
  // answer as the 413 above, from the RPC layer instead of Warren's own size check.
  it("HTTP/2: twenty 900 KiB uploads of an unsupported content type each get 415 (and PUTs 405), and the connection keeps working", async () => {
    const session = http2.connect(warren.w.baseUrl, { ca: warren.w.caPem, servername: "localhost" });
    session.on("error", () => {});
    const body = Buffer.alloc(900 * 1024, 1);
    const post = h2Post(session, "text/plain");
    const put = h2Post(session, "application/json", "PUT");
    try {
      for (let i = 0; i < 20; i++) {
        const a = await post(body);
        assert.equal(a.status, 415, `upload ${i + 1}`);
        // Warren's own early answer for a method that is not POST, before any RPC handling.
        const b = await put(body);
        assert.equal(b.status, 405, `PUT ${i + 1}`);
      }
      const small = await h2Post(session, "application/json")(Buffer.from("{}"));
      assert.ok(small.status < 500 && small.status !== 415, `a normal request on the same connection: status ${small.status}`);
    } finally {
      session.close();
    }
  });

  // A client still uploading when the linger window (2 s) ends: it gets the whole answer, END_STREAM
  // included, and then RST_STREAM(NO_ERROR). Closing the stream right after ending the answer dropped
  // its last frames, and under the API fuzz suite's load aborted the process (std::bad_alloc in
  // Node's session write loop).
  const stalledUpload = (session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, first: Buffer) =>
    new Promise<{ status: number; ended: boolean; trailers: http2.IncomingHttpHeaders; rstCode: number | undefined }>((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": API, ...headers });
      req.setTimeout(15_000, () => reject(new Error("stream not closed within 15 s")));
      let status = 0;
      let ended = false;
      let trailers: http2.IncomingHttpHeaders = {};
      req.on("response", (h) => (status = Number(h[":status"])));
      req.on("trailers", (t) => (trailers = t));
      req.on("data", () => {});
      req.on("end", () => (ended = true));
      req.on("error", reject);
      req.on("close", () => resolve({ status, ended, trailers, rstCode: req.rstCode }));
      req.write(first); // and never ends
    });

  it("HTTP/2: an upload still coming after the linger window gets its whole answer, then RST_STREAM(NO_ERROR)", async () => {
    const session = http2.connect(warren.w.baseUrl, { ca: warren.w.caPem, servername: "localhost" });
    session.on("error", () => {});
    try {
      const a = await stalledUpload(session, { "content-type": "text/plain" }, Buffer.alloc(64 * 1024, 1));
      assert.deepEqual({ status: a.status, ended: a.ended, rstCode: a.rstCode }, { status: 415, ended: true, rstCode: http2.constants.NGHTTP2_NO_ERROR });
      // gRPC: an envelope that announces 4 GiB is refused while the upload goes on; the status is in trailers.
      const head = Buffer.from([0, 0xff, 0xff, 0xff, 0xff]);
      const g = await stalledUpload(session, { "content-type": "application/grpc", te: "trailers" }, Buffer.concat([head, Buffer.alloc(32 * 1024)]));
      assert.equal(g.status, 200);
      assert.equal(g.trailers["grpc-status"], "8", `trailers ${JSON.stringify(g.trailers)}`);
      const small = await h2Post(session, "application/json")(Buffer.from("{}"));
      assert.ok(small.status < 500 && small.status !== 415, `a normal request on the same connection: status ${small.status}`);
    } finally {
      session.close();
    }
  });
});

describe("management refuses a bad authority instead of crashing (plain HTTP)", () => {
  const warren = withWarren({ env: { MANAGEMENT_TLS_MODE: "off", MANAGEMENT_ALLOW_INSECURE_HTTP: "true" } });

  for (const [name, hostLines] of HTTP1_CASES) {
    it(`HTTP/1.1 with ${name}: 400, and /healthz still answers`, async () => {
      const r = statusAndCode(await rawExchange(warren.w.baseUrl, "", post(hostLines)));
      assert.equal(r.status, 400);
      await stillServing(warren, name);
    });
  }
});
