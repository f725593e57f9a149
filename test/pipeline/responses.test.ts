// Items 3, 4 and 12: responses relayed as the origin sent them — 304/204 with Content-Length, HEAD,
// an unsolicited 100 absorbed, 103 Early Hints relayed to HTTP/1.1 clients, no Via unless the route
// asks, and status lines with their right reason phrases.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Harness } from "./harness.ts";
import { curl } from "../helpers/curl.ts";
import { rawHttp } from "../helpers/raw-http.ts";
import { startRawOrigin, type RawOrigin } from "../helpers/raw-origin.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";

describe("responses relayed as sent (items 3, 4, 12)", () => {
  let h: Harness;
  let raw: RawOrigin;
  let plain: Origin;

  before(async () => {
    plain = await startOrigin("plain");
    raw = await startRawOrigin((head, s) => {
      const path = head.split(" ")[1]!;
      const isHead = head.startsWith("HEAD ");
      if (path === "/304") s.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1234\r\n\r\n');
      else if (path === "/204") s.write("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\nX-Kind: empty\r\n\r\n");
      else if (path === "/head") s.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\n\r\n${isHead ? "" : "x".repeat(5000)}`);
      else if (path === "/head-chunked") s.write(isHead ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" : "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
      else if (path === "/100") s.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      else if (path === "/103") s.write("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\nHTTP/1.1 200 OK\r\nLink: </style.css>; rel=preload; as=style\r\nContent-Length: 4\r\n\r\npage");
      else s.write("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
    });
    const target = (url: string) => [{ kind: TargetKind.DIRECT, url, enabled: true }];
    h = await Harness.start({
      listeners: [
        {
          routes: [
            { pathPrefix: "/via", action: RouteAction.FORWARD, options: { addVia: true }, targets: target(plain.url) },
            { pathPrefix: "/plain", action: RouteAction.FORWARD, targets: target(plain.url) },
            { pathPrefix: "/", action: RouteAction.FORWARD, targets: target(raw.url) },
          ],
        },
      ],
    });
  });
  after(async () => {
    await h.close();
    await raw.close();
    await plain.close();
  });

  it("relays a 304 with Content-Length to curl (headers, no body)", async () => {
    const r = await curl(["-H", 'If-None-Match: "v1"', `${h.url()}/304`]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.status, 304);
    assert.equal(r.headers.etag, '"v1"');
    assert.equal(r.headers["content-length"], "1234", "as the origin sent it");
    assert.equal(r.body, "");
  });

  it("relays a 204 with Content-Length, and keeps the connection usable", async () => {
    const r = await rawHttp(h.port(), "GET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /plain/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(r.raw, /^HTTP\/1.1 204 No Content\r\n/);
    assert.match(r.raw, /x-kind: empty/i);
    assert.match(r.raw, /HTTP\/1.1 200 OK[\s\S]*"url":"\/plain\/next"/, "the next request on the connection is answered");
  });

  it("relays HEAD with the origin's Content-Length and no body", async () => {
    const r = await curl(["-I", `${h.url()}/head`]);
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-length"], "5000");
    assert.equal(r.body, "");
    const chunked = await rawHttp(h.port(), "HEAD /head-chunked HTTP/1.1\r\nHost: x\r\n\r\nGET /plain/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(chunked.raw, /^HTTP\/1.1 200 OK\r\n/);
    assert.match(chunked.raw, /HTTP\/1.1 200 OK[\s\S]*"url":"\/plain\/next"/);
  });

  it("absorbs an unsolicited 100 Continue from the origin", async () => {
    const r = await curl([`${h.url()}/100`]);
    assert.deepEqual(r.statuses, [200]);
    assert.equal(r.body, "ok");
  });

  it("relays 103 Early Hints to an HTTP/1.1 client, not to HTTP/1.0", async () => {
    const r = await rawHttp(h.port(), "GET /103 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.deepEqual(r.statuses, [103, 200]);
    assert.match(r.raw, /^HTTP\/1.1 103 Early Hints\r\nlink: <\/style.css>; rel=preload; as=style\r\n\r\n/i);
    assert.equal(r.body, "page");
    const old = await rawHttp(h.port(), "GET /103 HTTP/1.0\r\nHost: x\r\n\r\n");
    assert.deepEqual(old.statuses, [200]);
  });

  it("adds no Via unless the route asks", async () => {
    const plainSeen = JSON.parse((await curl([`${h.url()}/plain/x`])).body) as { headers: Record<string, string> };
    assert.equal(plainSeen.headers.via, undefined);
    const r = await curl([`${h.url()}/via/x`]);
    assert.equal(r.headers.via, "1.1 warren");
    assert.equal((JSON.parse(r.body) as { headers: Record<string, string> }).headers.via, "1.1 warren");
  });

  it("sends status lines with their reason phrases", async () => {
    const big = await rawHttp(h.port(), `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(40 * 1024)}\r\n\r\n`);
    assert.match(big.raw, /^HTTP\/1.1 431 Request Header Fields Too Large\r\n/);
    const bad = await rawHttp(h.port(), "GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
    assert.match(bad.raw, /^HTTP\/1.1 400 Bad Request\r\n/);
  });
});
