import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "undici";
import Database from "better-sqlite3";
import { withWarren } from "../helpers/with-warren.ts";
import { startOrigin } from "../helpers/origins.ts";
import { pollUntil } from "../helpers/wait.ts";
import { cookieHeader, login, publicListener } from "../helpers/warren-process.ts";

describe("request events (stage 11)", () => {
  it("records one event per request, written in batches, without the query string", async (t) => {
    const warren = await withWarren(t, { admin: true });
    const { w } = warren;
    const origin = await startOrigin("ev");
    try {
      const { api, admin: c } = warren;
      const l = ((await api.call("ProxyService/GetProxyConfig", {}, c)).json.listeners as { id: string; status: { boundPort: number } }[])[0]!;
      const r = await api.call(
        "ProxyService/CreateRoute",
        { spec: { listenerId: l.id, hosts: ["ev.test"], methods: ["GET", "POST"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url, enabled: true }] } },
        c,
      );
      assert.equal(r.status, 200, r.text);
      const routeId = String((r.json.route as { id: string }).id);
      const base = `http://127.0.0.1:${l.status.boundPort}`;
      const ok = await request(`${base}/hello?token=secret-value`, { headers: { host: "ev.test" } });
      await ok.body.dump();
      const up = await request(`${base}/upload`, { method: "POST", headers: { host: "ev.test" }, body: Buffer.alloc(1000, 1) });
      await up.body.dump();
      const missing = await request(`${base}/x`, { method: "DELETE", headers: { host: "ev.test" } });
      await missing.body.dump();
      // Stopping flushes what is queued; then read the real database file.
      await warren.stop();
      const db = new Database(`${w.configDir}/warren.db`, { readonly: true });
      const rows = db.prepare("SELECT * FROM request_events ORDER BY id").all() as Record<string, unknown>[];
      db.close();
      const hello = rows.find((e) => e.path === "/hello")!;
      assert.ok(hello, JSON.stringify(rows));
      assert.equal(hello.route_id, routeId);
      assert.equal(hello.status, 200);
      assert.equal(hello.method, "GET");
      assert.equal(hello.host, "ev.test");
      assert.equal(hello.client_ip, "127.0.0.1");
      assert.ok(String(hello.target_id).startsWith("tgt_"));
      assert.ok(Number(hello.bytes_out) > 0);
      assert.ok(!JSON.stringify(rows).includes("secret-value"), "queries are never stored");
      const upload = rows.find((e) => e.path === "/upload")!;
      assert.equal(upload.bytes_in, 1000);
      const nf = rows.find((e) => e.method === "DELETE" && e.path === "/x")!;
      assert.equal(nf.status, 405);
      assert.equal(nf.error_kind, "method_not_allowed");
    } finally {
      await origin.close();
    }
  });
});

describe("ObservabilityService", () => {
  it("lists request events newest first, filtered and paged, counts the last hour, and lets viewers read", async (t) => {
    const warren = await withWarren(t, { admin: true });
    const { api, admin: c } = warren;
    const origin = await startOrigin("obs");
    t.after(() => origin.close());
    const l = await publicListener(api, c);
    const r = await api.call("ProxyService/CreateRoute", { spec: { listenerId: l.id, hosts: ["obs.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url }] } }, c);
    assert.equal(r.status, 200, r.text);
    const routeId = String((r.json.route as { id: string }).id);
    const base = `http://127.0.0.1:${l.port}`;
    for (let i = 0; i < 5; i++) await (await request(`${base}/ok/${i}`, { headers: { host: "OBS.test" } })).body.dump();
    // Refused by the route stage (an encoded slash): a 400 with an error code.
    await (await request(`${base}/a%2Fb`, { headers: { host: "obs.test" } })).body.dump();

    type Ev = { path: string; status: number; host: string; routeId?: string; errorCode?: string; id: string; stageTimingsMs?: Record<string, number> };
    const list = async (body: Record<string, unknown>) => {
      const res = await api.call("ObservabilityService/ListRequestEvents", body, c);
      assert.equal(res.status, 200, res.text);
      return res.json as { events?: Ev[]; nextPageToken?: string };
    };
    // Events reach SQLite in batches (every 250 ms): wait for all six.
    await pollUntil("six request events", () => list({}), (v) => (v.events?.length ?? 0) >= 6);

    const all = (await list({})).events!;
    assert.deepEqual(
      all.map((e) => e.path),
      ["/a%2Fb", "/ok/4", "/ok/3", "/ok/2", "/ok/1", "/ok/0"],
      "newest first",
    );
    assert.ok(all[1]!.stageTimingsMs && "forward" in all[1]!.stageTimingsMs, "stage timings as a map");
    const byHost = (await list({ host: "obs.test" })).events!;
    assert.equal(byHost.length, 6, "host filter is case-insensitive");
    assert.equal((await list({ host: "other.test" })).events?.length ?? 0, 0);
    assert.equal((await list({ routeId })).events!.filter((e) => e.routeId === routeId).length, (await list({ routeId })).events!.length);
    assert.ok((await list({ routeId })).events!.length >= 5);
    const refused = (await list({ statusClass: "STATUS_CLASS_4XX" })).events ?? [];
    assert.deepEqual(
      refused.map((e) => [e.path, e.status]),
      [["/a%2Fb", 400]],
    );
    const code = refused[0]!.errorCode!;
    assert.ok(code, "a refused request carries its error code");
    assert.deepEqual((await list({ errorCode: code })).events!.map((e) => e.path), ["/a%2Fb"]);
    assert.equal((await list({ statusClass: "STATUS_CLASS_5XX" })).events?.length ?? 0, 0);
    assert.equal((await list({ since: new Date(Date.now() + 60_000).toISOString() })).events?.length ?? 0, 0, "since in the future");

    // Pages of two, chained by the token, cover everything once.
    const seen: string[] = [];
    let token = "";
    for (let pages = 0; pages < 10; pages++) {
      const p = await list({ pageSize: 2, pageToken: token });
      seen.push(...p.events!.map((e) => e.path));
      token = p.nextPageToken ?? "";
      if (!token) break;
    }
    assert.deepEqual(seen, all.map((e) => e.path));

    const bad = await api.call("ObservabilityService/ListRequestEvents", { pageToken: "nonsense" }, c);
    assert.equal(bad.json.code, "invalid_argument");
    assert.match(String(bad.json.message), /^page_token: /);
    const big = await api.call("ObservabilityService/ListRequestEvents", { pageSize: 501 }, c);
    assert.match(String(big.json.message), /^page_size: /);

    const summary = await api.call("ObservabilityService/GetRequestSummary", {}, c);
    assert.equal(summary.status, 200, summary.text);
    assert.deepEqual({ ...(summary.json as Record<string, unknown>), since: undefined }, { since: undefined, requests: "6", clientErrors: "1", warrenErrors: "1" });

    const viewer = await api.call("UserService/CreateUser", { username: "vic", password: "viewer password 1", role: "ROLE_VIEWER" }, c);
    assert.equal(viewer.status, 200, viewer.text);
    const vc = cookieHeader(await login(api, "vic", "viewer password 1"));
    assert.equal((await api.call("ObservabilityService/ListRequestEvents", {}, vc)).status, 200);
    assert.equal((await api.call("ObservabilityService/GetRequestSummary", {}, vc)).status, 200);
  });
});
