import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { createHash } from "node:crypto";
import http from "node:http";
import { Readable } from "node:stream";
import { request } from "undici";
import type { JsonApi, WarrenProcess } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";

function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(text));
    let out = "";
    s.setEncoding("latin1");
    s.on("data", (d: string) => (out += d));
    s.on("end", () => resolve(out));
    s.on("close", () => resolve(out));
    s.on("error", reject);
  });
}

describe("public data plane: listeners, routes, direct targets", () => {
  const warren = withWarren({ admin: true });
  let w: WarrenProcess;
  let api: JsonApi;
  let c: Record<string, string>;
  let port: number;
  let listenerId: string;
  const origins: Origin[] = [];

  before(async () => {
    ({ w, api, admin: c } = warren);
    const cfg = await api.call("ProxyService/GetProxyConfig", {}, c);
    const listeners = cfg.json.listeners as { id: string; spec: { name: string }; status: { state: string; boundPort: number } }[];
    const seeded = listeners.find((l) => l.spec.name === "public-http")!;
    assert.equal(seeded.status.state, "LISTENER_STATE_RUNNING");
    listenerId = seeded.id;
    port = seeded.status.boundPort;
    for (const n of ["a", "b", "c"]) origins.push(await startOrigin(n));
  });
  after(async () => {
    for (const o of origins) await o.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => request(`http://127.0.0.1:${port}${path}`, { headers });
  const route = async (spec: Record<string, unknown>) => {
    const r = await api.call("ProxyService/CreateRoute", { spec: { listenerId, ...spec } }, c);
    assert.equal(r.status, 200, r.text);
    return String((r.json.route as { id: string }).id);
  };

  it("serves the seeded welcome page on the default route", async () => {
    const r = await get("/anything");
    assert.equal(r.statusCode, 200);
    assert.match(await r.body.text(), /Warren is running/);
  });

  it("routes by host, path prefix and method; 405 with Allow when only the method misses", async () => {
    await route({
      name: "api",
      hosts: ["app.test"],
      pathPrefix: "/api",
      methods: ["GET", "POST"],
      action: "ROUTE_ACTION_FORWARD",
      targets: [{ kind: "TARGET_KIND_DIRECT", url: origins[0]!.url, enabled: true }],
    });
    const ok = await get("/api/users?x=1", { host: "app.test", "x-forwarded-for": "6.6.6.6" });
    assert.equal(ok.statusCode, 200);
    const seen = (await ok.body.json()) as { origin: string; url: string; headers: Record<string, string> };
    assert.equal(seen.origin, "a");
    assert.equal(seen.url, "/api/users?x=1");
    assert.equal(seen.headers["x-forwarded-for"], "127.0.0.1", "a spoofed X-Forwarded-For from an untrusted peer is replaced");
    assert.equal(seen.headers["x-forwarded-host"], "app.test");
    assert.equal(seen.headers.via, undefined, "no Via unless the route sets add_via");
    const segment = await get("/apix", { host: "app.test" });
    assert.match(await segment.body.text(), /Warren is running/, "path prefixes are segment-aware: /apix falls to the default route");
    const del = await request(`http://127.0.0.1:${port}/api/x`, { method: "DELETE", headers: { host: "app.test" } });
    assert.equal(del.statusCode, 405);
    assert.equal(del.headers.allow, "GET, HEAD, POST");
    await del.body.dump();
  });

  it("rejects path tricks before routing, and lets encoded separators through only where allowed", async () => {
    for (const p of ["/a/../b", "/a/%2e%2e/b", "/a%2Fb", "/a\\b"]) {
      const out = await rawRequest(port, `GET ${p} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`);
      assert.match(out, /^HTTP\/1\.1 400 /, p);
    }
    await route({
      name: "raw",
      hosts: ["raw.test"],
      action: "ROUTE_ACTION_FORWARD",
      options: { allowEncodedSeparators: true },
      targets: [{ kind: "TARGET_KIND_DIRECT", url: origins[1]!.url, enabled: true }],
    });
    const r = await get("/a%2Fb", { host: "raw.test" });
    assert.equal(r.statusCode, 200);
    assert.equal(((await r.body.json()) as { url: string }).url, "/a%2Fb", "forwarded raw");
  });

  it("never lets smuggling or malformed requests reach an origin", async () => {
    const before = origins[0]!.seen.length;
    const attacks = [
      "POST /api/x HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "GET /api/x HTTP/1.1\r\nHost: app.test\r\nHost: other.test\r\n\r\n",
      "POST /api/x HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
      "GET /api/x HTTP/1.1\r\nHost: app.test\r\nX-Bad: a\rb\r\n\r\n",
      "GET http://evil.test/api/x HTTP/1.1\r\nHost: app.test\r\n\r\n",
      "GET /api/x HTTP/1.1\r\n\r\n",
      "BLAH\r\n\r\n",
    ];
    for (const a of attacks) {
      const out = await rawRequest(port, a);
      assert.match(out, /^HTTP\/1\.1 4\d\d /, JSON.stringify(a));
    }
    assert.equal(origins[0]!.seen.length, before, "nothing reached the origin");
  });

  it("streams a 50 MiB upload and download with equal SHA-256", async () => {
    await route({
      name: "bulk",
      hosts: ["bulk.test"],
      action: "ROUTE_ACTION_FORWARD",
      targets: [{ kind: "TARGET_KIND_DIRECT", url: origins[2]!.url, enabled: true }],
    });
    const size = 50 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 3);
    const sent = createHash("sha256");
    for (let i = 0; i < 50; i++) sent.update(chunk);
    const up = await request(`http://127.0.0.1:${port}/upload`, {
      method: "POST",
      headers: { host: "bulk.test" },
      body: Readable.from((function* () { for (let i = 0; i < 50; i++) yield chunk; })()),
    });
    const got = (await up.body.json()) as { sha256: string; bytes: number };
    assert.equal(got.bytes, size);
    assert.equal(got.sha256, sent.digest("hex"));
    const down = await get(`/download?bytes=${size}`, { host: "bulk.test" });
    const h = createHash("sha256");
    let n = 0;
    for await (const d of down.body) {
      h.update(d as Buffer);
      n += (d as Buffer).length;
    }
    assert.equal(n, size);
    assert.equal(h.digest("hex"), down.headers["x-sha256"]);
  });

  // Streaming, proven without measuring memory (RSS after a transfer mostly counts garbage the GC has
  // not collected yet, which varies with the machine's load): client and origin move in lockstep,
  // each sending the next MiB only once the other side has received the previous one. A proxy that
  // held a whole body before passing it on would deadlock here, and the test would time out.
  it("streams uploads and downloads in lockstep: nothing waits for the whole body", { timeout: 30_000 }, async () => {
    const MiB = 1024 * 1024;
    const parts = 16;
    const block = Buffer.alloc(MiB, 9);
    let originGot = 0;
    let clientGot = 0;
    const waiters: { ready: () => boolean; resolve: () => void }[] = [];
    const progressed = () => {
      for (const w of waiters.splice(0)) if (w.ready()) w.resolve();
      else waiters.push(w);
    };
    const until = (ready: () => boolean) => new Promise<void>((resolve) => (ready() ? resolve() : waiters.push({ ready, resolve })));
    const origin = http.createServer(async (req, res) => {
      if (req.url === "/up") {
        req.on("data", (d: Buffer) => {
          originGot += d.length;
          progressed();
        });
        req.on("end", () => res.end(String(originGot)));
        return;
      }
      res.writeHead(200, { "content-length": String(parts * MiB) });
      for (let i = 0; i < parts; i++) {
        await until(() => clientGot >= i * MiB);
        res.write(block);
      }
      res.end();
    });
    await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
    try {
      await route({ name: "lockstep", hosts: ["lockstep.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: `http://127.0.0.1:${(origin.address() as net.AddressInfo).port}`, enabled: true }] });
      const body = Readable.from(
        (async function* () {
          for (let i = 0; i < parts; i++) {
            await until(() => originGot >= i * MiB);
            yield block;
          }
        })(),
      );
      const up = await request(`http://127.0.0.1:${port}/up`, { method: "POST", headers: { host: "lockstep.test", "content-length": String(parts * MiB) }, body });
      assert.equal(await up.body.text(), String(parts * MiB));
      const down = await get("/down", { host: "lockstep.test" });
      for await (const d of down.body) {
        clientGot += (d as Buffer).length;
        progressed();
      }
      assert.equal(clientGot, parts * MiB);
    } finally {
      await new Promise<void>((r) => origin.close(() => r()));
    }
  });

  it("balances round robin exactly and weighted round robin by weight", async () => {
    await route({
      name: "rr",
      hosts: ["rr.test"],
      action: "ROUTE_ACTION_FORWARD",
      targets: origins.map((o) => ({ kind: "TARGET_KIND_DIRECT", url: o.url, enabled: true })),
    });
    const seq: string[] = [];
    for (let i = 0; i < 9; i++) seq.push(String((await get("/", { host: "rr.test" })).headers["x-origin"]));
    assert.deepEqual(seq, ["a", "b", "c", "a", "b", "c", "a", "b", "c"]);

    await route({
      name: "wrr",
      hosts: ["wrr.test"],
      action: "ROUTE_ACTION_FORWARD",
      loadBalancing: { policy: "BALANCE_POLICY_WEIGHTED_ROUND_ROBIN" },
      targets: origins.map((o, i) => ({ kind: "TARGET_KIND_DIRECT", url: o.url, enabled: true, weight: [5, 3, 2][i] })),
    });
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const r = await get("/", { host: "wrr.test" });
      await r.body.dump();
      const o = String(r.headers["x-origin"]);
      counts[o] = (counts[o] ?? 0) + 1;
    }
    assert.deepEqual(counts, { a: 500, b: 300, c: 200 });
  });

  it("ejects a dead origin after its first failure and retries the GET elsewhere", async () => {
    const dead = await startOrigin("dead");
    await dead.close();
    const id = await route({
      name: "passive",
      hosts: ["passive.test"],
      action: "ROUTE_ACTION_FORWARD",
      passiveHealth: { enabled: true },
      targets: [
        { kind: "TARGET_KIND_DIRECT", url: dead.url, enabled: true },
        { kind: "TARGET_KIND_DIRECT", url: origins[0]!.url, enabled: true },
      ],
    });
    for (let i = 0; i < 6; i++) {
      const r = await get("/", { host: "passive.test" });
      assert.equal(r.statusCode, 200, "the client never sees the dead origin");
      assert.equal(r.headers["x-origin"], "a");
      await r.body.dump();
    }
    // The retry alone would keep the answers 200; ejection is that the dead origin was tried once
    // (round robin would have tried it for every other request).
    const attempts = w.logs.filter((l) => l.msg === "upstream attempt failed" && l.routeId === id && l.code === "upstream_connect_failed");
    assert.equal(attempts.length, 1, "the dead origin was skipped after its first failure");
  });

  it("keeps a running download alive across a route edit; an invalid edit changes nothing", async () => {
    const id = await route({
      name: "edit",
      hosts: ["edit.test"],
      action: "ROUTE_ACTION_FORWARD",
      targets: [{ kind: "TARGET_KIND_DIRECT", url: origins[1]!.url, enabled: true }],
    });
    const size = 8 * 1024 * 1024;
    const slow = await get(`/slow?bytes=${size}&ms=3000`, { host: "edit.test" });
    const upd = await api.call(
      "ProxyService/UpdateRoute",
      { id, spec: { listenerId, name: "edit", hosts: ["edit.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origins[2]!.url, enabled: true }] } },
      c,
    );
    assert.equal(upd.status, 200, upd.text);
    const bad = await api.call("ProxyService/UpdateRoute", { id, spec: { listenerId, hosts: ["bad host"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origins[0]!.url }] } }, c);
    assert.equal(bad.json.code, "invalid_argument");
    assert.match(String(bad.json.message), /^spec\.hosts\[0\]: /);
    let n = 0;
    for await (const d of slow.body) n += (d as Buffer).length;
    assert.equal(n, size, "the download ran to the end");
    const after = await get("/", { host: "edit.test" });
    assert.equal(after.headers["x-origin"], "c", "the valid edit is serving, the invalid one changed nothing");
    await after.body.dump();
  });

  it("validates listener and route fields by name", async () => {
    const cases: [string, unknown, RegExp][] = [
      ["ProxyService/CreateListener", { spec: { name: "x", port: 70000, protocol: "LISTENER_PROTOCOL_HTTP" } }, /^spec\.port: /],
      ["ProxyService/CreateListener", { spec: { name: "", port: 1, protocol: "LISTENER_PROTOCOL_HTTP" } }, /^spec\.name: /],
      ["ProxyService/CreateListener", { spec: { name: "y", port: 1, bindAddress: "1.2.3.4:80", protocol: "LISTENER_PROTOCOL_HTTP" } }, /^spec\.bind_address: /],
      ["ProxyService/CreateListener", { spec: { name: "z", port: 1 } }, /^spec\.protocol: /],
      ["ProxyService/CreateRoute", { spec: { listenerId, action: "ROUTE_ACTION_FORWARD", targets: [] } }, /^spec\.targets: /],
      ["ProxyService/CreateRoute", { spec: { listenerId, action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: "ftp://x" }] } }, /^spec\.targets\[0\]\.url: /],
      ["ProxyService/CreateRoute", { spec: { listenerId, pathPrefix: "api", action: "ROUTE_ACTION_STATIC", staticResponse: { status: 200 } } }, /^spec\.path_prefix: /],
      ["ProxyService/CreateRoute", { spec: { listenerId, methods: ["get me"], action: "ROUTE_ACTION_STATIC", staticResponse: { status: 200 } } }, /^spec\.methods\[0\]: /],
      ["ProxyService/CreateRoute", { spec: { listenerId, action: "ROUTE_ACTION_REDIRECT", redirect: { status: 200, mode: "REDIRECT_MODE_SAME_HOST_PATH", location: "/x" } } }, /^spec\.redirect\.status: /],
      ["ProxyService/CreateRoute", { spec: { listenerId, action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_AGENT", url: "http://x:1" }] } }, /^spec\.targets\[0\]\.agent_selector: /],
      ["ProxyService/CreateRoute", { spec: { listenerId, action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: "http://x:1", weight: 5000 }] } }, /^spec\.targets\[0\]\.weight: /],
    ];
    for (const [proc, body, re] of cases) {
      const r = await api.call(proc, body, c);
      assert.equal(r.json.code, "invalid_argument", `${proc}: ${r.text}`);
      assert.match(String(r.json.message), re);
    }
    const second = await api.call("ProxyService/CreateRoute", { spec: { listenerId, isDefault: true, action: "ROUTE_ACTION_STATIC", staticResponse: { status: 204 } } }, c);
    assert.equal(second.json.code, "invalid_argument", "a second default route on a listener is refused");
    const r = await get("/whatever");
    assert.match(await r.body.text(), /Warren is running/, "and the old config still serves");
  });

  it("answers only the hosts its routes name on a listener without a default route (404 for the rest, nothing forwarded)", async () => {
    const l = await api.call("ProxyService/CreateListener", { spec: { name: "hosts-only", bindAddress: "127.0.0.1", port: 0, enabled: true, protocol: "LISTENER_PROTOCOL_HTTP" } }, c);
    assert.equal(l.status, 200, l.text);
    const id = String((l.json.listener as { id: string }).id);
    const lport = Number((l.json.listener as { status: { boundPort: number } }).status.boundPort);
    const r1 = await api.call("ProxyService/CreateRoute", { spec: { listenerId: id, name: "named", hosts: ["named.test", "*.wild.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origins[2]!.url }] } }, c);
    assert.equal(r1.status, 200, r1.text);
    const seen = origins[2]!.seen.length;
    for (const host of ["named.test", "a.wild.test"]) {
      const r = await request(`http://127.0.0.1:${lport}/x`, { headers: { host } });
      assert.equal(r.statusCode, 200, host);
      await r.body.dump();
    }
    for (const host of ["other.test", "wild.test", "127.0.0.1", "named.test.evil"]) {
      const r = await request(`http://127.0.0.1:${lport}/x`, { headers: { host } });
      assert.equal(r.statusCode, 404, host);
      assert.match(await r.body.text(), /route_not_found/, host);
    }
    assert.equal(origins[2]!.seen.length, seen + 2, "only the named hosts reached the origin");
    assert.equal((await api.call("ProxyService/DeleteRoute", { id: String((r1.json.route as { id: string }).id) }, c)).status, 200);
    assert.equal((await api.call("ProxyService/DeleteListener", { id }, c)).status, 200);
  });

  it("keeps the control plane off public listeners: no management path answers there, and no route may target management", async () => {
    // Management's paths on the public listener are just paths: the default route answers them.
    const paths: [string, string][] = [
      ["POST", "/warren.v1.AuthService/GetSetupState"],
      ["GET", "/healthz"],
      ["GET", "/agent/tunnel"],
      ["GET", "/agent/download"],
      ["GET", "/_test/agent-stream"],
    ];
    for (const [method, path] of paths) {
      const res = await request(`http://127.0.0.1:${port}${path}`, { method: method as "GET", headers: { "content-type": "application/json" }, body: method === "POST" ? "{}" : undefined });
      const text = await res.body.text();
      assert.match(text, /Warren is running/, `${method} ${path} on the public listener`);
      assert.ok(!/setupRequired|"status":"ok"/.test(text), `${method} ${path}: no management answer`);
    }
    // A route whose target is management itself, by any address that reaches it, is refused.
    const mgmtPort = Number(new URL(w.baseUrl).port);
    for (const url of [`https://127.0.0.1:${mgmtPort}`, `http://localhost:${mgmtPort}/warren.v1.AuthService`, `https://[::ffff:127.0.0.1]:${mgmtPort}`, `http://0.0.0.0:${mgmtPort}`]) {
      const r = await api.call("ProxyService/CreateRoute", { spec: { listenerId, hosts: ["mgmt.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url, tlsSkipVerify: true }] } }, c);
      assert.equal(r.json.code, "invalid_argument", `${url}: ${r.text}`);
      assert.match(String(r.json.message), /^spec\.targets\[0\]\.url: is Warren's management endpoint/);
    }
    // Management binds 127.0.0.1 only here: the same port on 127.0.0.2 is some other service.
    const other = await route({ name: "not-mgmt", hosts: ["mgmt.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: `http://127.0.0.2:${mgmtPort}` }] });
    const upd = await api.call("ProxyService/UpdateRoute", { id: other, spec: { listenerId, name: "not-mgmt", hosts: ["mgmt.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: `https://localhost:${mgmtPort}` }] } }, c);
    assert.equal(upd.json.code, "invalid_argument", `an update to management is refused too: ${upd.text}`);
    assert.equal((await api.call("ProxyService/DeleteRoute", { id: other }, c)).status, 200);
  });
});
