// WAF rules end to end (issue 9): a real `warren serve`, rules written through PolicyService, real
// requests on the public listener. Acceptance 1 (scope), 2 (CEL), 6 (WebSocket) and 7 (templates).
import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request } from "undici";
import { withWarren } from "../helpers/with-warren.ts";
import { originRoute, wafRule } from "../helpers/policy-fixture.ts";
import { startWebSocketEcho } from "../helpers/origins.ts";
import { pollUntil } from "../helpers/wait.ts";
import { publicListener } from "../helpers/warren-process.ts";
import { rawHttp } from "../helpers/raw-http.ts";
import { curl } from "../helpers/curl.ts";

describe("WAF rules", () => {
  const warren = withWarren({ admin: true });

  // Each test cleans up what it made (its route, origin and rules), so the next one starts clean.
  async function setup(t: TestContext) {
    const { origin, listener: l, base, routeId } = await originRoute(t, warren, "waf");
    const send = async (method: string, host: string, path: string, headers: Record<string, string> = {}) => {
      const res = await request(`${base}${path}`, { method, headers: { host, ...headers } });
      const body = await res.body.text();
      return { status: res.statusCode, body, headers: res.headers };
    };
    return { origin, l, base, send, routeId };
  }

  const rule = (t: TestContext, spec: Record<string, unknown>) => wafRule(t, warren, spec);

  it("blocks exactly the scope host × path × method, and records the rule on the event (acceptance 1)", async (t) => {
    const { origin, send, l } = await setup(t);
    const id = await rule(t, { name: "no admin writes", scope: { hosts: ["app.test"], pathPrefixes: ["/admin"], methods: ["POST"] }, action: "WAF_ACTION_BLOCK" });
    const hosts = ["app.test", "APP.test:" + l.port, "other.test", "sub.app.test"];
    const paths = ["/admin", "/admin/", "/admin/users", "//admin/x", "/%61dmin", "/adminx", "/public", "/"];
    const methods = ["GET", "POST", "PUT", "HEAD"];
    const cases: string[] = [];
    for (const host of hosts)
      for (const path of paths)
        for (const method of methods) {
          const blocked = host.toLowerCase().startsWith("app.test") && method === "POST" && /^\/+(admin|%61dmin)(\/|$)/.test(path);
          const r = await send(method, host, path);
          cases.push(`${method} ${host}${path} → ${r.status}`);
          assert.equal(r.status, blocked ? 403 : 200, `${method} ${host}${path}: ${r.status}`);
          if (blocked) assert.equal(r.headers["cache-control"], "no-store");
        }
    t.diagnostic(`${cases.length} cases`);
    assert.ok(!origin.seen.some((s) => s.method === "POST" && /admin/.test(s.url) && s.headers.host?.startsWith("app.test")), "no blocked request reached the origin");

    // The decision is in the request event.
    const ev = await pollUntil(
      "the blocked request's event",
      () => warren.api.call("ObservabilityService/ListRequestEvents", { ruleId: id, pageSize: 1 }, warren.admin),
      (r) => ((r.json.events as unknown[]) ?? []).length > 0,
    );
    const e = (ev.json.events as Record<string, unknown>[])[0]!;
    assert.deepEqual([e.status, e.errorCode, e.ruleAction, e.answeredBy], [403, "waf_blocked", "block", "waf"]);
    // And in the log at debug, with the request id.
    assert.ok(warren.w.logs.some((x) => x.msg === "policy rule decided" && x.ruleId === id && x.requestId === e.requestId && x.outcome === "block"));
  });

  it("takes the first enabled matching rule by priority: allow skips later blocks; a disabled rule does nothing", async (t) => {
    const { origin, send } = await setup(t);
    const block = await rule(t, { name: "block all", priority: 10, action: "WAF_ACTION_BLOCK", block: { status: 451, body: "gone for legal reasons", contentType: "text/plain; charset=utf-8", headers: [{ name: "x-why", value: "legal" }] } });
    const blocked = await send("GET", "a.test", "/x");
    assert.deepEqual([blocked.status, blocked.body, blocked.headers["x-why"], blocked.headers["content-type"]], [451, "gone for legal reasons", "legal", "text/plain; charset=utf-8"]);
    const allow = await rule(t, { name: "health is fine", priority: 1, scope: { pathPrefixes: ["/health"] }, action: "WAF_ACTION_ALLOW" });
    assert.equal((await send("GET", "a.test", "/health")).status, 200);
    assert.equal((await send("GET", "a.test", "/x")).status, 451);
    const off = await warren.api.call("PolicyService/UpdateWafRule", { id: block, spec: { name: "block all", priority: 10, enabled: false, action: "WAF_ACTION_BLOCK" } }, warren.admin);
    assert.equal(off.status, 200, off.text);
    assert.equal((await send("GET", "a.test", "/x")).status, 200);
    const list = await warren.api.call("PolicyService/ListWafRules", {}, warren.admin);
    assert.deepEqual(
      (list.json.rules as { id: string }[]).map((r) => r.id),
      [allow, block],
      "evaluation order",
    );
  });

  it("blocks curl by a CEL rule and lets a browser through; refuses bad CEL with the field and position (acceptance 2)", async (t) => {
    const { origin, l, send } = await setup(t);
    await rule(t, { name: "no curl", when: 'cidr(client_ip, "127.0.0.0/8") && headers["user-agent"].exists(v, v.matches("(?i)curl"))', action: "WAF_ACTION_BLOCK" });
    const viaCurl = await curl(["-s", "-i", "-H", "Host: app.test", `http://127.0.0.1:${l.port}/`]);
    assert.equal(viaCurl.status, 403, "the real curl, default headers");
    const browser = await send("GET", "app.test", "/", { "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36" });
    assert.equal(browser.status, 200);
    const { api, admin: c } = warren;
    const refusals: [string, RegExp][] = [
      ['method == "GET" &&', /^spec\.when: line 1, column \d+: /],
      ["path.matches(host)", /^spec\.when: line 1, column \d+: .*literal/],
      ['nope(path) == "x"', /^spec\.when: line 1, column 1: .*nope/],
      ['cidr(client_ip, "10.0.0.0/33")', /^spec\.when: line 1, column \d+: .*(CIDR|prefix)/i],
      ['cidr(client_ip, "10.0.0.0/8") &&\n  path.matches("(a")', /^spec\.when: line 2, column \d+: /],
      ["path", /^spec\.when: .*bool/],
    ];
    for (const [when, re] of refusals) {
      const r = await api.call("PolicyService/CreateWafRule", { spec: { name: "bad", when, action: "WAF_ACTION_BLOCK" } }, c);
      assert.equal(r.json.code, "invalid_argument", `${when}: ${r.text}`);
      assert.match(String(r.json.message), re, when);
    }
  });

  it("fails closed for block rules and open for allow rules when `when` cannot be evaluated", async (t) => {
    const { send } = await setup(t);
    // headers["x-tenant"] is an error when the header is absent.
    await rule(t, { name: "allow tenant a", priority: 1, when: 'headers["x-tenant"][0] == "a"', action: "WAF_ACTION_ALLOW" });
    await rule(t, { name: "block tenant b", priority: 2, when: 'headers["x-tenant"][0] == "b"', action: "WAF_ACTION_BLOCK" });
    assert.equal((await send("GET", "app.test", "/", { "x-tenant": "a" })).status, 200, "allowed");
    assert.equal((await send("GET", "app.test", "/", { "x-tenant": "c" })).status, 200, "no rule matches");
    assert.equal((await send("GET", "app.test", "/", { "x-tenant": "b" })).status, 403, "blocked");
    // Without the header the allow rule errs (open: no match) and the block rule errs (closed: blocks).
    assert.equal((await send("GET", "app.test", "/")).status, 403);
    const logged = await pollUntil("the evaluation error in the log", async () => warren.w.logs.filter((x) => x.msg === "policy rule's `when` failed to evaluate"), (v) => v.length >= 2);
    assert.ok(logged.some((x) => x.rule === "block tenant b"));
  });

  it("blocks a WebSocket to a blocked path with the block status, and splices one elsewhere (acceptance 6)", async (t) => {
    const { api, admin: c } = warren;
    const echo = await startWebSocketEcho();
    const l = await publicListener(api, c);
    const r = await api.call("ProxyService/CreateRoute", { spec: { listenerId: l.id, hosts: ["ws.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: echo.url }] } }, c);
    assert.equal(r.status, 200, r.text);
    t.after(async () => {
      await api.call("ProxyService/DeleteRoute", { id: String((r.json.route as { id: string }).id) }, c);
      await echo.close();
    });
    const id = await rule(t, { name: "no ws admin", scope: { hosts: ["ws.test"], pathPrefixes: ["/admin"] }, action: "WAF_ACTION_BLOCK" });
    const upgrade = (path: string) =>
      rawHttp(l.port, `GET ${path} HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`, { idleMs: 500 });
    const refused = await upgrade("/admin/socket");
    assert.equal(refused.status, 403, refused.raw);
    assert.equal(refused.statuses.includes(101), false);
    assert.equal((await upgrade("/chat")).status, 101);
  });

  it("validates templates (unknown or malformed placeholders), renders them into block answers, and refuses deleting one in use (acceptance 7)", async (t) => {
    const { origin, send } = await setup(t);
    const { api, admin: c } = warren;
    const bad = await api.call("PolicyService/CreateTemplate", { spec: { name: "x", kind: "TEMPLATE_KIND_GENERIC_BODY", body: "<p>{{nope}}</p>" } }, c);
    assert.equal(bad.json.code, "invalid_argument");
    assert.match(String(bad.json.message), /^spec\.body: unknown placeholder \{\{nope\}\} at offset 3/);
    const unclosed = await api.call("PolicyService/CreateTemplate", { spec: { name: "x", kind: "TEMPLATE_KIND_GENERIC_BODY", body: "<p>{{status</p>" } }, c);
    assert.match(String(unclosed.json.message), /^spec\.body: an unclosed \{\{/);
    const noKind = await api.call("PolicyService/CreateTemplate", { spec: { name: "x", body: "hi" } }, c);
    assert.match(String(noKind.json.message), /^spec\.kind: /);

    const preview = await api.call("PolicyService/GetTemplatePreview", { spec: { name: "p", kind: "TEMPLATE_KIND_GENERIC_BODY", body: "<b>{{path}}</b>{{{path}}}" } }, c);
    assert.equal(preview.json.rendered, "<b>/admin/&lt;script&gt;</b>/admin/<script>", "escaped by default, raw with triple braces");

    const tpl = await api.call("PolicyService/CreateTemplate", { spec: { name: "teapot page", kind: "TEMPLATE_KIND_GENERIC_BODY", body: "<h1>{{status}} {{status_text}}</h1><p>{{rule_name}} on {{host}}{{path}} ({{request_id}})</p>" } }, c);
    assert.equal(tpl.status, 200, tpl.text);
    const tplId = String((tpl.json.template as { id: string }).id);
    const id = await rule(t, { name: "tea <time>", scope: { hosts: ["tea.test"] }, action: "WAF_ACTION_BLOCK", block: { status: 418, templateId: tplId } });
    const r = await send("GET", "tea.test", "/cup");
    assert.equal(r.status, 418);
    assert.equal(r.headers["content-type"], "text/html; charset=utf-8");
    assert.match(r.body, /^<h1>418 I&#39;m a Teapot<\/h1><p>tea &lt;time&gt; on tea.test\/cup \([0-9a-z-]+\)<\/p>$/i);
    assert.equal(r.body.includes(String(r.headers["x-request-id"])), true);

    const inUse = await api.call("PolicyService/DeleteTemplate", { id: tplId }, c);
    assert.equal(inUse.json.code, "failed_precondition");
    assert.match(String(inUse.json.message), /used by rule "tea <time>"/);
    const builtIn = ((await api.call("PolicyService/ListTemplates", {}, c)).json.templates as { id: string; builtIn?: boolean; spec: { name: string } }[]).find((x) => x.builtIn);
    assert.equal(builtIn?.spec.name, "blocked");
    const del = await api.call("PolicyService/DeleteTemplate", { id: builtIn!.id }, c);
    assert.match(String(del.json.message), /built in/);
    const missing = await api.call("PolicyService/CreateWafRule", { spec: { name: "x", action: "WAF_ACTION_BLOCK", block: { templateId: "tpl_nope" } } }, c);
    assert.match(String(missing.json.message), /^spec\.block\.template_id: no template tpl_nope/);
    // Once no rule uses it, it goes.
    assert.equal((await api.call("PolicyService/DeleteWafRule", { id }, c)).status, 200);
    assert.equal((await api.call("PolicyService/DeleteTemplate", { id: tplId }, c)).status, 200);
  });

  it("verifies challenge solutions: a wrong nonce, another host's token and a non-POST are refused; the endpoint has a per-IP budget", async (t) => {
    const { l, send } = await setup(t);
    const id = await rule(t, { name: "pow", scope: { hosts: ["app.test", "b.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { difficulty: 8 } });
    const page = await send("GET", "app.test", "/x?y=1");
    assert.equal(page.status, 403);
    assert.equal(page.headers["cache-control"], "no-store");
    const token = /name="token" value="([^"]+)"/.exec(page.body)![1]!.replace(/&quot;/g, '"');
    assert.match(page.body, /name="return" value="\/x\?y=1"/);
    let nonce = 0;
    while (!createHash("sha256").update(`${token}:${nonce}`).digest().subarray(0, 1).equals(Buffer.from([0]))) nonce++;
    const post = (host: string, body: string, headers: Record<string, string> = {}) =>
      request(`http://127.0.0.1:${l.port}/.well-known/warren/challenge/verify`, { method: "POST", headers: { host, "content-type": "application/x-www-form-urlencoded", ...headers }, body }).then(async (r) => ({ status: r.statusCode, headers: r.headers, body: await r.body.text() }));
    const form = (n: string, ret = "/x?y=1") => new URLSearchParams({ token, nonce: n, return: ret }).toString();
    assert.equal((await post("app.test", form("bad"))).status, 403, "not a nonce");
    let wrong = 0;
    while (createHash("sha256").update(`${token}:${wrong}`).digest()[0] === 0) wrong++;
    assert.equal((await post("app.test", form(String(wrong)))).status, 403, "not a solution");
    assert.equal((await post("b.test", form(String(nonce)))).status, 403, "a token issued for another host");
    const ok = await post("app.test", form(String(nonce), "//evil.test/"));
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.location, "/", "never to another origin");
    assert.match(String(ok.headers["set-cookie"]), new RegExp(`^warren_pass_${id}=\\d+\\.[A-Za-z0-9_-]+; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax$`));
    const pass = String(ok.headers["set-cookie"]).split(";")[0]!;
    assert.equal((await send("GET", "app.test", "/x", { cookie: pass })).status, 200);
    assert.equal((await send("GET", "app.test", "/.well-known/warren/challenge/verify")).status, 405);
    const js = await send("GET", "app.test", "/.well-known/warren/challenge-worker.js");
    assert.deepEqual([js.status, js.headers["content-type"]], [200, "text/javascript; charset=utf-8"]);
    assert.equal((await send("GET", "app.test", "/.well-known/warren/other")).status, 404);
    // 30 verifications per minute per client address: the endpoint answers 429 after that.
    let last = 0;
    for (let i = 0; i < 40 && last !== 429; i++) last = (await post("app.test", form("1"))).status;
    assert.equal(last, 429);
  });

  it("sends a browser without JavaScript to the block answer when the rule says so, and nothing else there", async (t) => {
    const { send } = await setup(t);
    const id = await rule(t, { name: "no js, no entry", scope: { hosts: ["nojs.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { difficulty: 8, noScript: "NO_SCRIPT_FALLBACK_BLOCK" } });
    const page = await send("GET", "nojs.test", "/x");
    assert.equal(page.status, 403);
    const m = /<noscript><meta http-equiv="refresh" content="0; url=(\/\.well-known\/warren\/challenge\/noscript\?token=[^"]+)">/.exec(page.body);
    assert.ok(m, page.body);
    const url = m[1]!.replace(/&amp;/g, "&");
    const blocked = await send("GET", "nojs.test", url, { accept: "application/json" });
    assert.equal(blocked.status, 403);
    assert.equal((JSON.parse(blocked.body) as { error: { code: string } }).error.code, "waf_blocked");
    // The token is good for this host only, and the puzzle's token is not a no-JavaScript one.
    assert.equal(JSON.parse((await send("GET", "other.test", url, { accept: "application/json" })).body).error.code, "challenge_failed");
    const puzzle = /name="token" value="([^"]+)"/.exec(page.body)![1]!;
    assert.equal(JSON.parse((await send("GET", "nojs.test", `/.well-known/warren/challenge/noscript?token=${encodeURIComponent(puzzle)}`, { accept: "application/json" })).body).error.code, "challenge_failed");
    // A rule that asks (the default) has no way out there.
    await warren.api.call("PolicyService/UpdateWafRule", { id, spec: { name: "no js, no entry", scope: { hosts: ["nojs.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { difficulty: 8 } } }, warren.admin);
    const asking = await send("GET", "nojs.test", "/x");
    assert.match(asking.body, /<noscript><p>This check needs JavaScript/);
    assert.equal(JSON.parse((await send("GET", "nojs.test", url, { accept: "application/json" })).body).error.code, "challenge_failed", "the old token, after the edit");
    const bad = await warren.api.call("PolicyService/UpdateWafRule", { id, spec: { name: "x", action: "WAF_ACTION_CHALLENGE", challenge: { noScript: "NO_SCRIPT_FALLBACK_CAPTCHA" } } }, warren.admin);
    assert.match(String(bad.json.message), /^spec\.challenge\.no_script_captcha_provider_id: is required/);
  });

  it("refuses bad rules with field-named errors and leaves the old config serving", async (t) => {
    const { origin, send } = await setup(t);
    const { api, admin: c } = warren;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ action: "WAF_ACTION_BLOCK" }, /^spec\.name: is required/],
      [{ name: "x" }, /^spec\.action: /],
      [{ name: "x", action: "WAF_ACTION_BLOCK", scope: { hosts: ["bad host"] } }, /^spec\.scope\.hosts\[0\]: /],
      [{ name: "x", action: "WAF_ACTION_BLOCK", scope: { pathPrefixes: ["admin"] } }, /^spec\.scope\.path_prefixes\[0\]: must start with "\/"/],
      [{ name: "x", action: "WAF_ACTION_BLOCK", scope: { methods: ["GET", "get it"] } }, /^spec\.scope\.methods\[1\]: /],
      [{ name: "x", action: "WAF_ACTION_BLOCK", block: { status: 200 } }, /^spec\.block\.status: must be 400–599/],
      [{ name: "x", action: "WAF_ACTION_BLOCK", block: { headers: [{ name: "bad header", value: "v" }] } }, /^spec\.block\.headers\[0\]\.name: /],
      [{ name: "x", action: "WAF_ACTION_ALLOW", block: { status: 403 } }, /^spec\.block: only block rules/],
    ];
    for (const [spec, re] of cases) {
      const r = await api.call("PolicyService/CreateWafRule", { spec }, c);
      assert.equal(r.json.code, "invalid_argument", `${JSON.stringify(spec)}: ${r.text}`);
      assert.match(String(r.json.message), re);
    }
    assert.equal(((await api.call("PolicyService/ListWafRules", {}, c)).json.rules as unknown[] | undefined)?.length ?? 0, 0);
    assert.equal((await send("GET", "a.test", "/")).status, 200);
  });
});
