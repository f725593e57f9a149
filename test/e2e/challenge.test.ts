// The built-in proof-of-work challenge in real Chromium (issue 9 acceptance 3): the browser meets the
// page, its worker solves the puzzle, it lands on the original URL and keeps its pass; curl without
// the cookie keeps getting the page; a forged cookie or one for another host is refused; editing
// the rule voids the pass.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWarren } from "../helpers/with-warren.ts";
import { publicListener } from "../helpers/warren-process.ts";
import { startOrigin } from "../helpers/origins.ts";
import { curl } from "../helpers/curl.ts";
import { chromiumAvailable, openUi, withBrowser } from "./browser.ts";

describe("proof-of-work challenge in the browser", { skip: !chromiumAvailable() && "no chromium" }, () => {
  const warren = withWarren({ admin: true });
  // The public listener is reached by host name, as a visitor would.
  const chromium = withBrowser(["--host-resolver-rules=MAP app.test 127.0.0.1, MAP other.test 127.0.0.1"]);

  it("solves the challenge, returns to the URL, keeps the pass; curl, forged and other-host cookies get the page; an edit voids passes", async (t) => {
    const { api, admin: c } = warren;
    const origin = await startOrigin("challenged");
    t.after(() => origin.close());
    const l = await publicListener(api, c);
    const r = await api.call("ProxyService/CreateRoute", { spec: { listenerId: l.id, hosts: ["app.test", "other.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url }] } }, c);
    assert.equal(r.status, 200, r.text);
    const spec = { name: "prove it", scope: { hosts: ["app.test", "other.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { difficulty: 12, passTtlSeconds: 600 } };
    const created = await api.call("PolicyService/CreateWafRule", { spec }, c);
    assert.equal(created.status, 200, created.text);
    const ruleId = String((created.json.rule as { id: string }).id);

    const ui = await openUi(chromium.browser, `http://app.test:${l.port}`);
    const { page } = ui;
    const seenBefore = origin.seen.length;
    const first = await page.goto(`http://app.test:${l.port}/hello?x=1`);
    assert.equal(first?.status(), 403, "the challenge page first");
    assert.match(first?.headers()["content-security-policy"] ?? "", /script-src 'self'/);
    // The worker solves, the form posts, the 303 lands back on the original URL, served by the origin.
    await page.waitForURL(`http://app.test:${l.port}/hello?x=1`, { waitUntil: "load" });
    await page.getByText("challenged").first().waitFor();
    // Chromium also asks for /favicon.ico once it has the pass; the page itself reached the origin once.
    assert.deepEqual(
      origin.seen.slice(seenBefore).filter((s) => s.url !== "/favicon.ico").map((s) => s.url),
      ["/hello?x=1"],
      "the origin saw the request once, after the check",
    );
    const pass = (await ui.context.cookies()).find((x) => x.name === `warren_pass_${ruleId}`);
    assert.ok(pass, "a pass cookie");
    assert.deepEqual([pass.httpOnly, pass.sameSite, pass.path], [true, "Lax", "/"]);
    assert.ok(pass.expires > Date.now() / 1000 + 500, "lives for the rule's pass TTL");

    // The pass holds: the next page goes straight through.
    const again = await page.goto(`http://app.test:${l.port}/again`);
    assert.equal(again?.status(), 200);
    assert.ok(origin.seen.some((s) => s.url === "/again"));

    // curl without the cookie keeps getting the page; with the browser's pass it goes through.
    const bare = await curl(["-H", "Host: app.test", `http://127.0.0.1:${l.port}/hello`]);
    assert.equal(bare.status, 403);
    assert.match(bare.body, /Checking your browser/);
    const cookie = `${pass.name}=${pass.value}`;
    assert.equal((await curl(["-H", "Host: app.test", "-H", `Cookie: ${cookie}`, `http://127.0.0.1:${l.port}/hello`])).status, 200);
    const forged = `${pass.name}=${pass.value.replace(/.$/, (ch) => (ch === "A" ? "B" : "A"))}`;
    assert.equal((await curl(["-H", "Host: app.test", "-H", `Cookie: ${forged}`, `http://127.0.0.1:${l.port}/hello`])).status, 403, "a forged pass");
    const stretched = `${pass.name}=${pass.value.replace(/^\d+/, "9999999999")}`;
    assert.equal((await curl(["-H", "Host: app.test", "-H", `Cookie: ${stretched}`, `http://127.0.0.1:${l.port}/hello`])).status, 403, "a pass whose expiry was changed");
    assert.equal((await curl(["-H", "Host: other.test", "-H", `Cookie: ${cookie}`, `http://127.0.0.1:${l.port}/hello`])).status, 403, "a pass for another host");

    // A POST that meets the challenge gets the page, which says its body was not forwarded.
    const post = await curl(["-H", "Host: app.test", "-d", "a=1", `http://127.0.0.1:${l.port}/form`]);
    assert.equal(post.status, 403);
    assert.match(post.body, /not forwarded/);
    assert.ok(!origin.seen.some((s) => s.url === "/form"), "the body never reached the origin");

    // Editing the rule voids every pass: the browser meets the challenge again, and solves it again.
    const edited = await api.call("PolicyService/UpdateWafRule", { id: ruleId, spec: { ...spec, challenge: { difficulty: 13, passTtlSeconds: 600 } } }, c);
    assert.equal(edited.status, 200, edited.text);
    assert.equal((await curl(["-H", "Host: app.test", "-H", `Cookie: ${cookie}`, `http://127.0.0.1:${l.port}/hello`])).status, 403, "the old pass after the edit");
    const third = await page.goto(`http://app.test:${l.port}/third`);
    assert.equal(third?.status(), 403);
    await page.waitForURL(`http://app.test:${l.port}/third`, { waitUntil: "load" });
    await page.getByText("challenged").first().waitFor();
    assert.ok(origin.seen.some((s) => s.url === "/third"));

    const events = await api.call("ObservabilityService/ListRequestEvents", { ruleId }, c);
    assert.ok(((events.json.events as { ruleAction: string }[]) ?? []).some((e) => e.ruleAction === "challenge"), "challenges are in the request events");
    assert.deepEqual(ui.errors, [], "no console errors (a CSP refusal would be one)");
  });

  it("sends a browser with JavaScript off to the block answer when the rule says so", async (t) => {
    const { api, admin: c } = warren;
    const origin = await startOrigin("no-js");
    t.after(() => origin.close());
    const l = await publicListener(api, c);
    const r = await api.call("ProxyService/CreateRoute", { spec: { listenerId: l.id, hosts: ["app.test"], pathPrefix: "/nojs", action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url }] } }, c);
    assert.equal(r.status, 200, r.text);
    const made = await api.call("PolicyService/CreateWafRule", { spec: { name: "scripts only", priority: -1, scope: { hosts: ["app.test"], pathPrefixes: ["/nojs"] }, action: "WAF_ACTION_CHALLENGE", challenge: { difficulty: 8, noScript: "NO_SCRIPT_FALLBACK_BLOCK" } } }, c);
    assert.equal(made.status, 200, made.text);
    const context = await chromium.browser.newContext({ javaScriptEnabled: false });
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(`http://app.test:${l.port}/nojs/page`);
    // The <noscript> refresh takes it to the no-JavaScript endpoint, which answers with the block.
    await page.waitForURL((u) => u.pathname === "/.well-known/warren/challenge/noscript");
    await page.getByText("The request was blocked by a security rule.").waitFor();
    assert.equal(origin.seen.length, 0, "nothing reached the origin");
  });
});
