import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "undici";
import Database from "better-sqlite3";
import { withWarren } from "../helpers/with-warren.ts";
import { startOrigin } from "../helpers/origins.ts";

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
