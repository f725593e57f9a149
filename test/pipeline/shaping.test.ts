// Traffic shaping (DESIGN.md §5 stage 6) end to end in the data plane: real origins, real sockets,
// shapers put into the snapshot as the management compiler would. Every timing assertion is a lower
// bound (shaping can only make things slower); anything faster than the rate is a failure. Every
// assert.ok has a message: Node 20 hangs generating one from tsx-transformed source.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import diagnostics from "node:diagnostics_channel";
import { createHash } from "node:crypto";
import { request, WebSocket } from "undici";
import { Harness } from "./harness.ts";
import { startOrigin, startWebSocketEcho, type Origin } from "../helpers/origins.ts";
import { shaperRule } from "../helpers/shaper-rule.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";
import type { CompiledShaperRule } from "../../proxy/shaping/types.ts";
import type { RequestEvent } from "../../proxy/index.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Rate, burst and size for the "takes at least" checks: (bytes - burst) / rate, minus 10 % slack. */
function atLeastMs(bytes: number, rate: number, burst: number): number {
  return (((bytes - burst) / rate) * 1000 * 9) / 10;
}

describe("traffic shaping", () => {
  let h: Harness;
  let origin: Origin;
  /** Only the abort test uses it, so its connection count is that request's alone. */
  let aborted: Origin;
  let ws: Awaited<ReturnType<typeof startWebSocketEcho>>;
  const STATIC_BYTES = 512 * KiB;

  const shapers: CompiledShaperRule[] = [
    // First match wins: /first is taken by this rule even though /first also matches the next ones.
    shaperRule({ id: "shp_first", scope: { pathPrefixes: ["/first"] }, downloadBytesPerSecond: 10 * MiB }),
    // A `when` that fails to evaluate (missing header) counts as no match.
    shaperRule({ id: "shp_broken", scope: { pathPrefixes: ["/when"] }, when: 'headers["x-missing"][0] == "a"', downloadBytesPerSecond: 1 * MiB }),
    shaperRule({ id: "shp_when", scope: { pathPrefixes: ["/when"] }, when: 'headers["x-tier"][0] == "slow"', downloadBytesPerSecond: 2 * MiB }),
    shaperRule({ id: "shp_down", scope: { pathPrefixes: ["/down", "/first", "/abort"] }, downloadBytesPerSecond: 512 * KiB, burstBytes: 64 * KiB }),
    shaperRule({ id: "shp_memory", scope: { pathPrefixes: ["/mem"] }, downloadBytesPerSecond: 2 * MiB, burstBytes: 64 * KiB }),
    shaperRule({ id: "shp_up", scope: { pathPrefixes: ["/up"] }, uploadBytesPerSecond: 512 * KiB, burstBytes: 64 * KiB }),
    shaperRule({ id: "shp_exempt", scope: { pathPrefixes: ["/exempt"] }, uploadBytesPerSecond: 64 * KiB, downloadBytesPerSecond: 64 * KiB, burstBytes: 1, requestExemptBytes: 256 * KiB, responseExemptBytes: 256 * KiB }),
    shaperRule({ id: "shp_keyed", scope: { pathPrefixes: ["/keyed"] }, budget: "per_key", downloadBytesPerSecond: 512 * KiB, burstBytes: 64 * KiB, keyParts: ["client_ip"] }),
    shaperRule({ id: "shp_burst_key", scope: { pathPrefixes: ["/burst-key"] }, budget: "per_key", downloadBytesPerSecond: 256 * KiB, burstBytes: 512 * KiB }),
    shaperRule({ id: "shp_burst_req", scope: { pathPrefixes: ["/burst-req"] }, budget: "per_request", downloadBytesPerSecond: 256 * KiB, burstBytes: 512 * KiB }),
    shaperRule({ id: "shp_static", scope: { pathPrefixes: ["/static"] }, downloadBytesPerSecond: 256 * KiB, burstBytes: 32 * KiB }),
    shaperRule({ id: "shp_ws", scope: { pathPrefixes: ["/ws"] }, uploadBytesPerSecond: 256 * KiB, downloadBytesPerSecond: 256 * KiB, burstBytes: 16 * KiB }),
  ];

  before(async () => {
    origin = await startOrigin("shaped");
    aborted = await startOrigin("aborted");
    ws = await startWebSocketEcho();
    const direct = (url: string) => [{ kind: TargetKind.DIRECT, url, enabled: true }];
    h = await Harness.start({
      listeners: [
        {
          routes: [
            { pathPrefix: "/static", action: RouteAction.STATIC, staticResponse: { status: 200, body: "s".repeat(STATIC_BYTES) } },
            { pathPrefix: "/ws", action: RouteAction.FORWARD, targets: direct(ws.url) },
            { pathPrefix: "/abort", action: RouteAction.FORWARD, targets: direct(aborted.url) },
            { pathPrefix: "/", action: RouteAction.FORWARD, targets: direct(origin.url) },
          ],
        },
      ],
      shapers,
    });
  });
  after(async () => {
    await h.close();
    await Promise.all([origin.close(), aborted.close(), ws.close()]);
  });

  /** GETs a path, returns the body's SHA-256, its length, the elapsed ms and the request's event. */
  async function get(path: string, headers: Record<string, string> = {}): Promise<{ sha: string; bytes: number; ms: number; expected: string | undefined; event: RequestEvent }> {
    const t0 = performance.now();
    const tt = setTimeout(() => process.stderr.write(`STUCK on head ${path}\n`), 5000);
    const r = await request(`${h.url()}${path}`, { headers });
    clearTimeout(tt);
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const c of r.body) {
      hash.update(c as Buffer);
      bytes += (c as Buffer).length;
    }
    const ms = performance.now() - t0;
    const t2 = setTimeout(() => process.stderr.write(`STUCK on event ${path} ${r.headers["x-request-id"]} ${JSON.stringify(h.events.map((x) => [x.requestId, x.path]))}\n`), 5000);
    const ev = await eventFor(r.headers["x-request-id"] as string);
    clearTimeout(t2);
    return { sha: hash.digest("hex"), bytes, ms, expected: r.headers["x-sha256"] as string | undefined, event: ev };
  }

  async function eventFor(requestId: string): Promise<RequestEvent> {
    for (;;) {
      const e = h.events.find((x) => x.requestId === requestId);
      if (e !== undefined) return e;
      await h.waitForEvents(h.events.length + 1);
    }
  }

  it("shapes a download to the rate, whole and intact, and counts the bytes that waited", async () => {
    const r = await get(`/down/download?bytes=${MiB}`);
    assert.equal(r.bytes, MiB);
    assert.equal(r.sha, r.expected);
    assert.ok(r.ms >= atLeastMs(MiB, 512 * KiB, 64 * KiB), `1 MiB at 512 KiB/s took only ${r.ms} ms`);
    assert.equal(r.event.shaperRuleId, "shp_down");
    assert.ok(r.event.shapedBytesOut >= MiB - 128 * KiB, `shaped ${r.event.shapedBytesOut}`);
    assert.equal(r.event.shapedBytesIn, 0);
  });

  it("shapes an upload: the origin receives the body at the rate", async () => {
    const body = Buffer.alloc(MiB, 3);
    const t0 = performance.now();
    const r = await request(`${h.url()}/up/upload`, { method: "POST", body });
    const seen = (await r.body.json()) as { sha256: string; bytes: number };
    const ms = performance.now() - t0;
    assert.equal(seen.bytes, MiB);
    assert.equal(seen.sha256, createHash("sha256").update(body).digest("hex"));
    assert.ok(ms >= atLeastMs(MiB, 512 * KiB, 64 * KiB), `1 MiB up at 512 KiB/s took only ${ms} ms`);
    const e = await eventFor(r.headers["x-request-id"] as string);
    assert.equal(e.shaperRuleId, "shp_up");
    assert.ok(e.shapedBytesIn >= MiB - 128 * KiB, `shaped ${e.shapedBytesIn}`);
    assert.equal(e.shapedBytesOut, 0, "download not shaped by an upload-only rule");
  });

  it("lets the exempt bytes through unshaped in both directions", async () => {
    const down = await get(`/exempt/download?bytes=${256 * KiB}`);
    assert.equal(down.bytes, 256 * KiB);
    assert.equal(down.event.shaperRuleId, "shp_exempt");
    assert.equal(down.event.shapedBytesOut, 0, "nothing waited");
    const r = await request(`${h.url()}/exempt/upload`, { method: "POST", body: Buffer.alloc(256 * KiB, 1) });
    assert.equal(((await r.body.json()) as { bytes: number }).bytes, 256 * KiB);
    const tt = setTimeout(() => { const st = JSON.stringify(h.events.map((x) => [x.requestId, x.path])); process.stderr.write(`STUCK waiting for ${r.headers["x-request-id"]} ${st}\n`); }, 5000);
    const e = await eventFor(r.headers["x-request-id"] as string);
    clearTimeout(tt);
    assert.equal(e.shapedBytesIn, 0, "nothing waited");
    // Past the allowance, bytes wait again (64 KiB/s with a one-byte burst).
    const more = await get(`/exempt/download?bytes=${256 * KiB + 32 * KiB}`);
    assert.ok(more.event.shapedBytesOut >= 32 * KiB - 1, `shaped ${more.event.shapedBytesOut}`);
    assert.ok(more.ms >= atLeastMs(32 * KiB, 64 * KiB, 0), `took only ${more.ms} ms`);
  });

  it("shares a per_key bucket: two concurrent downloads with the same key take twice as long", async () => {
    const t0 = performance.now();
    const [a, b] = await Promise.all([get(`/keyed/download?bytes=${512 * KiB}`), get(`/keyed/download?bytes=${512 * KiB}`)]);
    const ms = performance.now() - t0;
    assert.equal(a.sha, a.expected);
    assert.equal(b.sha, b.expected);
    // One alone: (512 - 64) KiB at 512 KiB/s = 0.875 s; both share the rate: 1.875 s.
    assert.ok(ms >= atLeastMs(MiB, 512 * KiB, 64 * KiB), `together they took only ${ms} ms`);
  });

  it("per_key shares the burst too; per_request gives each request its own", async () => {
    // A 512 KiB burst covers one 400 KiB body but not two: the second request on a shared bucket waits.
    const keyed = await Promise.all([get(`/burst-key/download?bytes=${400 * KiB}`), get(`/burst-key/download?bytes=${400 * KiB}`)]);
    assert.ok(keyed.some((r) => r.event.shapedBytesOut > 0), "one of the two waited");
    const fresh = await Promise.all([get(`/burst-req/download?bytes=${400 * KiB}`), get(`/burst-req/download?bytes=${400 * KiB}`)]);
    for (const r of fresh) assert.equal(r.event.shapedBytesOut, 0, "each had its own full bucket");
  });

  it("shapes a static route body", async () => {
    const r = await get("/static");
    assert.equal(r.bytes, STATIC_BYTES);
    assert.equal(r.sha, createHash("sha256").update("s".repeat(STATIC_BYTES)).digest("hex"));
    assert.ok(r.ms >= atLeastMs(STATIC_BYTES, 256 * KiB, 32 * KiB), `512 KiB at 256 KiB/s took only ${r.ms} ms`);
    assert.equal(r.event.shaperRuleId, "shp_static");
    assert.ok(r.event.shapedBytesOut > 0, "bytes waited");
  });

  it("shapes a WebSocket both ways", async () => {
    const sock = new WebSocket(`${h.url().replace("http", "ws")}/ws`);
    const N = 8;
    const msg = Buffer.alloc(60 * KiB, 9);
    const t0 = performance.now();
    const got = await new Promise<number>((resolve, reject) => {
      let n = 0;
      let bytes = 0;
      sock.binaryType = "arraybuffer";
      sock.onopen = () => {
        for (let i = 0; i < N; i++) sock.send(msg);
      };
      sock.onmessage = (ev) => {
        bytes += (ev.data as ArrayBuffer).byteLength;
        if (++n === N) resolve(bytes);
      };
      sock.onerror = () => reject(new Error("websocket error"));
    });
    const ms = performance.now() - t0;
    const closed = new Promise<void>((r) => (sock.onclose = () => r()));
    sock.close();
    await closed;
    assert.equal(got, N * msg.length);
    // 480 KiB each way at 256 KiB/s: the two directions overlap, so the bound is one direction's time.
    assert.ok(ms >= atLeastMs(N * msg.length, 256 * KiB, 16 * KiB), `took only ${ms} ms`);
    await h.waitForEvents(1);
    let e: RequestEvent | undefined;
    while ((e = h.events.findLast((x) => x.upgrade && x.shaperRuleId === "shp_ws")) === undefined) await h.waitForEvents(h.events.length + 1);
    assert.equal(e.status, 101);
    assert.ok(e.shapedBytesIn >= N * msg.length - 32 * KiB, `in ${e.shapedBytesIn}`);
    assert.ok(e.shapedBytesOut >= N * msg.length - 32 * KiB, `out ${e.shapedBytesOut}`);
  });

  it("picks the first matching shaper by scope, then `when`; an evaluation error is no match", async () => {
    const first = await get(`/first/download?bytes=${KiB}`);
    assert.equal(first.event.shaperRuleId, "shp_first");
    const slow = await get(`/when/download?bytes=${KiB}`, { "x-tier": "slow" });
    assert.equal(slow.event.shaperRuleId, "shp_when", "the broken rule did not match, the next did");
    const other = await get(`/when/download?bytes=${KiB}`, { "x-tier": "fast" });
    assert.equal(other.event.shaperRuleId, "");
  });

  it("leaves requests no shaper matches alone", async () => {
    const r = await get(`/plain/download?bytes=${MiB}`);
    assert.equal(r.sha, r.expected);
    assert.equal(r.event.shaperRuleId, "");
  });

  it("frees everything when the client aborts a shaped download: no timer, no upstream connection left", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((x) => x === "Timeout").length;
    const before = timers();
    const s = net.connect(h.port(), "127.0.0.1");
    s.write(`GET /abort/download?bytes=${8 * MiB} HTTP/1.1\r\nHost: x\r\n\r\n`);
    let got = 0;
    await new Promise<void>((resolve) =>
      s.on("data", (d: Buffer) => {
        got += d.length;
        // Past the burst: the shaper now holds a chunk on a timer.
        if (got > 256 * KiB) resolve();
      }),
    );
    s.destroy();
    let e: RequestEvent | undefined;
    while ((e = h.events.findLast((x) => x.path === "/abort/download")) === undefined) await h.waitForEvents(h.events.length + 1);
    // Checked as soon as the request is over: a held chunk's timer would still be pending now.
    assert.ok(timers() <= before, `timers before ${before}, after ${timers()}`);
    assert.equal(e.errorKind, "client_aborted");
    assert.ok(e.shapedBytesOut > 0, "the download was being shaped");
    assert.ok(e.bytesOut < 8 * MiB, `sent ${e.bytesOut}`);
    assert.equal(aborted.seen.length, 1);
    await aborted.connectionsClosed();
  });

  it("holds only a few chunks while a fast origin feeds a slow shaped download", async () => {
    // Bytes undici took off the upstream socket minus bytes the client has: what the proxy holds
    // (relay, shaper, the client socket's buffers). Unshaped by backpressure, it would be megabytes.
    const channel = diagnostics.channel("undici:request:bodyChunkReceived");
    let upstream = 0;
    let client = 0;
    let worst = 0;
    const onChunk = (m: unknown) => {
      const { request: req, chunk } = m as { request: { origin: string }; chunk: Buffer };
      if (req.origin !== origin.url) return;
      upstream += chunk.length;
      worst = Math.max(worst, upstream - client);
    };
    channel.subscribe(onChunk);
    try {
      const size = 4 * MiB;
      const r = await request(`${h.url()}/mem/download?bytes=${size}`);
      for await (const c of r.body) client += (c as Buffer).length;
      assert.equal(client, size);
      assert.equal(upstream, size);
    } finally {
      channel.unsubscribe(onChunk);
    }
    assert.ok(worst <= 512 * KiB, `the proxy held ${worst} bytes at once`);
    console.log(`# held at most ${worst} bytes`);
  });
});
