// The waiting room end to end: a real `warren serve`, rules written through PolicyService, real
// clients with their own cookie jars on the public listener.
import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { request } from "undici";
import { withWarren } from "../helpers/with-warren.ts";
import { originRoute, wafRule } from "../helpers/policy-fixture.ts";
import { pollUntil } from "../helpers/wait.ts";
import { rawHttp } from "../helpers/raw-http.ts";

describe("WAF waiting room", () => {
  const warren = withWarren({ admin: true });

  async function setup(t: TestContext) {
    const { origin, listener: l, base } = await originRoute(t, warren, "wr");
    /** A client with its own cookie jar (one cookie per name is all Warren sets). */
    const client = () => {
      const jar = new Map<string, string>();
      const get = async (path = "/", host = "app.test") => {
        const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
        const res = await request(`${base}${path}`, { headers: { host, ...(cookie ? { cookie } : {}) } });
        const body = await res.body.text();
        const set = res.headers["set-cookie"];
        for (const s of set === undefined ? [] : Array.isArray(set) ? set : [set]) {
          const [pair] = s.split(";");
          const eq = pair!.indexOf("=");
          jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
        }
        return { status: res.statusCode, body, headers: res.headers, setCookie: set };
      };
      return { get, jar };
    };
    return { origin, l, base, client };
  }

  const rule = (t: TestContext, spec: Record<string, unknown>) => wafRule(t, warren, spec);

  const position = (body: string) => /position <strong>(\d+)<\/strong>/.exec(body)?.[1];

  it("with max 2 admitted, a third client waits with its position and is admitted when one expires", async (t) => {
    const { client, l, origin } = await setup(t);
    const id = await rule(t, { name: "queue", action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxAdmitted: 2, admissionTtlSeconds: 2, pollIntervalSeconds: 1, queueTimeoutSeconds: 30 } });
    const [c1, c2, c3, c4] = [client(), client(), client(), client()];
    const r1 = await c1.get();
    const r2 = await c2.get();
    assert.deepEqual([r1.status, r2.status], [200, 200]);
    const cookie = String(r1.setCookie);
    assert.match(cookie, new RegExp(`^warren_wr_${id}=[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]+; Path=/; HttpOnly; SameSite=Lax$`));
    // An admitted client's next request goes through without a new cookie.
    const again = await c1.get("/next");
    assert.deepEqual([again.status, again.setCookie], [200, undefined]);

    const r3 = await c3.get();
    assert.equal(r3.status, 503);
    assert.deepEqual([r3.headers["retry-after"], r3.headers["cache-control"]], ["1", "no-store"]);
    assert.match(String(r3.headers["content-type"]), /^text\/html/);
    assert.equal(position(r3.body), "1", r3.body);
    assert.match(r3.body, /<meta http-equiv="refresh" content="1">/);
    assert.doesNotMatch(r3.body, /<script/i);
    const r4 = await c4.get();
    assert.equal(position(r4.body), "2");
    // Reloading keeps the place.
    assert.equal(position((await c3.get()).body), "1");
    assert.equal(origin.seen.length, 3, "queued requests never reach the origin");

    const status = async (c: ReturnType<typeof client>) => {
      const cookie = [...c.jar].map(([k, v]) => `${k}=${v}`).join("; ");
      const res = await request(`http://127.0.0.1:${l.port}/.well-known/warren/waiting-room/status?rule=${id}`, { headers: { host: "app.test", ...(cookie ? { cookie } : {}) } });
      assert.equal(res.headers["cache-control"], "no-store");
      return (await res.body.json()) as { position: number; admitted: boolean; retry_after: number };
    };
    assert.deepEqual(await status(c3), { position: 1, admitted: false, retry_after: 1 });
    assert.deepEqual(await status(c4), { position: 2, admitted: false, retry_after: 1 });
    assert.deepEqual(await status(c1), { position: 0, admitted: true, retry_after: 1 });
    assert.deepEqual(await status(client()), { position: 0, admitted: false, retry_after: 1 });

    // Client 2 keeps browsing, client 1 stops: its admission (2 s) expires and client 3 goes in.
    const t0 = Date.now();
    const in3 = await pollUntil(
      "client 3 admitted",
      async () => {
        assert.equal((await c2.get()).status, 200, "client 2 stays admitted while it keeps coming");
        await c4.get();
        return c3.get();
      },
      (r) => r.status === 200,
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    t.diagnostic(`client 3 admitted ${Date.now() - t0} ms after client 1's last request`);
    assert.equal(in3.setCookie, undefined, "admitted on its existing cookie");
    const r4b = await c4.get();
    assert.deepEqual([r4b.status, position(r4b.body)], [503, "1"]);
    assert.deepEqual(await status(c4), { position: 1, admitted: false, retry_after: 1 });
    assert.deepEqual(await status(c3), { position: 0, admitted: true, retry_after: 1 });
    // Client 1 comes back after its admission expired: to the back of the line, same cookie.
    const back = await c1.get();
    assert.deepEqual([back.status, position(back.body), back.setCookie], [503, "2", undefined]);

    // A forged cookie, or one for another host, counts as none: a new place at the back.
    const forged = client();
    forged.jar.set(`warren_wr_${id}`, `${"A".repeat(22)}.${"B".repeat(43)}`);
    const f = await forged.get();
    assert.deepEqual([f.status, position(f.body)], [503, "3"]);
    assert.notEqual(forged.jar.get(`warren_wr_${id}`), `${"A".repeat(22)}.${"B".repeat(43)}`, "a new session cookie replaces it");
    const elsewhere = client();
    elsewhere.jar.set(`warren_wr_${id}`, c3.jar.get(`warren_wr_${id}`)!);
    assert.equal((await elsewhere.get("/", "other.test")).status, 503, "client 3's cookie is worth nothing on another host");

    // A WebSocket upgrade runs the same logic: a queued one gets the 503.
    const ws = await rawHttp(l.port, `GET /chat HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`, { idleMs: 500 });
    assert.equal(ws.status, 503, ws.raw);
    assert.match(ws.raw, /retry-after: 1/i);

    // The request events carry the rule and the action.
    const ev = await pollUntil(
      "the queued requests' events",
      () => warren.api.call("ObservabilityService/ListRequestEvents", { ruleId: id, pageSize: 50 }, warren.admin),
      (r) => ((r.json.events as unknown[]) ?? []).length >= 5,
    );
    const events = ev.json.events as Record<string, unknown>[];
    for (const e of events) assert.deepEqual([e.ruleId, e.ruleAction, e.status, e.answeredBy], [id, "waiting_room", 503, "waf"]);
    assert.ok(events.some((e) => e.errorCode === "waf_waiting_room"));
    // Queued answers are normal, not failures: nothing at warn.
    assert.ok(!warren.w.logs.some((x) => x.msg === "request failed" && x.code === "waf_waiting_room"));
  });

  it("refuses new arrivals beyond max_queued with a plain 503 and Retry-After", async (t) => {
    const { client } = await setup(t);
    const id = await rule(t, { name: "tiny", action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxAdmitted: 1, maxQueued: 1, pollIntervalSeconds: 3 } });
    assert.equal((await client().get()).status, 200);
    assert.equal(position((await client().get()).body), "1");
    const full = await client().get();
    assert.deepEqual([full.status, full.headers["retry-after"], full.setCookie], [503, "3", undefined]);
    assert.equal(position(full.body), undefined, "no place in line");
    // Editing the rule starts an empty room: the next client goes straight in.
    const edit = await warren.api.call("PolicyService/UpdateWafRule", { id, spec: { name: "tiny, renamed", action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxAdmitted: 1, maxQueued: 1, pollIntervalSeconds: 3 } } }, warren.admin);
    assert.equal(edit.status, 200, edit.text);
    const fresh = await client().get();
    assert.equal(fresh.status, 200);
    assert.ok(fresh.setCookie, "a new session for the new room");
  });

  it("turns on automatically under load and off after the quiet period, logging both", async (t) => {
    const { client } = await setup(t);
    const id = await rule(t, {
      name: "auto",
      action: "WAF_ACTION_WAITING_ROOM",
      waitingRoom: { maxAdmitted: 1, pollIntervalSeconds: 1, activation: "WAITING_ROOM_ACTIVATION_AUTOMATIC", requestsPerSecondThreshold: 5, minActiveSeconds: 1, quietSeconds: 1 },
    });
    // Under the threshold the room is off: everyone goes on, and no cookie is handed out.
    for (let i = 0; i < 3; i++) {
      const r = await client().get();
      assert.deepEqual([r.status, r.setCookie], [200, undefined]);
    }
    // Load: bursts of 10 new clients until some are queued (over 5/s for 1 s turns it on).
    const t0 = Date.now();
    let sent = 0;
    const burst = await pollUntil(
      "the room to turn on",
      async () => {
        sent += 10;
        return Promise.all(Array.from({ length: 10 }, () => client().get()));
      },
      (rs) => rs.some((r) => r.status === 503),
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    t.diagnostic(`on after ${Date.now() - t0} ms and ${sent} requests`);
    assert.ok(burst.some((r) => position(r.body) !== undefined));
    const on = warren.w.logs.find((x) => x.msg === "waiting room on" && x.ruleId === id);
    assert.ok(on, "logged at info");
    assert.ok(Number(on.requestsPerSecond) > 5);
    // Quiet: the periodic sweep turns it off after 1 s under the threshold, without a request.
    const t1 = Date.now();
    await pollUntil("the room to turn off", async () => warren.w.logs.some((x) => x.msg === "waiting room off" && x.ruleId === id), Boolean, { timeoutMs: 15_000 });
    t.diagnostic(`off ${Date.now() - t1} ms after the load stopped`);
    const after = await client().get();
    assert.deepEqual([after.status, after.setCookie], [200, undefined]);
  });

  it("validates the settings with field-named errors, and waiting room page templates", async () => {
    const { api, admin: c } = warren;
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ action: "WAF_ACTION_WAITING_ROOM" }, /^spec\.waiting_room: is required/],
      [{ action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxQueued: 5 } }, /^spec\.waiting_room\.max_admitted: is required/],
      [{ action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxAdmitted: 1, admissionTtlSeconds: 1 } }, /^spec\.waiting_room\.admission_ttl_seconds: must be 2–86400/],
      [{ action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxAdmitted: 1, pollIntervalSeconds: 61 } }, /^spec\.waiting_room\.poll_interval_seconds: must be 1–60/],
      [{ action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxAdmitted: 1, pollIntervalSeconds: 10, queueTimeoutSeconds: 15 } }, /^spec\.waiting_room\.queue_timeout_seconds: must be at least twice/],
      [{ action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxAdmitted: 1, maxQueued: 2_000_000 } }, /^spec\.waiting_room\.max_queued: must be 1–1000000/],
      [{ action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxAdmitted: 1, activation: "WAITING_ROOM_ACTIVATION_AUTOMATIC" } }, /^spec\.waiting_room\.active_requests_threshold: automatic activation needs/],
      [{ action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxAdmitted: 1, requestsPerSecondThreshold: 5 } }, /^spec\.waiting_room\.requests_per_second_threshold: only automatic/],
      [{ action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxAdmitted: 1, activation: "WAITING_ROOM_ACTIVATION_AUTOMATIC", activeRequestsThreshold: 5, minActiveSeconds: 3601 } }, /^spec\.waiting_room\.min_active_seconds: must be 0–3600/],
      [{ action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxAdmitted: 1, templateId: "tpl_nope" } }, /^spec\.waiting_room\.template_id: no template/],
      [{ action: "WAF_ACTION_BLOCK", waitingRoom: { maxAdmitted: 1 } }, /^spec\.waiting_room: only waiting room rules/],
    ];
    for (const [spec, re] of bad) {
      const r = await api.call("PolicyService/CreateWafRule", { spec: { name: "bad", ...spec } }, c);
      assert.equal(r.json.code, "invalid_argument", `${JSON.stringify(spec)}: ${r.text}`);
      assert.match(String(r.json.message), re, JSON.stringify(spec));
    }
    const noRefresh = await api.call("PolicyService/CreateTemplate", { spec: { name: "wr", kind: "TEMPLATE_KIND_WAITING_ROOM_PAGE", body: "<p>{{position}}</p>" } }, c);
    assert.match(String(noRefresh.json.message), /^spec\.body: must contain \{\{\{refresh\}\}\}/);
    const list = await api.call("PolicyService/ListTemplates", {}, c);
    const builtIn = (list.json.templates as { spec: { name: string; kind: string }; builtIn?: boolean }[]).find((x) => x.spec.kind === "TEMPLATE_KIND_WAITING_ROOM_PAGE");
    assert.deepEqual([builtIn?.spec.name, builtIn?.builtIn], ["waiting room", true]);
  });

  it("answers with a custom waiting room page template", async (t) => {
    const { client } = await setup(t);
    const { api, admin: c } = warren;
    const tpl = await api.call("PolicyService/CreateTemplate", { spec: { name: "my line", kind: "TEMPLATE_KIND_WAITING_ROOM_PAGE", body: "<html><head>{{{refresh}}}</head><p>#{{position}} at {{host}}, back in {{retry_after}} s</p></html>" } }, c);
    assert.equal(tpl.status, 200, tpl.text);
    const tplId = String((tpl.json.template as { id: string }).id);
    await rule(t, { name: "custom", action: "WAF_ACTION_WAITING_ROOM", waitingRoom: { maxAdmitted: 1, pollIntervalSeconds: 7, templateId: tplId } });
    // After the rule's own clean-up (hooks run in the order they were added): a template in use cannot go.
    t.after(() => api.call("PolicyService/DeleteTemplate", { id: tplId }, c));
    assert.equal((await client().get()).status, 200);
    const q = await client().get();
    assert.equal(q.status, 503);
    assert.equal(q.body, '<html><head><meta http-equiv="refresh" content="7"></head><p>#1 at app.test, back in 7 s</p></html>');
  });
});
