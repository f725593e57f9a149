// Traffic shaping end to end (issue 10): a real `warren serve`, shapers written through
// PolicyService, real downloads, uploads and WebSockets on the public listener to real origins.
// Only lower bounds on time: a shaped transfer cannot be faster than its rate allows (what bytes the
// burst lets through at once excepted), however slow the machine is; an unshaped one on loopback is
// far faster than every bound here, so each of these fails when the shaping stage does nothing.
import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request, WebSocket } from "undici";
import { withWarren } from "../helpers/with-warren.ts";
import { originRoute } from "../helpers/policy-fixture.ts";
import { startWebSocketEcho } from "../helpers/origins.ts";
import { publicListener } from "../helpers/warren-process.ts";
import { pollUntil } from "../helpers/wait.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** The least time `bytes` can take through a bucket of `burst` refilled at `rate` bytes a second. */
const atLeastMs = (bytes: number, rate: number, burst: number) => ((bytes - burst) / rate) * 1000 * 0.97;

/**
 * shapedBytes* count the bytes that had to wait for the bucket. On an idle machine that is all but
 * the burst; when the gateway's event loop is held up (two cores shared with CI), a chunk that
 * arrives late finds the bucket refilled and passes without waiting, so it is not counted (seen:
 * 1.75 MiB of 2 MiB). No tight bound holds under load; most of the body always does.
 */
const mostOf = (bytes: number) => bytes / 2;

interface Event {
  readonly path?: string;
  readonly status?: number;
  readonly upgrade?: boolean;
  readonly shaperRuleId?: string;
  readonly shapedBytesIn?: string;
  readonly shapedBytesOut?: string;
  readonly bytesIn?: string;
  readonly bytesOut?: string;
}

/** A deterministic body of n bytes that is not all one value. */
function body(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32LE((i * 2654435761) >>> 0, i);
  return b;
}

