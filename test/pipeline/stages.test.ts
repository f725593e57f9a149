import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "undici";
import { Harness } from "./harness.ts";
import { rawHttp } from "../helpers/raw-http.ts";
import { startOrigin, startWebSocketEcho, type Origin, websocketRoundTrip } from "../helpers/origins.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";

describe("the stage pipeline", () => {
  let h: Harness;
  let origin: Origin;
  let ws: Awaited<ReturnType<typeof startWebSocketEcho>>;

  before(async () => {
    origin = await startOrigin("a");
    ws = await startWebSocketEcho();
    h = await Harness.start({
      listeners: [
        {
          routes: [
            { pathPrefix: "/ws", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url: ws.url, enabled: true }] },
            { pathPrefix: "/", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url: origin.url, enabled: true }] },
          ],
        },
      ],
    });
  });
  after(async () => {
    await h.close();
    await origin.close();
    await ws.close();
  });

  it("runs a plain request through every stage, forward answering", async () => {
    const before = h.events.length;
    const r = await request(`${h.url()}/hello?x=1`);
    assert.equal(r.statusCode, 200);
    await r.body.text();
    await h.waitForEvents(before + 1);
    const e = h.events.at(-1)!;
    assert.equal(e.answeredBy, "forward");
    assert.equal(e.upgrade, false);
    assert.deepEqual(e.stageNames, ["hygiene", "client_identity", "reserved_paths", "waf", "rate_limit", "shaping", "route", "route_action", "select_target", "cache", "forward"]);
    assert.equal(e.timings.filter((t) => t !== undefined).length, e.stageNames.length, "every stage timed");
    assert.equal(e.path, "/hello");
  });

  it("runs a WebSocket upgrade through the same stages and records it", async () => {
    const before = h.events.length;
    const got = await websocketRoundTrip(`${h.url().replace("http", "ws")}/ws`, "ping");
    assert.equal(got, "ping");
    await h.waitForEvents(before + 1);
    const e = h.events.at(-1)!;
    assert.equal(e.upgrade, true);
    assert.equal(e.status, 101);
    assert.equal(e.answeredBy, "forward");
    assert.deepEqual(e.stageNames, h.events[0]!.stageNames);
    assert.equal(e.timings.filter((t) => t !== undefined).length, e.stageNames.length);
    assert.ok(e.bytesIn > 0 && e.bytesOut > 0, "bytes both ways are counted");
  });

  it("records the stage that answered a refusal", async () => {
    const before = h.events.length;
    const r = await rawHttp(h.port(), "GET /a/%2e%2e/b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(r.status, 400);
    await h.waitForEvents(before + 1);
    assert.equal(h.events.at(-1)!.answeredBy, "hygiene");
    assert.equal(h.events.at(-1)!.errorKind, "path_dot_segment");
  });
});

describe("snapshot swaps", () => {
  it("closes the pooled connections of an origin no route uses any more", async () => {
    const a = await startOrigin("a");
    const b = await startOrigin("b");
    const route = (url: string) => ({ pathPrefix: "/", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url, enabled: true }] });
    const h = await Harness.start({ listeners: [{ routes: [route(a.url)] }] });
    try {
      const r = await request(`${h.url()}/x`);
      await r.body.text();
      assert.equal(a.openConnections(), 1, "a keep-alive connection to a");
      await h.reconfigure({ listeners: [{ routes: [route(b.url)] }] });
      await a.connectionsClosed();
      assert.equal(a.openConnections(), 0);
      const again = await request(`${h.url()}/y`);
      assert.equal(((await again.body.json()) as { origin: string }).origin, "b");
    } finally {
      await h.close();
      await a.close();
      await b.close();
    }
  });
});
