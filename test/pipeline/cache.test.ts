// The HTTP cache (DESIGN.md §5 stage 9) end to end in the data plane: real node:http origins that
// count what reaches them, real sockets, cache rules put into the snapshot as the management
// compiler would. Time is the cache's injected clock: entries age when the test moves it, never by
// sleeping. Every assert.ok has a message: Node 20 hangs generating one from tsx-transformed source.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { request } from "undici";
import { Harness } from "./harness.ts";
import { cacheRule } from "../helpers/cache-rule.ts";
import { shaperRule } from "../helpers/shaper-rule.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";
import { MemoryTier, DEFAULT_CACHE_SETTINGS } from "../../proxy/cache/memory-tier.ts";
import type { RequestEvent } from "../../proxy/index.ts";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

interface ScriptedOrigin {
  readonly url: string;
  /** Requests seen for a path (without the query), and their headers. */
  count(path: string): number;
  seen(path: string): http.IncomingHttpHeaders[];
  /** Resolves once `path` was requested `n` times. */
  waitFor(path: string, n: number): Promise<void>;
  on(path: string, h: Handler): void;
  close(): Promise<void>;
}

/** An origin whose answers the tests script per path; anything unscripted is cacheable for 60 s. */
async function scriptedOrigin(): Promise<ScriptedOrigin> {
  const handlers = new Map<string, Handler>();
  const seen = new Map<string, http.IncomingHttpHeaders[]>();
  const waiters: { path: string; n: number; resolve: () => void }[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const list = seen.get(path) ?? [];
    list.push(req.headers);
    seen.set(path, list);
    for (const w of waiters.splice(0)) {
      if (w.path === path && list.length >= w.n) w.resolve();
      else waiters.push(w);
    }
    const h = handlers.get(path);
    req.resume();
    if (h !== undefined) return h(req, res, list.length);
    res.writeHead(200, { "content-type": "text/plain", "cache-control": "max-age=60" });
    res.end(`${path} #${list.length} ${req.url}`);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: (p) => seen.get(p)?.length ?? 0,
    seen: (p) => seen.get(p) ?? [],
    waitFor: (path, n) => ((seen.get(path)?.length ?? 0) >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ path, n, resolve }))),
    on: (p, h) => void handlers.set(p, h),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  event: RequestEvent;
  ms: number;
}

function fetcher(h: () => Harness) {
  async function eventFor(requestId: string): Promise<RequestEvent> {
    for (;;) {
      const e = h().events.find((x) => x.requestId === requestId);
      if (e !== undefined) return e;
      await h().waitForEvents(h().events.length + 1);
    }
  }
  return async function get(path: string, headers: Record<string, string> = {}, method: "GET" | "HEAD" = "GET"): Promise<Got> {
    const t0 = performance.now();
    const r = await request(`${h().url()}${path}`, { method, headers });
    const chunks: Buffer[] = [];
    for await (const c of r.body) chunks.push(c as Buffer);
    const ms = performance.now() - t0;
    return { status: r.statusCode, headers: r.headers as http.IncomingHttpHeaders, body: Buffer.concat(chunks), event: await eventFor(r.headers["x-request-id"] as string), ms };
  };
}

const direct = (url: string, id?: string) => [{ kind: TargetKind.DIRECT, url, enabled: true, ...(id !== undefined ? { id } : {}) }];

