// The Rate limits page's counter-store panel against a real `warren serve` whose RATE_LIMIT_STORE is a
// Redis nobody listens on: it says the store is unreachable at that address, warns that fail-open
// rules fall back to memory, and counts the decisions made without Redis as real requests go
// through a rule, refreshing by itself; then a real redis-server comes up on that port and the
// panel turns healthy without a reload.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { request } from "undici";
import { withWarren } from "../helpers/with-warren.ts";
import { ADMIN_PASSWORD, publicListener } from "../helpers/warren-process.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { freePort } from "../helpers/agent-process.ts";
import { RedisServer, redisMissing } from "../helpers/redis-server.ts";
import { chromiumAvailable, launchBrowser, openUi, signIn, type UiSession } from "./browser.ts";

describe("the rate-limit store panel with Redis unreachable, then back", { skip: !chromiumAvailable() && "no chromium" }, () => {
  // A port nothing listens on: connections are refused, as when Redis is down or not there yet.
  let redisPort = 0;
  const warren = withWarren({ admin: true, env: async () => ({ RATE_LIMIT_STORE: `redis://127.0.0.1:${(redisPort = await freePort())}` }) });
  let browser: Browser;
  let ui: UiSession;
  let page: Page;
  let origin: Origin;
  let redis: RedisServer | undefined;

  before(async () => {
    browser = await launchBrowser();
    origin = await startOrigin("store-ui");
    ui = await openUi(browser, warren.w.baseUrl);
    page = ui.page;
    page.setDefaultTimeout(10_000);
    await signIn(page, "admin", ADMIN_PASSWORD, "/rate-limits");
  });
  after(async () => {
    await ui?.context.close();
    await browser?.close();
    await origin?.close();
    await redis?.stop();
  });

  const panel = () => page.getByTestId("store-status");
  const noErrors = () => assert.deepEqual(ui.errors, [], "no console errors");

  it("says Redis at that address is unreachable and warns that fail-open rules fall back to memory", async () => {
    const target = `redis://127.0.0.1:${redisPort}`;
    const headline = page.getByTestId("store-headline");
    await headline.filter({ hasText: `Redis at ${target} — unreachable` }).waitFor();
    assert.ok((await headline.innerText()).startsWith(`Redis at ${target} — unreachable`), await headline.innerText());
    await panel().getByText("unhealthy", { exact: true }).waitFor();
    const warning = panel().getByRole("alert");
    await warning.waitFor();
    assert.equal(await warning.innerText(), "Fail-open rules are falling back to memory (counters per gateway, not shared). Fail-closed rules refuse requests (503) until it answers.");
    // Nothing was decided yet, with or without Redis.
    await panel().getByText(/· 0 decisions made without it$/).waitFor();
    noErrors();
  });

  it("counts the decisions made without Redis as requests go through a rule, on its own refresh", async () => {
    const { api, admin: c } = warren;
    const l = await publicListener(api, c);
    const route = await api.call("ProxyService/CreateRoute", { spec: { listenerId: l.id, name: "store", hosts: ["store.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url }] } }, c);
    assert.equal(route.status, 200, route.text);
    const rule = await api.call("PolicyService/CreateRateLimitRule", { spec: { name: "hundred a minute", scope: { hosts: ["store.test"] }, limit: 100 } }, c);
    assert.equal(rule.status, 200, rule.text);

    // Fail open: served, counted in this gateway's memory.
    for (let i = 0; i < 3; i++) {
      const r = await request(`http://127.0.0.1:${l.port}/n${i}`, { headers: { host: "store.test" } });
      await r.body.dump();
      assert.equal(r.statusCode, 200);
    }
    // The panel refreshes every 3 s; no reload.
    const counted = panel().getByText(/· [1-9]\d* decisions? made without it$/);
    await counted.waitFor({ timeout: 20_000 });
    const n = Number(/(\d+) decision/.exec(await counted.innerText())![1]);
    assert.ok(n >= 3, `${n} fallback decisions after 3 requests`);
    assert.equal(await panel().getByRole("alert").count(), 1, "still warning");
    noErrors();
  });

  it("turns healthy without a reload once a real Redis listens on that port", { skip: redisMissing }, async () => {
    redis = await RedisServer.start(redisPort);
    const target = `redis://127.0.0.1:${redisPort}`;
    const healthy = page.getByTestId("store-headline").filter({ hasText: `Redis at ${target} — healthy` });
    await healthy.waitFor({ timeout: 30_000 });
    assert.equal(await healthy.innerText(), `Redis at ${target} — healthy`);
    await panel().getByText("ok", { exact: true }).waitFor();
    assert.equal(await panel().getByRole("alert").count(), 0, "the warning is gone");
    // What was decided without it stays counted.
    await panel().getByText(/· [1-9]\d* decisions? made without it$/).waitFor();
    noErrors();
  });
});
