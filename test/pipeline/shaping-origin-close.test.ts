// A shaped download from an origin that closes the connection after its response (HTTP/1.0 style,
// like Python's http.server): the socket ends while the download shaper has paused the upstream.
// undici asserted `!paused` there and the whole process died; patches/undici+7.30.2.patch lets the
// parser deliver the response's end instead, and the held chunk still reaches the client.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { Harness } from "./harness.ts";
import { shaperRule } from "../helpers/shaper-rule.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";

const KiB = 1024;
const BODY = Buffer.alloc(768 * KiB);
for (let i = 0; i < BODY.length; i++) BODY[i] = (i * 31) & 0xff;

describe("a shaped download from an origin that closes after its response", () => {
  let h: Harness;
  let origin: http.Server;
  // In `warren serve` an exception thrown from a socket event ends the process; here it is caught.
  const crashes: unknown[] = [];
  const onCrash = (e: unknown) => crashes.push(e);
  before(async () => {
    process.on("uncaughtException", onCrash);
    origin = http.createServer((_req, res) => {
      res.writeHead(200, { "content-length": String(BODY.length), connection: "close" });
      res.end(BODY);
    });
    await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    h = await Harness.start({
      listeners: [{ routes: [{ pathPrefix: "/", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url, enabled: true }] }] }],
      shapers: [shaperRule({ id: "shp_close", downloadBytesPerSecond: 512 * KiB, burstBytes: 16 * KiB })],
    });
  });
  after(async () => {
    process.off("uncaughtException", onCrash);
    await h.close();
    await new Promise<void>((r) => origin.close(() => r()));
  });

  it("delivers every byte, and the data plane keeps serving", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await request(`${h.url()}/blob`, { headers: { host: "close.test" } });
      const body = Buffer.from(await res.body.arrayBuffer());
      assert.equal(res.statusCode, 200);
      assert.equal(body.length, BODY.length, `request ${i}: ${body.length} of ${BODY.length} bytes`);
      assert.equal(createHash("sha256").update(body).digest("hex"), createHash("sha256").update(BODY).digest("hex"), `request ${i}: the bytes`);
    }
    assert.deepEqual(crashes.map(String), [], "nothing was thrown from a socket event");
  });
});
