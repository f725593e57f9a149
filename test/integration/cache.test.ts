// The HTTP cache end to end (issue 11): a real `warren serve`, cache rules and purges through
// PolicyService, real requests on the public listener to a real origin that counts what it serves.
import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { withWarren, type WarrenFixture } from "../helpers/with-warren.ts";
import { pollUntil } from "../helpers/wait.ts";
import { publicListener } from "../helpers/warren-process.ts";

interface CountingOrigin {
  readonly url: string;
  /** Requests per path (with query), and the conditional ones. */
  readonly hits: Map<string, number>;
  readonly conditional: string[];
  close(): Promise<void>;
}

/** Answers every path with `max-age=60`, an ETag and a body naming the path; 304 to a matching If-None-Match. */
async function countingOrigin(): Promise<CountingOrigin> {
  const hits = new Map<string, number>();
  const conditional: string[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    hits.set(url, (hits.get(url) ?? 0) + 1);
    const etag = `"${Buffer.from(url).toString("base64url")}"`;
    if (req.headers["if-none-match"] === etag) {
      conditional.push(url);
      res.writeHead(304, { etag, "cache-control": "max-age=60" });
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain", etag, "cache-control": "max-age=60" });
    res.end(`body of ${url}`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    conditional,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function get(base: string, host: string, path: string, headers: Record<string, string> = {}) {
  const res = await request(`${base}${path}`, { headers: { host, ...headers } });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** A route for `hosts` to a fresh counting origin, and a cache rule; both removed after the test. */
async function cachedRoute(t: TestContext, warren: WarrenFixture, hosts: string[], rule: Record<string, unknown>) {
  const { api, admin: c } = warren;
  const origin = await countingOrigin();
  const listener = await publicListener(api, c);
  const r = await api.call("ProxyService/CreateRoute", { spec: { listenerId: listener.id, name: `cached ${hosts[0]}`, hosts, action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url }] } }, c);
  assert.equal(r.status, 200, r.text);
  const routeId = String((r.json.route as { id: string }).id);
  const cr = await api.call("PolicyService/CreateCacheRule", { spec: { name: `cache ${hosts[0]}`, scope: { hosts }, cacheStatusHeader: true, ...rule } }, c);
  assert.equal(cr.status, 200, cr.text);
  const ruleId = String((cr.json.rule as { id: string }).id);
  // The fixture's client and session as they are then: a test may have restarted the server.
  t.after(async () => {
    await warren.api.call("PolicyService/DeleteCacheRule", { id: ruleId }, warren.admin);
    await warren.api.call("PolicyService/PurgeCache", { all: true }, warren.admin);
    await warren.api.call("ProxyService/DeleteRoute", { id: routeId }, warren.admin);
    await origin.close();
  });
  return { origin, base: `http://127.0.0.1:${listener.port}`, routeId, ruleId };
}

describe("the HTTP cache", () => {
  const warren = withWarren({ admin: true });

  it("serves the second GET from the cache with Age and Cache-Status, and records it (acceptance 1)", async (t) => {
    const { origin, base, ruleId } = await cachedRoute(t, warren, ["cache.test"], {});
    const first = await get(base, "cache.test", "/page?a=1&b=2");
    assert.equal(first.status, 200);
    assert.match(String(first.headers["cache-status"]), /^Warren; fwd=uri-miss; stored/);
    // The same query in another order is the same entry.
    const second = await get(base, "cache.test", "/page?b=2&a=1");
    assert.equal(second.status, 200);
    assert.equal(second.body, "body of /page?a=1&b=2");
    assert.equal(second.headers["cache-status"], "Warren; hit");
    assert.ok(Number(second.headers["age"]) >= 0, `Age ${String(second.headers["age"])}`);
    assert.equal(origin.hits.get("/page?a=1&b=2"), 1, "the origin saw one request");
    // A HEAD is answered from the stored GET.
    const res = await request(`${base}/page?a=1&b=2`, { method: "HEAD", headers: { host: "cache.test" } });
    await res.body.text();
    assert.equal(res.headers["cache-status"], "Warren; hit");
    assert.equal(origin.hits.size, 1);

    const ev = await pollUntil(
      "the hit's event",
      () => warren.api.call("ObservabilityService/ListRequestEvents", { host: "cache.test", pageSize: 10 }, warren.admin),
      (r) => ((r.json.events as { cacheStatus?: string }[]) ?? []).some((e) => e.cacheStatus === "hit"),
    );
    const statuses = (ev.json.events as { cacheStatus?: string }[]).map((e) => e.cacheStatus ?? "");
    assert.ok(statuses.includes("stored"), statuses.join(","));

    const usage = await warren.api.call("PolicyService/GetCacheUsage", {}, warren.admin);
    assert.equal(usage.status, 200, usage.text);
    assert.ok(Number((usage.json.memory as { entries?: string }).entries ?? 0) + Number((usage.json.disk as { entries?: string } | undefined)?.entries ?? 0) >= 1, usage.text);
    assert.ok(Number(usage.json.hits ?? 0) >= 1, usage.text);
    assert.ok(ruleId.startsWith("cch_"));
  });

  it("purges by path prefix exactly those entries, before the answer (acceptance 5)", async (t) => {
    const { origin, base } = await cachedRoute(t, warren, ["purge.test"], {});
    for (const p of ["/docs", "/docs/a", "/docs/b/c", "/docsx", "/other"]) assert.equal((await get(base, "purge.test", p)).status, 200);
    for (const p of ["/docs", "/docs/a", "/docs/b/c", "/docsx", "/other"]) assert.equal((await get(base, "purge.test", p)).headers["cache-status"], "Warren; hit", p);

    const r = await warren.api.call("PolicyService/PurgeCache", { pathPrefix: "/docs", prefixHost: "purge.test" }, warren.admin);
    assert.equal(r.status, 200, r.text);
    assert.equal(Number(r.json.entries), 3, r.text);
    assert.ok(Number(r.json.bytes) > 0, r.text);
    for (const p of ["/docs", "/docs/a", "/docs/b/c"]) {
      const x = await get(base, "purge.test", p);
      assert.match(String(x.headers["cache-status"]), /fwd=uri-miss/, p);
      assert.equal(origin.hits.get(p), 2, `${p} fetched again`);
    }
    for (const p of ["/docsx", "/other"]) assert.equal((await get(base, "purge.test", p)).headers["cache-status"], "Warren; hit", `${p} kept`);

    const one = await warren.api.call("PolicyService/PurgeCache", { url: "purge.test/other" }, warren.admin);
    assert.equal(Number(one.json.entries), 1, one.text);
  });

  it("refuses bad rules, settings and purges with invalid_argument naming the field", async () => {
    const bad = async (method: string, body: Record<string, unknown>, field: string) => {
      const r = await warren.api.call(`PolicyService/${method}`, body, warren.admin);
      assert.equal(r.status, 400, r.text);
      assert.ok(String(r.json.message).startsWith(`${field}: `), `${String(r.json.message)} names ${field}`);
    };
    await bad("CreateCacheRule", { spec: { name: "x", ttlMs: "10" } }, "spec.ttl_ms");
    await bad("CreateCacheRule", { spec: { name: "x", varyHeaders: ["cookie"] } }, "spec.vary_headers[0]");
    await bad("CreateCacheRule", { spec: { name: "x", routeIds: ["rte_aaaaaaaaaaaaaaaa"] } }, "spec.route_ids[0]");
    await bad("UpdateCacheSettings", { settings: { memoryBytes: "2097152", hotObjectBytes: "4194304" } }, "settings.hot_object_bytes");
    await bad("PurgeCache", { pathPrefix: "docs" }, "path_prefix");
    await bad("PurgeCache", {}, "target");
  });
});

describe("the cache's disk tier across a restart", () => {
  const warren = withWarren({ admin: true });

  it("keeps stored entries on disk through a restart, and applies new settings at once (acceptance 5)", async (t) => {
    const { origin, base } = await cachedRoute(t, warren, ["disk.test"], {});
    // Every entry is written to the disk tier; the memory copy does not survive the restart.
    const big = await get(base, "disk.test", "/docs/big");
    assert.equal(big.status, 200);
    assert.match(String(big.headers["cache-status"]), /stored/);
    assert.equal((await get(base, "disk.test", "/docs/big")).headers["cache-status"], "Warren; hit");
    const before = await warren.api.call("PolicyService/GetCacheUsage", {}, warren.admin);
    assert.ok(Number((before.json.disk as { entries?: string }).entries ?? 0) >= 1, before.text);

    await warren.restart();
    const listener = await publicListener(warren.api, warren.admin);
    const again = await get(`http://127.0.0.1:${listener.port}`, "disk.test", "/docs/big");
    assert.equal(again.headers["cache-status"], "Warren; hit", "served from the disk tier after the restart");
    assert.equal(origin.hits.get("/docs/big"), 1, "the origin was asked once, before the restart");

    // Settings: the disk tier off → memory only, at the new budget, at once.
    const up = await warren.api.call("PolicyService/UpdateCacheSettings", { settings: { memoryBytes: String(8 * 1024 * 1024), diskBytes: "0" } }, warren.admin);
    assert.equal(up.status, 200, up.text);
    const after = await warren.api.call("PolicyService/GetCacheUsage", {}, warren.admin);
    assert.equal(Number((after.json.memory as { budgetBytes?: string }).budgetBytes), 8 * 1024 * 1024, after.text);
    assert.equal(Number((after.json.disk as { budgetBytes?: string } | undefined)?.budgetBytes ?? 0), 0, after.text);
  });
});
