import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { Writable } from "node:stream";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { authorityProblem, guardRequests, guardUpgrades, type ManagementRequest, type ManagementResponse } from "../../../management/request-guard.ts";

/** A pino logger whose lines land in an array, parsed. */
function captureLog(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: "debug" }, sink), lines };
}

/** One raw HTTP/1.1 exchange; resolves with everything the server sent, or the socket error. */
function exchange(port: number, request: string): Promise<{ text: string; error?: string }> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(request));
    // An unguarded throw leaves the connection open forever: fail with a reason instead.
    s.setTimeout(5_000, () => {
      s.destroy();
      resolve({ text, error: "no answer within 5 s" });
    });
    let text = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => (text += d));
    s.on("error", (e) => resolve({ text, error: e.message }));
    s.on("close", () => resolve({ text }));
  });
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;

describe("the management request guard", () => {
  const { log, lines } = captureLog();
  let server: http.Server;
  let port: number;

  before(async () => {
    const handler = (req: ManagementRequest, r: ManagementResponse): void | Promise<void> => {
      const res = r as http.ServerResponse;
      const path = (req.url ?? "").split("?")[0];
      if (path === "/throw") throw new TypeError("Invalid URL");
      if (path === "/reject") return Promise.reject(new Error("async failure"));
      if (path === "/throw-after-headers") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("partial");
        throw new Error("failed mid-response");
      }
      if (path === "/reject-after-headers") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("partial");
        return new Promise((_resolve, reject) => setImmediate(() => reject(new Error("failed later"))));
      }
      res.end("fine");
    };
    server = http.createServer(guardRequests(handler, log));
    server.on(
      "upgrade",
      guardUpgrades((req, socket) => {
        if (req.url === "/upgrade-throw") throw new Error("upgrade failed");
        return Promise.reject(new Error("upgrade rejected"));
      }, log),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const path of ["/throw", "/reject"]) {
    it(`answers 500 internal_error and logs at error level when a handler ${path.slice(1)}s`, async () => {
      const before = lines.length;
      const r = await exchange(port, get(`${path}?setup_token=secret-in-query`));
      assert.match(r.text, /^HTTP\/1\.1 500 /);
      const body = JSON.parse(r.text.slice(r.text.indexOf("\r\n\r\n") + 4)) as { code: string; message: string };
      assert.equal(body.code, "internal_error");
      assert.equal(body.message, "The gateway failed to handle the request.");
      assert.ok(!r.text.includes("Invalid URL") && !r.text.includes("async failure"), "the cause is never sent");
      const logged = lines.slice(before).find((l) => l.msg === "management request failed");
      assert.ok(logged, JSON.stringify(lines.slice(before)));
      assert.equal(logged.level, 50);
      assert.equal(logged.path, path, "logged without the query");
      assert.ok(!JSON.stringify(logged).includes("secret-in-query"));
      assert.match(String((logged.err as { message: string }).message), /Invalid URL|async failure/);
      // The server is still there.
      assert.match((await exchange(port, get("/ok"))).text, /^HTTP\/1\.1 200 [\s\S]*fine$/);
    });
  }

  for (const path of ["/throw-after-headers", "/reject-after-headers"]) {
    it(`destroys the response when headers were already sent (${path})`, async () => {
      const before = lines.length;
      const r = await exchange(port, get(path));
      // What was written may or may not have left before the cut; a 500 never follows it.
      assert.ok(r.text === "" || r.text.startsWith("HTTP/1.1 200 "), JSON.stringify(r.text));
      assert.ok(!r.text.includes(" 500 "), "no second status line");
      // Chunked, and cut before the terminating chunk: the client can tell the answer is incomplete.
      assert.ok(!r.text.endsWith("0\r\n\r\n"), JSON.stringify(r.text));
      assert.ok(lines.slice(before).some((l) => l.msg === "management request failed" && l.level === 50));
      assert.match((await exchange(port, get("/ok"))).text, /^HTTP\/1\.1 200 /);
    });
  }

  for (const path of ["/upgrade-throw", "/upgrade-reject"]) {
    it(`answers 500 on the socket when an upgrade handler fails (${path})`, async () => {
      const before = lines.length;
      const r = await exchange(port, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: x-test\r\n\r\n`);
      assert.match(r.text, /^HTTP\/1\.1 500 [\s\S]*"code":"internal_error"/);
      assert.ok(lines.slice(before).some((l) => l.msg === "management upgrade request failed" && l.level === 50));
    });
  }
});

describe("authorityProblem", () => {
  const h1 = (raw: string[]): ManagementRequest => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < raw.length; i += 2) headers[raw[i]!.toLowerCase()] ??= raw[i + 1]!;
    return { httpVersionMajor: 1, rawHeaders: raw, headers } as unknown as ManagementRequest;
  };
  const h2 = (authority: string | undefined, host?: string): ManagementRequest =>
    ({ httpVersionMajor: 2, rawHeaders: [], headers: { ...(authority === undefined ? {} : { ":authority": authority }), ...(host ? { host } : {}) } }) as unknown as ManagementRequest;

  it("accepts names, IPv4 and bracketed IPv6 with or without a port", () => {
    for (const v of ["localhost", "localhost:8081", "127.0.0.1:8081", "[::1]:8081", "warren.example."]) {
      assert.equal(authorityProblem(h1(["Host", v])), undefined, v);
      assert.equal(authorityProblem(h2(v)), undefined, v);
    }
  });

  it("names what is wrong: missing, duplicate or invalid", () => {
    assert.equal(authorityProblem(h1([])), "missing_host");
    assert.equal(authorityProblem(h1(["Host", ""])), "missing_host");
    assert.equal(authorityProblem(h1(["Host", "a", "host", "b"])), "duplicate_host");
    for (const v of ["a b", "x:99999", "x:", "user@host", "[::1", "a/b", "ex ample.com:80"]) {
      assert.equal(authorityProblem(h1(["Host", v])), "bad_host", v);
      assert.equal(authorityProblem(h2(v)), "bad_host", v);
    }
    // Valid DNS names the URL parser takes for bad IPv4 addresses (connect-node would throw: a 500).
    for (const v of ["999.999.999.999", "a.123", "4294967296", "1.2.3.4.5:8081", "a.0x10"]) {
      assert.equal(authorityProblem(h1(["Host", v])), "bad_host", v);
      assert.equal(authorityProblem(h2(v)), "bad_host", v);
    }
    // connect-node reads :authority on HTTP/2; a Host header does not stand in for it.
    assert.equal(authorityProblem(h2(undefined, "localhost")), "missing_host");
  });
});
