// A route's max_concurrent_requests: requests past it are answered 503 route_busy (Retry-After: 1)
// at once instead of queueing behind the origin, and the count drops as requests finish — also when
// the client goes away mid-response — so the route takes requests again.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { Harness } from "./harness.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";

describe("a route's concurrency limit", () => {
  let h: Harness;
  let origin: http.Server;
  const held: http.ServerResponse[] = [];
  const arrivals: (() => void)[] = [];
  const arrived = () => new Promise<void>((r) => arrivals.push(r));

  before(async () => {
    origin = http.createServer((req, res) => {
      if (req.url === "/hold") {
        held.push(res);
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("started;");
        arrivals.shift()?.();
        return;
      }
      res.end("quick");
    });
    await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    h = await Harness.start({
      listeners: [
        {
          routes: [
            { pathPrefix: "/limited", action: RouteAction.FORWARD, options: { stripPathPrefix: true, maxConcurrentRequests: 2 }, targets: [{ kind: TargetKind.DIRECT, url, enabled: true }] },
            { pathPrefix: "/", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url, enabled: true }] },
          ],
        },
      ],
    });
  });
  after(async () => {
    for (const r of held) r.destroy();
    await h.close();
    await new Promise<void>((r) => origin.close(() => r()));
  });

  it("answers 503 route_busy past the limit, and takes requests again as they finish", async () => {
    const first = arrived();
    const a = await request(`${h.url()}/limited/hold`);
    await first;
    const second = arrived();
    const b = await request(`${h.url()}/limited/hold`);
    await second;
    const busy = await request(`${h.url()}/limited/quick`);
    assert.equal(busy.statusCode, 503);
    assert.equal(busy.headers["retry-after"], "1");
    assert.match(await busy.body.text(), /route_busy/);
    const other = await request(`${h.url()}/quick`);
    assert.equal(await other.body.text(), "quick", "other routes are not limited");

    held.shift()!.end("done");
    assert.match(await a.body.text(), /started;done/);
    // The place is given back when the request is done, which is also when its event is recorded.
    await recorded(h, 1);
    const again = await request(`${h.url()}/limited/quick`);
    assert.equal(again.statusCode, 200);
    assert.equal(await again.body.text(), "quick");

    // A client that leaves mid-response frees its place too.
    const third = arrived();
    const c = await request(`${h.url()}/limited/hold`);
    await third;
    assert.equal((await request(`${h.url()}/limited/quick`)).statusCode, 503);
    c.body.destroy();
    await recorded(h, 2);
    const afterLeave = await request(`${h.url()}/limited/quick`);
    assert.equal(afterLeave.statusCode, 200);
    await afterLeave.body.dump();
    held.shift()!.end("done");
    await b.body.text();
  });
});

/** Waits (on recorded events, no polling) until `n` held requests to /limited/hold are done. */
async function recorded(h: Harness, n: number): Promise<void> {
  const done = () => h.events.filter((e) => e.path === "/limited/hold").length;
  while (done() < n) await h.waitForEvents(h.events.length + 1);
}