describe("HTTP cache", () => {
  let h: Harness;
  let origin: ScriptedOrigin;
  let down: ScriptedOrigin;
  let clock = 1_800_000_000_000;
  const get = fetcher(() => h);

  before(async () => {
    origin = await scriptedOrigin();
    down = await scriptedOrigin();
    h = await Harness.start({
      listeners: [
        {
          routes: [
            { id: "rt_t", pathPrefix: "/t", action: RouteAction.FORWARD, targets: direct(origin.url, "tgt_t") },
            { id: "rt_down", pathPrefix: "/down", action: RouteAction.FORWARD, targets: direct(down.url) },
            { id: "rt_main", pathPrefix: "/", action: RouteAction.FORWARD, targets: direct(origin.url) },
          ],
        },
      ],
      cacheRules: [
        cacheRule({ id: "r_ignore", scope: { pathPrefixes: ["/q-ignore"] }, queryMode: "ignore" }),
        cacheRule({ id: "r_allow", scope: { pathPrefixes: ["/q-allow"] }, queryMode: "allowlist", queryNames: ["a"] }),
        cacheRule({ id: "r_deny", scope: { pathPrefixes: ["/q-deny"] }, queryMode: "denylist", queryNames: ["utm"] }),
        cacheRule({ id: "r_route_no", scope: { pathPrefixes: ["/rf"] }, routeIds: ["rt_other"] }),
        cacheRule({ id: "r_route_yes", scope: { pathPrefixes: ["/rf"] }, routeIds: ["rt_main"], when: 'headers["x-route-rule"][0] == "on"' }),
        cacheRule({ id: "r_target_no", scope: { pathPrefixes: ["/t/no"] }, targetIds: ["tgt_other"] }),
        cacheRule({ id: "r_target_yes", scope: { pathPrefixes: ["/t/yes"] }, targetIds: ["tgt_t"] }),
        cacheRule({ id: "r_vary", scope: { pathPrefixes: ["/vary"] }, varyHeaders: [] }),
        cacheRule({ id: "r_cookie_ok", scope: { pathPrefixes: ["/cookie-ok"] }, ignoreRequestCookies: true }),
        cacheRule({ id: "r_fixed", scope: { pathPrefixes: ["/fixed"] }, ttlMode: "fixed", ttlMs: 10_000 }),
        cacheRule({ id: "r_small", scope: { pathPrefixes: ["/small"] }, maxObjectBytes: 1000 }),
        cacheRule({ id: "r_quiet", scope: { pathPrefixes: ["/quiet"] }, cacheStatusHeader: false }),
        cacheRule({ id: "r_main", scope: { pathPrefixes: ["/c", "/down", "/shaped"] } }),
      ],
      shapers: [shaperRule({ id: "shp_hits", scope: { pathPrefixes: ["/shaped"] }, budget: "per_request", downloadBytesPerSecond: 256 * 1024, burstBytes: 32 * 1024 })],
      cacheTuning: { now: () => clock },
    });
  });
  after(async () => {
    await h.close();
    await Promise.all([origin.close(), down.close()]);
  });

  it("acceptance 1: the second request is a hit with Age; past max-age a conditional request, a 304, and the stored body again", async () => {
    origin.on("/c/a1", (req, res) => {
      if (req.headers["if-none-match"] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', "cache-control": "max-age=60" });
        return void res.end();
      }
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "max-age=60", etag: '"v1"' });
      res.end("hello, cache");
    });
    const r1 = await get("/c/a1");
    assert.equal(r1.status, 200);
    assert.equal(r1.body.toString(), "hello, cache");
    assert.equal(r1.headers["cache-status"], "Warren; fwd=uri-miss; stored");
    assert.equal(r1.event.cacheStatus, "stored");
    assert.equal(r1.event.answeredBy, "forward");

    clock += 5_000;
    const r2 = await get("/c/a1");
    assert.equal(r2.status, 200);
    assert.equal(r2.body.toString(), "hello, cache");
    assert.equal(r2.headers.age, "5");
    assert.equal(r2.headers["cache-status"], "Warren; hit");
    assert.equal(r2.headers.etag, '"v1"');
    assert.equal(r2.headers["content-type"], "text/plain");
    assert.ok(typeof r2.headers["x-request-id"] === "string" && r2.headers["x-request-id"] !== r1.headers["x-request-id"], "a hit has its own request id");
    assert.equal(r2.event.cacheStatus, "hit");
    assert.equal(r2.event.answeredBy, "cache");
    assert.equal(r2.event.status, 200);
    assert.equal(origin.count("/c/a1"), 1);

    clock += 60_000;
    const r3 = await get("/c/a1");
    assert.equal(origin.count("/c/a1"), 2);
    assert.equal(origin.seen("/c/a1")[1]!["if-none-match"], '"v1"');
    assert.equal(r3.status, 200);
    assert.equal(r3.body.toString(), "hello, cache");
    assert.equal(r3.headers["cache-status"], "Warren; fwd=stale; fwd-status=304");
    assert.equal(r3.event.cacheStatus, "revalidated");

    const r4 = await get("/c/a1");
    assert.equal(r4.headers["cache-status"], "Warren; hit");
    assert.equal(origin.count("/c/a1"), 2);
  });

  it("a client's no-cache makes the cache revalidate even a fresh entry", async () => {
    origin.on("/c/forced", (req, res) => {
      if (req.headers["if-none-match"] === '"f1"') {
        res.writeHead(304, { etag: '"f1"' });
        return void res.end();
      }
      res.writeHead(200, { "cache-control": "max-age=60", etag: '"f1"' });
      res.end("forced body");
    });
    await get("/c/forced");
    const r = await get("/c/forced", { "cache-control": "no-cache" });
    assert.equal(r.body.toString(), "forced body");
    assert.equal(r.headers["cache-status"], "Warren; fwd=request; fwd-status=304");
    assert.equal(r.event.cacheStatus, "revalidated");
    assert.equal(origin.count("/c/forced"), 2);
  });

  it("a stale entry without validators is fetched again and replaced", async () => {
    origin.on("/c/plain", (_req, res, n) => {
      res.writeHead(200, { "cache-control": "max-age=10" });
      res.end(`v${n}`);
    });
    assert.equal((await get("/c/plain")).body.toString(), "v1");
    clock += 11_000;
    const r = await get("/c/plain");
    assert.equal(r.body.toString(), "v2");
    assert.equal(r.event.cacheStatus, "expired");
    assert.equal(origin.seen("/c/plain")[1]!["if-none-match"], undefined);
    assert.equal((await get("/c/plain")).body.toString(), "v2");
    assert.equal(origin.count("/c/plain"), 2);
  });

  describe("refusals (acceptance 3): each one reaches the origin every time", () => {
    const responseCases: [string, Record<string, string>, string][] = [
      ["set-cookie", { "set-cookie": "s=1" }, "set-cookie"],
      ["vary-star", { vary: "*" }, "vary-star"],
      ["private", { "cache-control": "private, max-age=60" }, "private"],
      ["private-field", { "cache-control": 'max-age=60, private="x-user"' }, "private"],
      ["no-store", { "cache-control": "no-store, max-age=60" }, "no-store"],
      ["sse", { "content-type": "text/event-stream" }, "event-stream"],
      ["status", { "x-status": "404" }, "status"],
    ];
    for (const [name, headers, detail] of responseCases) {
      it(`never stores a response with ${name}`, async () => {
        const path = `/c/refuse-${name}`;
        origin.on(path, (_req, res) => {
          const { "x-status": st, ...rest } = headers;
          res.writeHead(Number(st ?? 200), { "cache-control": "max-age=60", "content-type": "text/plain", ...rest });
          res.end("data: x\n\n");
        });
        const r1 = await get(path);
        const r2 = await get(path);
        assert.equal(origin.count(path), 2);
        assert.equal(r2.body.toString(), "data: x\n\n");
        assert.equal(r2.headers["cache-status"], `Warren; fwd=uri-miss; detail=${detail}`);
        assert.equal(r1.event.cacheStatus, "miss");
        assert.equal(r2.event.cacheStatus, "miss");
      });
    }

    const requestCases: [string, Record<string, string>][] = [
      ["authorization", { authorization: "Bearer x" }],
      ["cookie", { cookie: "sid=1" }],
      ["range", { range: "bytes=0-3" }],
    ];
    for (const [name, headers] of requestCases) {
      it(`bypasses requests with ${name}`, async () => {
        const path = `/c/bypass-${name}`;
        const r1 = await get(path, headers);
        const r2 = await get(path, headers);
        assert.equal(origin.count(path), 2);
        assert.equal(r2.headers["cache-status"], `Warren; fwd=bypass; detail=${name}`);
        assert.equal(r1.event.cacheStatus, "bypass");
        assert.equal(r2.event.cacheStatus, "bypass");
        // The same URL without the header is cached: only the header made the difference.
        await get(path);
        await get(path);
        assert.equal(origin.count(path), 3);
      });
    }

    it("bypasses other methods and requests with a body", async () => {
      const r = await request(`${h.url()}/c/post`, { method: "POST", body: "x" });
      await r.body.text();
      assert.equal(r.headers["cache-status"], "Warren; fwd=method");
      await get("/c/post");
      await get("/c/post");
      assert.equal(origin.count("/c/post"), 2);
    });

    it("caches cookie requests when the rule ignores request cookies", async () => {
      await get("/cookie-ok/x", { cookie: "sid=1" });
      const r = await get("/cookie-ok/x", { cookie: "sid=2" });
      assert.equal(r.event.cacheStatus, "hit");
      assert.equal(origin.count("/cookie-ok/x"), 1);
    });

    it("Vary: Accept-Encoding keeps gzip and identity apart", async () => {
      origin.on("/vary/x", (req, res) => {
        const gz = String(req.headers["accept-encoding"] ?? "").includes("gzip");
        res.writeHead(200, { "cache-control": "max-age=60", vary: "Accept-Encoding", "x-enc": gz ? "gzip" : "identity" });
        res.end(gz ? "gzip-body" : "identity-body");
      });
      assert.equal((await get("/vary/x", { "accept-encoding": "gzip" })).body.toString(), "gzip-body");
      assert.equal((await get("/vary/x", { "accept-encoding": "identity" })).body.toString(), "identity-body");
      const g = await get("/vary/x", { "accept-encoding": "gzip" });
      const i = await get("/vary/x", { "accept-encoding": "identity" });
      assert.equal(g.body.toString(), "gzip-body");
      assert.equal(i.body.toString(), "identity-body");
      assert.equal(g.event.cacheStatus, "hit");
      assert.equal(i.event.cacheStatus, "hit");
      assert.equal(origin.count("/vary/x"), 2);
      // A third value is a variant of a URL the cache knows.
      const b = await get("/vary/x", { "accept-encoding": "br" });
      assert.equal(b.headers["cache-status"], "Warren; fwd=vary-miss; stored");
    });

    it("does not store a body over the rule's maxObjectBytes, declared or streamed, and still relays all of it", async () => {
      origin.on("/small/declared", (_req, res) => {
        res.writeHead(200, { "cache-control": "max-age=60", "content-length": 5000 });
        res.end(Buffer.alloc(5000, 1));
      });
      origin.on("/small/chunked", (_req, res) => {
        res.writeHead(200, { "cache-control": "max-age=60" });
        res.write(Buffer.alloc(600, 1));
        setImmediate(() => res.end(Buffer.alloc(600, 2)));
      });
      for (const p of ["/small/declared", "/small/chunked"]) {
        const a = await get(p);
        const b = await get(p);
        assert.equal(a.body.length, p.endsWith("declared") ? 5000 : 1200);
        assert.equal(b.body.length, a.body.length);
        assert.equal(origin.count(p), 2);
        assert.equal(b.event.cacheStatus, "miss");
      }
    });
  });

  it("answers HEAD from a stored GET", async () => {
    await get("/c/head");
    const r = await get("/c/head", {}, "HEAD");
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers["content-type"], "text/plain");
    assert.equal(r.event.cacheStatus, "hit");
    assert.equal(origin.count("/c/head"), 1);
    // A HEAD miss goes upstream as HEAD and stores nothing.
    const m = await get("/c/head-first", {}, "HEAD");
    assert.equal(m.event.cacheStatus, "miss");
    await get("/c/head-first");
    assert.equal(origin.count("/c/head-first"), 2);
  });

  it("answers a client's conditional request with 304 from a fresh entry", async () => {
    origin.on("/c/etag", (_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60", etag: '"e1"', "last-modified": "Tue, 01 Jan 2030 00:00:00 GMT" });
      res.end("etag body");
    });
    await get("/c/etag");
    const inm = await get("/c/etag", { "if-none-match": '"e1"' });
    assert.equal(inm.status, 304);
    assert.equal(inm.body.length, 0);
    assert.equal(inm.headers.etag, '"e1"');
    assert.equal(inm.headers["cache-status"], "Warren; hit");
    assert.equal(inm.event.status, 304);
    const ims = await get("/c/etag", { "if-modified-since": "Wed, 02 Jan 2030 00:00:00 GMT" });
    assert.equal(ims.status, 304);
    const other = await get("/c/etag", { "if-none-match": '"e0"' });
    assert.equal(other.status, 200);
    assert.equal(other.body.toString(), "etag body");
    assert.equal(origin.count("/c/etag"), 1);
  });

  it("stores a miss whose client sent validators, and answers the client 304 itself", async () => {
    origin.on("/c/cond-miss", (_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60", etag: '"m1"' });
      res.end("cond body");
    });
    const r = await get("/c/cond-miss", { "if-none-match": '"m1"' });
    assert.equal(r.status, 304);
    assert.equal(origin.seen("/c/cond-miss")[0]!["if-none-match"], undefined);
    const full = await get("/c/cond-miss");
    assert.equal(full.body.toString(), "cond body");
    assert.equal(full.event.cacheStatus, "hit");
    assert.equal(origin.count("/c/cond-miss"), 1);
  });

  it("stale-while-revalidate: serves stale at once and revalidates in the background, one request per key", async () => {
    origin.on("/c/swr", (_req, res, n) => {
      res.writeHead(200, { "cache-control": "max-age=1, stale-while-revalidate=30", etag: `"s${n}"` });
      res.end(`swr v${n}`);
    });
    await get("/c/swr");
    clock += 2_000;
    const stale = await get("/c/swr");
    assert.equal(stale.body.toString(), "swr v1");
    assert.equal(stale.event.cacheStatus, "stale");
    assert.match(String(stale.headers["cache-status"]), /^Warren; hit; ttl=-\d+; detail=stale-while-revalidate$/);
    await origin.waitFor("/c/swr", 2);
    assert.equal(origin.seen("/c/swr")[1]!["if-none-match"], '"s1"');
    // Until the new response is stored, requests get the stale one and start no other revalidation.
    let r: Got;
    for (let i = 0; ; i++) {
      r = await get("/c/swr");
      if (r.body.toString() === "swr v2") break;
      assert.equal(r.body.toString(), "swr v1");
      assert.ok(i < 500, "the background revalidation never landed");
    }
    assert.equal(origin.count("/c/swr"), 2);
  });

  it("stale-if-error (acceptance 4): a 5xx or an unreachable origin within the window serves stale, past it the error", async () => {
    let failing = false;
    origin.on("/c/sie", (_req, res) => {
      if (failing) {
        res.writeHead(503, { "content-type": "text/plain" });
        return void res.end("down");
      }
      res.writeHead(200, { "cache-control": "max-age=1, stale-if-error=10" });
      res.end("last good");
    });
    await get("/c/sie");
    failing = true;
    clock += 2_000;
    const s = await get("/c/sie");
    assert.equal(s.status, 200);
    assert.equal(s.body.toString(), "last good");
    assert.equal(s.headers["cache-status"], "Warren; fwd=stale; fwd-status=503; detail=stale-if-error");
    assert.equal(s.event.cacheStatus, "stale");
    clock += 20_000;
    const e = await get("/c/sie");
    assert.equal(e.status, 503);
    assert.equal(e.body.toString(), "down");

    down.on("/down/x", (_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=1, stale-if-error=10" });
      res.end("down origin's body");
    });
    await get("/down/x");
    await down.close();
    clock += 2_000;
    const d1 = await get("/down/x");
    assert.equal(d1.status, 200);
    assert.equal(d1.body.toString(), "down origin's body");
    assert.equal(d1.headers["cache-status"], "Warren; fwd=stale; detail=stale-if-error");
    clock += 20_000;
    const d2 = await get("/down/x");
    assert.equal(d2.status, 502);
    assert.equal(d2.event.errorKind, "upstream_connect_failed");
  });

  it("a fixed TTL overrides the origin's max-age", async () => {
    origin.on("/fixed/x", (_req, res, n) => {
      res.writeHead(200, { "cache-control": "max-age=1" });
      res.end(`fixed ${n}`);
    });
    await get("/fixed/x");
    clock += 5_000;
    assert.equal((await get("/fixed/x")).event.cacheStatus, "hit");
    clock += 6_000;
    assert.equal((await get("/fixed/x")).body.toString(), "fixed 2");
  });

  it("query modes: full ignores order, ignore drops the query, allowlist and denylist pick names", async () => {
    await get("/c/q?b=2&a=1");
    assert.equal((await get("/c/q?a=1&b=2")).event.cacheStatus, "hit");
    assert.equal((await get("/c/q?a=1&b=3")).event.cacheStatus, "stored");
    assert.equal(origin.count("/c/q"), 2);

    await get("/q-ignore/x?a=1");
    assert.equal((await get("/q-ignore/x?z=9")).event.cacheStatus, "hit");

    await get("/q-allow/x?a=1&utm=1");
    assert.equal((await get("/q-allow/x?utm=2&a=1")).event.cacheStatus, "hit");
    assert.equal((await get("/q-allow/x?a=2")).event.cacheStatus, "stored");

    await get("/q-deny/x?a=1&utm=1");
    assert.equal((await get("/q-deny/x?utm=5&a=1")).event.cacheStatus, "hit");
    assert.equal((await get("/q-deny/x?a=2")).event.cacheStatus, "stored");
  });

  it("route and target filters: a rule applies only to its routes and targets, else the next rule", async () => {
    await get("/rf/x");
    assert.equal((await get("/rf/x")).event.cacheStatus, "");
    assert.equal(origin.count("/rf/x"), 2);
    // The next rule matches the route, behind a CEL `when`.
    await get("/rf/y", { "x-route-rule": "on" });
    assert.equal((await get("/rf/y", { "x-route-rule": "on" })).event.cacheStatus, "hit");

    await get("/t/no");
    assert.equal((await get("/t/no")).event.cacheStatus, "");
    assert.equal(origin.count("/t/no"), 2);
    await get("/t/yes");
    assert.equal((await get("/t/yes")).event.cacheStatus, "hit");
    assert.equal(origin.count("/t/yes"), 1);
  });

  it("a purge is visible at once: the next request goes upstream", async () => {
    const first = await get("/c/purged?x=1");
    assert.equal((await get("/c/purged?x=1")).event.cacheStatus, "hit");
    // The key's host is the request's host without the port.
    assert.deepEqual(h.plane.purgeCache({ kind: "url", url: "127.0.0.1/c/purged?x=1" }), { entries: 1, bytes: first.body.length });
    const after = await get("/c/purged?x=1");
    assert.equal(after.event.cacheStatus, "stored");
    assert.equal(origin.count("/c/purged"), 2);
    assert.ok(h.plane.cacheUsage().memory.entries > 0, "usage counts entries");
  });

  it("no matching rule, no cache", async () => {
    const a = await get("/none/x");
    const b = await get("/none/x");
    assert.equal(origin.count("/none/x"), 2);
    assert.equal(a.event.cacheStatus, "");
    assert.equal(b.headers["cache-status"], undefined);
  });

  it("Cache-Status only when the rule asks for it", async () => {
    await get("/quiet/x");
    const r = await get("/quiet/x");
    assert.equal(r.event.cacheStatus, "hit");
    assert.equal(r.headers["cache-status"], undefined);
  });

  it("the download shaper paces hits too", async () => {
    const bytes = 256 * 1024;
    origin.on("/shaped/x", (_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60", "content-length": bytes });
      res.end(Buffer.alloc(bytes, 5));
    });
    await get("/shaped/x");
    const r = await get("/shaped/x");
    assert.equal(r.event.cacheStatus, "hit");
    assert.equal(r.body.length, bytes);
    const atLeast = (((bytes - 32 * 1024) / (256 * 1024)) * 1000 * 9) / 10;
    assert.ok(r.ms >= atLeast, `a 256 KiB hit at 256 KiB/s took only ${r.ms} ms`);
    assert.equal(r.event.shaperRuleId, "shp_hits");
    assert.ok(r.event.shapedBytesOut > 0, "the hit's bytes waited for the bucket");
  });

  it("requests behind an uncacheable response go upstream themselves, and every one gets its answer", async () => {
    origin.on("/c/uncacheable", (_req, res, n) => {
      res.writeHead(200, { "cache-control": "max-age=60", "set-cookie": `n=${n}` });
      setImmediate(() => res.end("personal"));
    });
    const rs = await Promise.all(Array.from({ length: 10 }, () => get("/c/uncacheable")));
    for (const r of rs) assert.equal(r.body.toString(), "personal");
    assert.equal(origin.count("/c/uncacheable"), 10);
  });
});