describe("traffic shaping", () => {
  const warren = withWarren({ admin: true });

  /** A shaper from a JSON spec; deleted after the test. */
  async function shaper(t: TestContext, spec: Record<string, unknown>): Promise<string> {
    const r = await warren.api.call("PolicyService/CreateShaperRule", { spec }, warren.admin);
    assert.equal(r.status, 200, r.text);
    const id = String((r.json.rule as { id: string }).id);
    t.after(() => warren.api.call("PolicyService/DeleteShaperRule", { id }, warren.admin));
    return id;
  }

  /** The request event for `path` on route `routeId`, once the batch that carries it is written. */
  async function eventFor(routeId: string, path: string, pred: (e: Event) => boolean = () => true): Promise<Event> {
    const r = await pollUntil(
      `the event of ${path}`,
      () => warren.api.call("ObservabilityService/ListRequestEvents", { routeId, pageSize: 100 }, warren.admin),
      (x) => ((x.json.events as Event[] | undefined) ?? []).some((e) => e.path === path && pred(e)),
    );
    return (r.json.events as Event[]).find((e) => e.path === path && pred(e))!;
  }

  /** GETs `/…/download?bytes=n` with `host`: how long until the last byte, and whether it is intact. */
  async function download(base: string, host: string, path: string, n: number) {
    const t0 = performance.now();
    const res = await request(`${base}${path}?bytes=${n}`, { headers: { host } });
    const h = createHash("sha256");
    let bytes = 0;
    for await (const chunk of res.body) {
      h.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    return { status: res.statusCode, ms: performance.now() - t0, bytes, sha: h.digest("hex"), expected: String(res.headers["x-sha256"]) };
  }

  it("paces a 2 MiB download to 1 MiB/s (burst 64 KiB): ≥ 1.8 s, intact, and the event names the shaper", async (t) => {
    const { base, routeId } = await originRoute(t, warren, "shape-dl");
    const id = await shaper(t, {
      name: "downloads at 1 MiB/s",
      scope: { hosts: ["dl.test"] },
      budget: "SHAPER_BUDGET_PER_KEY",
      downloadBytesPerSecond: MiB,
      burstBytes: 64 * KiB,
    });
    const r = await download(base, "dl.test", "/dl/download", 2 * MiB);
    t.diagnostic(`2 MiB at 1 MiB/s: ${Math.round(r.ms)} ms`);
    assert.equal(r.status, 200);
    assert.equal(r.bytes, 2 * MiB);
    assert.equal(r.sha, r.expected, "the body arrived intact");
    assert.ok(r.ms >= 1800, `2 MiB at 1 MiB/s took only ${Math.round(r.ms)} ms`);

    const e = await eventFor(routeId, "/dl/download");
    assert.equal(e.shaperRuleId, id);
    t.diagnostic(`shapedBytesOut ${e.shapedBytesOut}`);
    // About all but the 64 KiB burst waited for the bucket (see mostOf).
    assert.ok(Number(e.shapedBytesOut) >= mostOf(2 * MiB) && Number(e.shapedBytesOut) <= 2 * MiB, `shapedBytesOut ${e.shapedBytesOut}`);
    assert.equal(Number(e.shapedBytesIn ?? 0), 0, "no request body, nothing shaped on the way in");
  });

  it("paces a 2 MiB upload to 1 MiB/s (burst 64 KiB): ≥ 1.8 s, the origin gets every byte, the event counts them", async (t) => {
    const { base, routeId } = await originRoute(t, warren, "shape-ul");
    const id = await shaper(t, {
      name: "uploads at 1 MiB/s",
      scope: { hosts: ["ul.test"] },
      budget: "SHAPER_BUDGET_PER_REQUEST",
      uploadBytesPerSecond: MiB,
      burstBytes: 64 * KiB,
    });
    const payload = body(2 * MiB);
    const t0 = performance.now();
    const res = await request(`${base}/ul/upload`, { method: "POST", headers: { host: "ul.test", "content-type": "application/octet-stream" }, body: payload });
    const answer = (await res.body.json()) as { sha256: string; bytes: number };
    const ms = performance.now() - t0;
    t.diagnostic(`2 MiB up at 1 MiB/s: ${Math.round(ms)} ms`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(answer, { sha256: createHash("sha256").update(payload).digest("hex"), bytes: 2 * MiB }, "the origin got the body intact");
    assert.ok(ms >= 1800, `2 MiB up at 1 MiB/s took only ${Math.round(ms)} ms`);

    const e = await eventFor(routeId, "/ul/upload");
    assert.equal(e.shaperRuleId, id);
    t.diagnostic(`shapedBytesIn ${e.shapedBytesIn}`);
    assert.ok(Number(e.shapedBytesIn) >= mostOf(2 * MiB) && Number(e.shapedBytesIn) <= 2 * MiB, `shapedBytesIn ${e.shapedBytesIn}`);
  });

  it("paces a WebSocket both ways: ~1 MiB echoed at 512 KiB/s takes ≥ 1.8 s and comes back intact", async (t) => {
    const { api, admin: c } = warren;
    const echo = await startWebSocketEcho();
    const l = await publicListener(api, c);
    const r = await api.call("ProxyService/CreateRoute", { spec: { listenerId: l.id, name: "ws", pathPrefix: "/ws-shaped", action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: echo.url }] } }, c);
    assert.equal(r.status, 200, r.text);
    const routeId = String((r.json.route as { id: string }).id);
    t.after(async () => {
      await api.call("ProxyService/DeleteRoute", { id: routeId }, c);
      await echo.close();
    });
    const id = await shaper(t, {
      name: "sockets at 512 KiB/s",
      scope: { pathPrefixes: ["/ws-shaped"] },
      budget: "SHAPER_BUDGET_PER_REQUEST",
      uploadBytesPerSecond: 512 * KiB,
      downloadBytesPerSecond: 512 * KiB,
      burstBytes: 16 * KiB,
    });

    // The echo origin takes frames under 64 KiB: 17 binary messages of 60 KiB, each one different.
    const messages = Array.from({ length: 17 }, (_, i) => {
      const m = body(60 * KiB);
      m.writeUInt32LE(i, 0);
      return m;
    });
    const total = messages.reduce((n, m) => n + m.length, 0);
    const sent = createHash("sha256");
    for (const m of messages) sent.update(m);

    const sock = new WebSocket(`ws://127.0.0.1:${l.port}/ws-shaped/echo`);
    sock.binaryType = "arraybuffer";
    const t0 = performance.now();
    const received = createHash("sha256");
    const got = await new Promise<number>((resolve, reject) => {
      let bytes = 0;
      let n = 0;
      sock.onopen = () => {
        for (const m of messages) sock.send(m);
      };
      sock.onmessage = (ev) => {
        const d = Buffer.from(ev.data as ArrayBuffer);
        received.update(d);
        bytes += d.length;
        if (++n === messages.length) resolve(bytes);
      };
      sock.onerror = () => reject(new Error("websocket error"));
      sock.onclose = () => reject(new Error(`closed after ${n} of ${messages.length} messages`));
    });
    const ms = performance.now() - t0;
    const closed = new Promise<void>((res) => (sock.onclose = () => res()));
    sock.close();
    await closed;
    t.diagnostic(`${total} bytes each way at 512 KiB/s: ${Math.round(ms)} ms`);
    assert.equal(got, total);
    assert.equal(received.digest("hex"), sent.digest("hex"), "every message came back intact, in order");
    // Both directions are paced at once, so the bound is one direction's time.
    assert.ok(ms >= 1800 && ms >= atLeastMs(total, 512 * KiB, 16 * KiB), `${total} bytes at 512 KiB/s took only ${Math.round(ms)} ms`);

    const e = await eventFor(routeId, "/ws-shaped/echo", (x) => x.upgrade === true);
    assert.equal(e.status, 101);
    assert.equal(e.shaperRuleId, id);
    t.diagnostic(`shapedBytesIn ${e.shapedBytesIn}, shapedBytesOut ${e.shapedBytesOut}`);
    assert.ok(Number(e.shapedBytesIn) >= mostOf(total), `shapedBytesIn ${e.shapedBytesIn}`);
    assert.ok(Number(e.shapedBytesOut) >= mostOf(total), `shapedBytesOut ${e.shapedBytesOut}`);
  });

  it("leaves requests outside the shaper's scope alone", async (t) => {
    const { base, routeId } = await originRoute(t, warren, "shape-scope");
    const id = await shaper(t, {
      name: "only slow.test/shaped",
      scope: { hosts: ["slow.test"], pathPrefixes: ["/shaped"] },
      budget: "SHAPER_BUDGET_PER_REQUEST",
      downloadBytesPerSecond: 512 * KiB,
      burstBytes: 16 * KiB,
    });
    // Out of scope by host and by path: intact, and no shaper on their events.
    const otherHost = await download(base, "fast.test", "/shaped/download", 2 * MiB);
    const otherPath = await download(base, "slow.test", "/plain/download", 2 * MiB);
    t.diagnostic(`unshaped 2 MiB: ${Math.round(otherHost.ms)} ms and ${Math.round(otherPath.ms)} ms`);
    for (const r of [otherHost, otherPath]) {
      assert.equal(r.bytes, 2 * MiB);
      assert.equal(r.sha, r.expected);
    }
    for (const path of ["/shaped/download", "/plain/download"]) {
      const e = await eventFor(routeId, path);
      assert.equal(e.shaperRuleId ?? "", "", `${path} was not shaped`);
      assert.equal(Number(e.shapedBytesOut ?? 0), 0);
      assert.equal(Number(e.bytesOut), 2 * MiB, "the event is of the whole download");
    }
    // In scope, the same rule does pace.
    const shaped = await download(base, "slow.test", "/shaped/in/download", 512 * KiB);
    t.diagnostic(`shaped 512 KiB at 512 KiB/s: ${Math.round(shaped.ms)} ms`);
    assert.equal(shaped.sha, shaped.expected);
    assert.ok(shaped.ms >= atLeastMs(512 * KiB, 512 * KiB, 16 * KiB), `in scope took only ${Math.round(shaped.ms)} ms`);
    assert.equal((await eventFor(routeId, "/shaped/in/download")).shaperRuleId, id);
  });

  it("applies an edit to the next request: a lower rate paces it, a disabled shaper lets it go", async (t) => {
    const { base, routeId } = await originRoute(t, warren, "shape-edit");
    const spec = { name: "editable", scope: { hosts: ["edit.test"] }, budget: "SHAPER_BUDGET_PER_KEY", downloadBytesPerSecond: 8 * MiB, burstBytes: 16 * KiB };
    const id = await shaper(t, spec);
    const fast = await download(base, "edit.test", "/before/download", 512 * KiB);
    assert.equal(fast.sha, fast.expected);
    assert.equal((await eventFor(routeId, "/before/download")).shaperRuleId, id);

    // 8 MiB/s → 256 KiB/s: 512 KiB can no longer take less than ~2 s (at the old rate: ~60 ms).
    const slower = await warren.api.call("PolicyService/UpdateShaperRule", { id, spec: { ...spec, downloadBytesPerSecond: 256 * KiB } }, warren.admin);
    assert.equal(slower.status, 200, slower.text);
    const slow = await download(base, "edit.test", "/after/download", 512 * KiB);
    t.diagnostic(`512 KiB: ${Math.round(fast.ms)} ms at 8 MiB/s, ${Math.round(slow.ms)} ms after the edit to 256 KiB/s`);
    assert.equal(slow.sha, slow.expected);
    assert.ok(slow.ms >= atLeastMs(512 * KiB, 256 * KiB, 16 * KiB), `after the edit 512 KiB took only ${Math.round(slow.ms)} ms`);
    const e = await eventFor(routeId, "/after/download");
    assert.equal(e.shaperRuleId, id);
    assert.ok(Number(e.shapedBytesOut) >= mostOf(512 * KiB), `shapedBytesOut ${e.shapedBytesOut}`);

    const off = await warren.api.call("PolicyService/UpdateShaperRule", { id, spec: { ...spec, downloadBytesPerSecond: 256 * KiB, enabled: false } }, warren.admin);
    assert.equal(off.status, 200, off.text);
    const free = await download(base, "edit.test", "/off/download", 512 * KiB);
    assert.equal(free.sha, free.expected);
    assert.equal((await eventFor(routeId, "/off/download")).shaperRuleId ?? "", "", "a disabled shaper paces nothing");
  });

  it("refuses bad input with invalid_argument naming the field, and stores nothing", async () => {
    const base = { name: "bad", budget: "SHAPER_BUDGET_PER_KEY", downloadBytesPerSecond: MiB };
    const expectField = async (method: string, req: Record<string, unknown>, field: string) => {
      const r = await warren.api.call(`PolicyService/${method}`, req, warren.admin);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.code, "invalid_argument", r.text);
      assert.ok(String(r.json.message).startsWith(`${field}: `), `${String(r.json.message)} names ${field}`);
    };
    await expectField("CreateShaperRule", { spec: { ...base, downloadBytesPerSecond: 0 } }, "spec.download_bytes_per_second");
    await expectField("CreateShaperRule", { spec: { ...base, burstBytes: 2 ** 30 + 1 } }, "spec.burst_bytes");
    await expectField("CreateShaperRule", { spec: { ...base, budget: "SHAPER_BUDGET_PER_REQUEST", keyParts: ["client_ip"] } }, "spec.key_parts");
    const list = await warren.api.call("PolicyService/ListShaperRules", {}, warren.admin);
    assert.deepEqual(list.json.rules ?? [], [], "nothing was stored");

    // An update is checked the same way and leaves the stored shaper as it was.
    const made = await warren.api.call("PolicyService/CreateShaperRule", { spec: base }, warren.admin);
    assert.equal(made.status, 200, made.text);
    const id = String((made.json.rule as { id: string }).id);
    try {
      await expectField("UpdateShaperRule", { id, spec: { ...base, downloadBytesPerSecond: 0, uploadBytesPerSecond: 0 } }, "spec.download_bytes_per_second");
      const after = await warren.api.call("PolicyService/ListShaperRules", {}, warren.admin);
      assert.equal((after.json.rules as { spec: { downloadBytesPerSecond: number } }[])[0]!.spec.downloadBytesPerSecond, MiB);
    } finally {
      await warren.api.call("PolicyService/DeleteShaperRule", { id }, warren.admin);
    }
  });
});
