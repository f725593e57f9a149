// Issue item 2: upgrades. Only websocket is spliced by default (other tokens per route); an origin
// that declines has its whole answer relayed; `curl --http2 http://…` (an h2c upgrade an HTTP/1.1
// origin ignores) works.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Harness } from "./harness.ts";
import { curl } from "../helpers/curl.ts";
import { rawHttp } from "../helpers/raw-http.ts";
import { startRawOrigin, type RawOrigin } from "../helpers/raw-origin.ts";
import { startOrigin, startWebSocketEcho, type Origin, websocketRoundTrip } from "../helpers/origins.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";

const AGENT = "agt_bbbbbbbbbbbbbbbb";

function upgradeRequest(path: string, token: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${token}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;
}

describe("upgrades (item 2)", () => {
  let h: Harness;
  let plain: Origin;
  let ws: Awaited<ReturnType<typeof startWebSocketEcho>>;
  let decline: RawOrigin;
  let foo: RawOrigin;

  before(async () => {
    plain = await startOrigin("plain");
    ws = await startWebSocketEcho();
    decline = await startRawOrigin((head, s) => {
      const status = head.includes("/deny") ? "401 Unauthorized" : "404 Not Found";
      s.write(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nWWW-Authenticate: Bearer\r\nX-From: origin\r\nContent-Length: 12\r\n\r\nno such room`);
    });
    foo = await startRawOrigin((head, s) => {
      if (/\r\nupgrade: foo/i.test(head)) {
        s.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n");
        s.removeAllListeners("data");
        s.on("data", (d: Buffer) => s.write(Buffer.concat([Buffer.from("echo:"), d])));
      } else {
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain");
      }
    });
    const direct = (url: string) => [{ kind: TargetKind.DIRECT, url, enabled: true }];
    h = await Harness.start({
      agents: [{ id: AGENT, labels: { site: "x" } }],
      listeners: [
        {
          routes: [
            { pathPrefix: "/ws", action: RouteAction.FORWARD, targets: direct(ws.url) },
            { pathPrefix: "/agent-ws", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.AGENT, url: ws.url, agentSelector: { site: "x" }, enabled: true }] },
            { pathPrefix: "/decline", action: RouteAction.FORWARD, targets: direct(decline.url) },
            { pathPrefix: "/foo-allowed", action: RouteAction.FORWARD, options: { upgradeProtocols: ["foo"] }, targets: direct(foo.url) },
            { pathPrefix: "/foo", action: RouteAction.FORWARD, targets: direct(foo.url) },
            { pathPrefix: "/", action: RouteAction.FORWARD, targets: direct(plain.url) },
          ],
        },
      ],
    });
    await h.connectAgent(AGENT);
  });
  after(async () => {
    await h.close();
    await Promise.all([plain.close(), ws.close(), decline.close(), foo.close()]);
  });

  it("relays an origin's refusal of a WebSocket upgrade: status, headers and body", async () => {
    const r = await rawHttp(h.port(), upgradeRequest("/decline/room", "websocket"));
    assert.equal(r.status, 404);
    assert.equal(r.headers["x-from"], "origin");
    assert.equal(r.body, "no such room");
    const denied = await rawHttp(h.port(), upgradeRequest("/decline/deny", "websocket"));
    assert.equal(denied.status, 401);
    assert.equal(denied.headers["www-authenticate"], "Bearer");
    assert.match(decline.heads.at(-1)!, /\r\nupgrade: websocket/i, "the origin was asked for the upgrade");
  });

  it("works for curl --http2 against an HTTP/1.1 origin (h2c is not spliced by default)", async () => {
    const r = await curl(["--http2", `${h.url()}/hello`]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, "/hello");
    assert.equal(seen.headers.upgrade, undefined, "the h2c upgrade was not forwarded");
    assert.equal(seen.headers["http2-settings"], undefined, "nor its Connection-listed header");
  });

  it("splices other tokens only where the route opts in", async () => {
    const spliced = await rawHttp(h.port(), `${upgradeRequest("/foo-allowed/x", "foo")}hello`, { idleMs: 300 });
    assert.equal(spliced.status, 101);
    assert.equal(spliced.headers.upgrade, "foo");
    assert.equal(spliced.body, "echo:hello");
    const plainly = await rawHttp(h.port(), upgradeRequest("/foo/x", "foo"));
    assert.equal(plainly.status, 200);
    assert.equal(plainly.body, "plain");
    assert.doesNotMatch(foo.heads.at(-1)!, /upgrade:/i, "forwarded without its Upgrade");
  });

  it("splices a WebSocket through an agent", async () => {
    const got = await websocketRoundTrip(`${h.url().replace("http", "ws")}/agent-ws`, "via agent");
    assert.equal(got, "via agent");
  });
});