describe("HTTP cache coalescing (acceptance 2)", () => {
  let h: Harness;
  let origin: ScriptedOrigin;
  const SIZE = 10 * 1024 * 1024;
  const body = randomBytes(SIZE);
  const sha = createHash("sha256").update(body).digest("hex");

  before(async () => {
    origin = await scriptedOrigin();
    h = await Harness.start({
      listeners: [{ routes: [{ pathPrefix: "/", action: RouteAction.FORWARD, targets: direct(origin.url) }] }],
      cacheRules: [cacheRule({ id: "r_all" })],
      // Big enough to keep the object, so a request arriving after the flight is a hit, never a second upstream request.
      cache: new MemoryTier({ ...DEFAULT_CACHE_SETTINGS, memoryBytes: 64 * 1024 * 1024, hotObjectBytes: 16 * 1024 * 1024 }),
      cacheTuning: { joinBytes: 16 * 1024 * 1024 },
    });
  });
  after(async () => {
    await h.close();
    await origin.close();
  });

  it("100 concurrent requests for a cold 10 MiB object: one upstream request, every client the whole body, streamed", async () => {
    const CLIENTS = 100;
    let streamedTo = 0;
    let allStreaming!: () => void;
    const everyClientHasBytes = new Promise<void>((r) => (allStreaming = r));
    let originDone = false;
    origin.on("/big", (_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=600", "content-type": "application/octet-stream", "content-length": SIZE });
      const CHUNK = 64 * 1024;
      let off = 0;
      const pump = (): void => {
        const last = off + CHUNK >= SIZE;
        if (last) {
          // The last chunk waits until every client has bytes: a cache that buffered the object, or fed a
          // waiter only from a finished response, never gets here.
          void everyClientHasBytes.then(() => {
            originDone = true;
            res.end(body.subarray(off));
          });
          return;
        }
        const ok = res.write(body.subarray(off, off + CHUNK));
        off += CHUNK;
        if (ok) setTimeout(pump, 1);
        else res.once("drain", pump);
      };
      pump();
    });
    const one = async (): Promise<{ sha: string; status: string; early: boolean }> => {
      const r = await request(`${h.url()}/big`);
      const hash = createHash("sha256");
      let early: boolean | undefined;
      for await (const c of r.body) {
        if (early === undefined) {
          early = !originDone;
          if (++streamedTo === CLIENTS) allStreaming();
        }
        hash.update(c as Buffer);
      }
      return { sha: hash.digest("hex"), status: String(r.headers["cache-status"]), early: early === true };
    };
    const results = await Promise.all(Array.from({ length: CLIENTS }, one));
    assert.equal(origin.count("/big"), 1, `statuses: ${[...new Set(results.map((r) => r.status))].join(" | ")}`);
    for (const r of results) assert.equal(r.sha, sha);
    assert.equal(results.filter((r) => r.early).length, CLIENTS, "every client had bytes before the origin finished sending");
    assert.equal(results.filter((r) => r.status === "Warren; fwd=uri-miss; stored").length, 1, "one leader");
    assert.equal(results.filter((r) => r.status === "Warren; fwd=uri-miss; collapsed").length, CLIENTS - 1, "the others waited for it");
  });
});
