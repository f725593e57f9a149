// Rate limits end to end (issue 10): real `warren serve` processes, rules written through
// PolicyService, real requests on the public listener; for the shared store a real `redis-server`
// that two gateways use at once, killed and brought back mid-test.
import { describe, it, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { request } from "undici";
import { withWarren, type WarrenFixture } from "../helpers/with-warren.ts";
import { originRoute } from "../helpers/policy-fixture.ts";
import { pollUntil } from "../helpers/wait.ts";
import { rawHttp } from "../helpers/raw-http.ts";
import { freePort } from "../helpers/agent-process.ts";
import { RedisServer, redisMissing } from "../helpers/redis-server.ts";

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

async function get(base: string, host: string, path = "/"): Promise<Reply> {
  const res = await request(`${base}${path}`, { headers: { host } });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** A rate-limit rule from a JSON spec on one gateway; deleted after the test. */
async function limit(t: TestContext, warren: WarrenFixture, spec: Record<string, unknown>): Promise<string> {
  const r = await warren.api.call("PolicyService/CreateRateLimitRule", { spec }, warren.admin);
  assert.equal(r.status, 200, r.text);
  const id = String((r.json.rule as { id: string }).id);
  t.after(() => warren.api.call("PolicyService/DeleteRateLimitRule", { id }, warren.admin));
  return id;
}

/** The RateLimit field's r (remaining) and t (seconds to reset) for rule `id`. */
function rateLimitField(v: string | string[] | undefined, id: string): { r: number; t: number } {
  const m = new RegExp(`"${id}";r=(\\d+);t=(\\d+)`).exec(String(v ?? ""));
  assert.ok(m, `RateLimit field for ${id} in ${String(v)}`);
  return { r: Number(m[1]), t: Number(m[2]) };
}

describe("rate limits (memory store)", () => {
  const warren = withWarren({ admin: true });

  it("answers the request past the limit with 429, Retry-After and the RateLimit fields; the origin never sees it (acceptance 4)", async (t) => {
    const { origin, base } = await originRoute(t, warren, "rl");
    const id = await limit(t, warren, {
      name: "three a minute",
      scope: { hosts: ["rl.test"] },
      limit: 3,
      windowMs: 60_000,
      response: { headers: [{ name: "X-Why", value: "quota" }] },
    });
    const replies: Reply[] = [];
    for (let i = 0; i < 4; i++) replies.push(await get(base, "rl.test", `/n${i}`));
    assert.deepEqual(
      replies.map((r) => r.status),
      [200, 200, 200, 429],
    );
    const denied = replies[3]!;
    const retryAfter = Number(denied.headers["retry-after"]);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${String(denied.headers["retry-after"])}`);
    assert.equal(denied.headers["ratelimit-policy"], `"${id}";q=3;w=60`);
    const field = rateLimitField(denied.headers["ratelimit"], id);
    assert.equal(field.r, 0);
    // A fixed window: the quota is whole again when it ends, which is also when a retry may succeed.
    assert.equal(field.t, retryAfter);
    assert.equal(denied.headers["x-why"], "quota");
    assert.equal(denied.headers["cache-control"], "no-store");
    // Allowed answers carry no RateLimit fields unless the rule asks for them.
    assert.equal(replies[0]!.headers["ratelimit"], undefined);
    assert.deepEqual(
      origin.seen.map((s) => s.url),
      ["/n0", "/n1", "/n2"],
      "the limited request never reached the origin",
    );
    // Other hosts are outside the scope.
    assert.equal((await get(base, "other.test")).status, 200);

    // The event says which rule refused it.
    const ev = await pollUntil(
      "the limited request's event",
      () => warren.api.call("ObservabilityService/ListRequestEvents", { ruleId: id, pageSize: 5 }, warren.admin),
      (r) => ((r.json.events as unknown[]) ?? []).length > 0,
    );
    const e = (ev.json.events as Record<string, unknown>[])[0]!;
    assert.deepEqual([e.status, e.errorCode, e.ruleAction, e.answeredBy, e.limited, e.rateLimitRuleIds], [429, "rate_limited", "rate_limit", "rate_limit", true, [id]]);
  });

  it("limits WebSocket upgrades like any request", async (t) => {
    const { base, listener } = await originRoute(t, warren, "rl-ws");
    await limit(t, warren, { name: "one upgrade", scope: { hosts: ["ws.test"] }, limit: 1 });
    assert.equal((await get(base, "ws.test")).status, 200);
    const refused = await rawHttp(
      listener.port,
      "GET /chat HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      { idleMs: 500 },
    );
    assert.equal(refused.status, 429, refused.raw);
  });

  it("counts a request in every matching rule in order; the first that denies answers; an edit starts only that rule afresh", async (t) => {
    const { base } = await originRoute(t, warren, "rl-many");
    const wide = await limit(t, warren, { name: "wide", priority: 1, scope: { hosts: ["many.test"] }, limit: 10, headersOnAllowed: true });
    const narrowSpec = { name: "narrow", priority: 2, scope: { hosts: ["many.test"], pathPrefixes: ["/api"] }, limit: 2, headersOnAllowed: true };
    const narrow = await limit(t, warren, narrowSpec);

    const a = await get(base, "many.test", "/api/x");
    assert.equal(a.status, 200);
    // Both rules counted it, and both report on the allowed answer, in order.
    assert.equal(a.headers["ratelimit-policy"], `"${wide}";q=10;w=60, "${narrow}";q=2;w=60`);
    assert.equal(rateLimitField(a.headers["ratelimit"], wide).r, 9);
    assert.equal(rateLimitField(a.headers["ratelimit"], narrow).r, 1);
    assert.equal((await get(base, "many.test", "/api/x")).status, 200);
    const denied = await get(base, "many.test", "/api/x");
    assert.equal(denied.status, 429);
    // The denying rule's fields only.
    assert.equal(denied.headers["ratelimit-policy"], `"${narrow}";q=2;w=60`);
    // Outside /api only the wide rule applies; it counted the three above.
    const outside = await get(base, "many.test", "/home");
    assert.equal(outside.status, 200);
    assert.equal(rateLimitField(outside.headers["ratelimit"], wide).r, 6);

    // Editing the narrow rule gives it fresh counters; the wide one keeps counting.
    const up = await warren.api.call("PolicyService/UpdateRateLimitRule", { id: narrow, spec: { ...narrowSpec, limit: 3 } }, warren.admin);
    assert.equal(up.status, 200, up.text);
    const again = await get(base, "many.test", "/api/x");
    assert.equal(again.status, 200);
    assert.equal(rateLimitField(again.headers["ratelimit"], narrow).r, 2);
    assert.equal(rateLimitField(again.headers["ratelimit"], wide).r, 5);
  });

  it("refuses bad input with invalid_argument naming the field (acceptance 6)", async () => {
    const bad = async (spec: Record<string, unknown>, field: string) => {
      const r = await warren.api.call("PolicyService/CreateRateLimitRule", { spec: { name: "bad", limit: 10, ...spec } }, warren.admin);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.code, "invalid_argument");
      assert.ok(String(r.json.message).startsWith(`${field}: `), `${String(r.json.message)} names ${field}`);
    };
    await bad({ limit: 0 }, "spec.limit");
    await bad({ windowMs: 500 }, "spec.window_ms");
    await bad({ algorithm: "RATE_LIMIT_ALGORITHM_TOKEN_BUCKET", burst: 101 }, "spec.burst");
    await bad({ keyParts: ["client_ip", "host", "method", "path", "header:a", "header:b", "cookie:c", "query:d", "query:e"] }, "spec.key_parts[8]");
    await bad({ keyParts: ["ip"] }, "spec.key_parts[0]");
    const list = await warren.api.call("PolicyService/ListRateLimitRules", {}, warren.admin);
    assert.deepEqual(list.json.rules ?? [], [], "nothing was stored");
  });
});

describe("rate limits shared through Redis", { skip: redisMissing }, () => {
  let redis: RedisServer | undefined;
  const redisUrl = async () => {
    redis ??= await RedisServer.start();
    return { RATE_LIMIT_STORE: redis.url };
  };
  const a = withWarren({ admin: true, env: redisUrl });
  const b = withWarren({ admin: true, env: redisUrl });
  after(async () => {
    await redis?.stop();
  });

  before(async () => {
    for (const g of [a, b]) {
      await pollUntil(
        "the gateway to reach Redis",
        () => g.api.call("PolicyService/GetRateLimitStoreStatus", {}, g.admin),
        (r) => r.json.healthy === true,
      );
    }
  });

  /** The same rule on both gateways, and a route on each: what `warren config apply` would give them. */
  async function sharedRule(t: TestContext, spec: Record<string, unknown>): Promise<{ bases: string[]; ids: string[] }> {
    const bases: string[] = [];
    const ids: string[] = [];
    for (const [i, g] of [a, b].entries()) {
      bases.push((await originRoute(t, g, `gw${i}`)).base);
      ids.push(await limit(t, g, spec));
    }
    return { bases, ids };
  }

  it("two gateways on one Redis share a 100-requests-per-minute limit: 150 requests over both, 100 allowed (acceptance 2)", async (t) => {
    const { bases, ids } = await sharedRule(t, { name: "shared", scope: { hosts: ["shared.test"] }, limit: 100, windowMs: 60_000, headersOnAllowed: true });
    const replies: { status: number; t: number }[] = [];
    for (let i = 0; i < 150; i++) {
      const gw = i % 2;
      const r = await get(bases[gw]!, "shared.test", `/r${i}`);
      assert.ok(r.status === 200 || r.status === 429, `request ${i}: ${r.status}`);
      replies.push({ status: r.status, t: rateLimitField(r.headers["ratelimit"], ids[gw]!).t });
    }
    // Fixed windows start on the minute: if the run crossed one, each window had its own 100. A
    // window is told by its seconds-to-reset, which only go down within one window.
    const windows: { status: number }[][] = [[]];
    for (let i = 0; i < replies.length; i++) {
      if (i > 0 && replies[i]!.t > replies[i - 1]!.t) windows.push([]);
      windows.at(-1)!.push(replies[i]!);
    }
    for (const w of windows) {
      const allowed = w.filter((r) => r.status === 200).length;
      assert.equal(allowed, Math.min(100, w.length), `${allowed} of ${w.length} allowed in one window (${windows.length} windows)`);
    }
    if (windows.length === 1) t.diagnostic("150 requests in one window: exactly 100 allowed");
  });

  it("keeps serving while Redis is down (fail open counts in memory, fail closed refuses) and shares counting again once it is back (acceptance 3)", async (t) => {
    const open = await sharedRule(t, { name: "open", scope: { hosts: ["open.test"] }, limit: 10 });
    await sharedRule(t, { name: "closed", scope: { hosts: ["closed.test"] }, limit: 10, failMode: "STORE_FAIL_MODE_CLOSED" });
    assert.equal((await get(open.bases[0]!, "open.test")).status, 200);

    await redis!.stop({ kill: true });
    // Fail open: each gateway counts in its own memory now, so each allows its own 10.
    for (const base of open.bases) {
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push((await get(base, "open.test")).status);
      assert.deepEqual(statuses, [...Array(10).fill(200), 429], `gateway ${base} on its memory fallback`);
    }
    // Fail closed: refused while the shared store cannot answer.
    const closed = await get(open.bases[1]!, "closed.test");
    assert.equal(closed.status, 503, closed.body);
    assert.ok(Number(closed.headers["retry-after"]) >= 1);
    for (const g of [a, b]) {
      const st = await g.api.call("PolicyService/GetRateLimitStoreStatus", {}, g.admin);
      assert.equal(st.json.kind, "redis");
      assert.equal(st.json.healthy ?? false, false);
      assert.ok(Number(st.json.fallbackDecisions) > 0, JSON.stringify(st.json));
      assert.ok(g.w.logs.some((l) => l.msg === "rate-limit store unavailable, using memory fallback"), "the outage is logged");
    }

    // Back (empty: it keeps nothing on disk): both gateways reconnect by themselves.
    await redis!.restart();
    for (const g of [a, b]) {
      await pollUntil(
        "the gateway to reach Redis again",
        () => g.api.call("PolicyService/GetRateLimitStoreStatus", {}, g.admin),
        (r) => r.json.healthy === true,
      );
    }
    // Shared again: 10 requests over both gateways use up the one counter, so the 11th is refused
    // on either (each gateway's memory alone would still have room).
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get(open.bases[i % 2]!, "open.test")).status);
    assert.deepEqual(statuses, [...Array(10).fill(200), 429, 429]);
    assert.equal((await get(open.bases[0]!, "closed.test")).status, 200, "the fail-closed rule serves again");
  });
});

describe("an unreachable RATE_LIMIT_STORE at start-up", { skip: redisMissing }, () => {
  // A port nothing listens on: refused connections, as when Redis is down or not there yet.
  let port = 0;
  const warren = withWarren({ admin: true, env: async () => ({ RATE_LIMIT_STORE: `redis://127.0.0.1:${(port = await freePort())}` }) });

  it("starts, serves from the memory fallback, and says so in the log and the status", async (t) => {
    const { base } = await originRoute(t, warren, "rl-down");
    await limit(t, warren, { name: "two", scope: { hosts: ["down.test"] }, limit: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(base, "down.test")).status);
    assert.deepEqual(statuses, [200, 200, 429]);
    const st = await warren.api.call("PolicyService/GetRateLimitStoreStatus", {}, warren.admin);
    assert.deepEqual([st.json.kind, st.json.healthy ?? false, st.json.target], ["redis", false, `redis://127.0.0.1:${port}`]);
    assert.ok(warren.w.logs.some((l) => l.msg === "rate-limit counters in Redis (memory fallback while it cannot answer)"));
    await pollUntil("the outage in the log", async () => warren.w.logs.some((l) => l.msg === "rate-limit store unavailable, using memory fallback"), (v) => v);
  });
});
