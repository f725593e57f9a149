// The cache in the browser: a cache rule made through the UI (an allowlist without names refused
// under Query names first), the settings saved (a hot-object size over the memory budget refused
// under it first), purges by host and of everything (asked first) with what they removed, viewers
// only look; and, with the data plane's cache, real traffic through Warren's public listener to a
// real origin: the second request is a hit that never reaches the origin, the usage panel and the
// request log say so, and a purge by host removes it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { request } from "undici";
import { withWarren } from "../helpers/with-warren.ts";
import { ADMIN_PASSWORD, publicListener } from "../helpers/warren-process.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { pollUntil } from "../helpers/wait.ts";
import { chromiumAvailable, launchBrowser, openUi, signIn, type UiSession } from "./browser.ts";

describe("the cache in the browser", { skip: !chromiumAvailable() && "no chromium" }, () => {
  const warren = withWarren({ admin: true });
  let browser: Browser;
  let ui: UiSession;
  let page: Page;
  let port: number;
  let origin: Origin;
  let routeId: string;

  before(async () => {
    browser = await launchBrowser();
    const l = await publicListener(warren.api, warren.admin);
    port = l.port;
    origin = await startOrigin("cache-ui");
    const r = await warren.api.call("ProxyService/CreateRoute", { spec: { listenerId: l.id, name: "cached", hosts: ["cache.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url }] } }, warren.admin);
    assert.equal(r.status, 200, r.text);
    routeId = (r.json.route as { id: string }).id;
    ui = await openUi(browser, warren.w.baseUrl);
    page = ui.page;
    page.setDefaultTimeout(10_000);
    await signIn(page, "admin", ADMIN_PASSWORD, "/cache");
  });
  after(async () => {
    await ui?.context.close();
    await browser?.close();
    await origin?.close();
  });

  const send = async (host: string, path = "/") => {
    const r = await request(`http://127.0.0.1:${port}${path}`, { headers: { host, "user-agent": "Mozilla/5.0" } });
    return { status: r.statusCode, body: await r.body.text(), headers: r.headers };
  };
  const fieldError = (field: string) => page.locator(`[data-field="${field}"] .field-error`);
  const tierCell = (p: Page, tier: string, col: number) => p.locator(`[data-tier="${tier}"] td`).nth(col);
  const noErrors = () => assert.deepEqual(ui.errors, [], "no console errors (a CSP violation would be one)");

  it("shows empty usage, the default settings and no rules", async () => {
    await page.locator(".empty").filter({ hasText: "No cache rules yet" }).waitFor();
    await tierCell(page, "memory", 0).waitFor();
    assert.equal(await tierCell(page, "memory", 0).innerText(), "0");
    assert.equal(await page.getByTestId("hit-ratio").innerText(), "—");
    assert.equal(await page.getByLabel("Memory budget", { exact: true }).inputValue(), "128");
    assert.equal(await page.getByLabel("Memory budget unit").inputValue(), "MiB");
    assert.equal(await page.getByLabel("Disk budget", { exact: true }).inputValue(), "1");
    assert.equal(await page.getByLabel("Disk budget unit").inputValue(), "GiB");
    assert.equal(await page.getByLabel("Hot object size", { exact: true }).inputValue(), "256");
    noErrors();
  });

  it("creates a cache rule: an allowlist without names is refused under Query names, then it saves", async () => {
    await page.getByRole("link", { name: "New rule", exact: true }).click();
    await page.getByRole("heading", { name: "New cache rule" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("pages");
    await page.getByLabel("Hosts", { exact: true }).fill("cache.test");
    await page.getByLabel("cached (cache.test)", { exact: true }).check();
    await page.getByLabel("TTL mode", { exact: true }).selectOption({ label: "Fixed: always the TTL below, whatever the origin says about freshness" });
    await page.getByLabel("TTL", { exact: true }).fill("10");
    await page.getByLabel("TTL unit").selectOption("min");
    await page.getByLabel("Query string", { exact: true }).selectOption({ label: "Only the parameters named below" });
    await page.getByLabel("Statuses", { exact: true }).fill("200, 404");
    await page.getByLabel("Add the Cache-Status header", { exact: true }).check();
    await page.getByRole("button", { name: "Create cache rule" }).click();
    await fieldError("query_names").waitFor();
    assert.equal(await fieldError("query_names").innerText(), "name at least one query parameter for an allowlist or denylist");
    assert.equal(await page.getByLabel("Query names", { exact: true }).getAttribute("aria-invalid"), "true");

    // A status that is not a number is refused by the form, under Statuses.
    await page.getByLabel("Query names", { exact: true }).fill("v");
    await page.getByLabel("Statuses", { exact: true }).fill("200, ok");
    await page.getByRole("button", { name: "Create cache rule" }).click();
    await fieldError("statuses").filter({ hasText: '"ok" is not a status code' }).waitFor();
    assert.equal(await fieldError("query_names").count(), 0, "the query names' error is gone");

    await page.getByLabel("Statuses", { exact: true }).fill("200, 404");
    await page.getByRole("button", { name: "Create cache rule" }).click();
    await page.waitForURL((u) => u.pathname === "/cache");
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "pages", exact: true }) });
    await row.waitFor();
    assert.match(await row.innerText(), /0\s+pages\s+enabled\s+hosts cache\.test · 1 route\s+fixed 10 min\s+only v\s+200, 404/);
    const rules = (await warren.api.call("PolicyService/ListCacheRules", {}, warren.admin)).json.rules as { spec: Record<string, unknown> }[];
    assert.equal(rules.length, 1);
    const s = rules[0]!.spec;
    assert.deepEqual([s.ttlMode, s.ttlMs, s.queryMode, s.queryNames, s.routeIds, s.statuses, s.cacheStatusHeader], ["CACHE_TTL_MODE_FIXED", "600000", "CACHE_QUERY_MODE_ALLOWLIST", ["v"], [routeId], [200, 404], true]);

    // The editor shows it back in the units it was typed in.
    await page.getByRole("link", { name: "pages", exact: true }).click();
    await page.getByRole("heading", { name: "Cache rule pages" }).waitFor();
    assert.equal(await page.getByLabel("TTL", { exact: true }).inputValue(), "10");
    assert.equal(await page.getByLabel("TTL unit").inputValue(), "min");
    assert.ok(await page.getByLabel("cached (cache.test)", { exact: true }).isChecked());
    await page.getByRole("link", { name: "The cache" }).click();
    await page.waitForURL((u) => u.pathname === "/cache");
    noErrors();
  });

  it("saves the settings: a hot-object size over the memory budget is refused under it first", async () => {
    const memory = page.getByLabel("Memory budget", { exact: true });
    await memory.waitFor();
    await memory.fill("1");
    await page.getByLabel("Hot object size", { exact: true }).fill("2");
    await page.getByLabel("Hot object size unit").selectOption("MiB");
    await page.getByRole("button", { name: "Save settings" }).click();
    await fieldError("settings.hot_object_bytes").waitFor();
    assert.equal(await fieldError("settings.hot_object_bytes").innerText(), "must be at most memory_bytes");

    await memory.fill("64");
    await page.getByLabel("Hot object size", { exact: true }).fill("512");
    await page.getByLabel("Hot object size unit").selectOption("KiB");
    await page.getByLabel("Disk budget", { exact: true }).fill("0");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByRole("status").filter({ hasText: "Saved. The cache uses the new settings now." }).waitFor();
    assert.equal(await fieldError("settings.hot_object_bytes").count(), 0);
    const got = (await warren.api.call("PolicyService/GetCacheSettings", {}, warren.admin)).json.settings as Record<string, unknown>;
    assert.deepEqual([got.memoryBytes, got.diskBytes, got.hotObjectBytes], ["67108864", "0", "524288"]);
    // Shown back as saved: disk 0 is "off", not empty.
    assert.equal(await page.getByLabel("Disk budget", { exact: true }).inputValue(), "0");
    assert.equal(await page.getByLabel("Hot object size", { exact: true }).inputValue(), "512");
    noErrors();
  });

  it("purges by host and everything (asked first) and says what was removed", async () => {
    const purge = page.getByRole("region", { name: "Purge" });
    await purge.waitFor();
    await purge.getByRole("button", { name: "Purge", exact: true }).click();
    await fieldError("host").filter({ hasText: "is required" }).waitFor();
    await purge.getByLabel("Host", { exact: true }).fill("cache.test");
    await purge.getByRole("button", { name: "Purge", exact: true }).click();
    const result = page.getByTestId("purge-result");
    await result.waitFor();
    assert.equal(await result.innerText(), "Removed 0 entries (0 B)");

    await purge.getByLabel("Remove", { exact: true }).selectOption({ label: "Everything" });
    await purge.getByRole("button", { name: "Purge everything" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /Remove every entry from the cache/);
    await dialog.getByRole("button", { name: "Purge everything" }).click();
    await result.waitFor();
    assert.equal(await result.innerText(), "Removed 0 entries (0 B)");
    noErrors();
  });

  it("shows the cache to a viewer read-only", async () => {
    const made = await warren.api.call("UserService/CreateUser", { username: "viewer", password: "a viewer passphrase", role: "ROLE_VIEWER" }, warren.admin);
    assert.equal(made.status, 200, made.text);
    const v = await openUi(browser, warren.w.baseUrl);
    try {
      v.page.setDefaultTimeout(10_000);
      await signIn(v.page, "viewer", "a viewer passphrase", "/cache");
      await v.page.getByRole("link", { name: "pages", exact: true }).waitFor();
      await tierCell(v.page, "memory", 0).waitFor();
      await v.page.getByLabel("Memory budget", { exact: true }).waitFor();
      assert.ok(await v.page.getByLabel("Memory budget", { exact: true }).isDisabled());
      assert.ok(await v.page.getByLabel("Cache enabled", { exact: true }).isDisabled());
      assert.equal(await v.page.getByRole("link", { name: "New rule" }).count(), 0);
      assert.equal(await v.page.getByRole("region", { name: "Purge" }).count(), 0, "no purge for viewers");
      for (const name of [/Save settings/, /Purge/, /Enable/, /Disable/, /Move/, /Delete/]) assert.equal(await v.page.getByRole("button", { name }).count(), 0, String(name));

      await v.page.getByRole("link", { name: "pages", exact: true }).click();
      await v.page.getByRole("heading", { name: "Cache rule pages" }).waitFor();
      for (const label of ["Name", "Hosts", "TTL", "Query names", "cached (cache.test)"]) assert.ok(await v.page.getByLabel(label, { exact: true }).isDisabled(), label);
      for (const name of ["Save cache rule", "Delete cache rule"]) assert.equal(await v.page.getByRole("button", { name }).count(), 0, name);

      await v.page.goto("/cache/rules/new");
      await v.page.getByText("Only administrators can create cache rules.").waitFor();
      assert.deepEqual(v.errors, []);
    } finally {
      await v.context.close();
    }
  });

  // Needs the data plane's cache store (merged from main): until then nothing is really cached.
  it("caches real traffic: a hit the origin never sees, usage and the request log say so, a purge by host removes it", async () => {
    const a = await send("cache.test", "/page?v=1&utm=x");
    const b = await send("cache.test", "/page?v=1&utm=y");
    assert.deepEqual([a.status, b.status], [200, 200]);
    assert.equal(b.body, a.body, "the same answer");
    assert.equal(origin.seen.filter((s) => s.url.startsWith("/page")).length, 1, "the second request (utm is not in the key) never reached the origin");
    assert.match(String(b.headers["cache-status"]), /hit/);

    await page.goto("/cache");
    await page.locator('[data-tier="memory"] td').first().filter({ hasText: /^[1-9]/ }).waitFor();
    assert.notEqual(await page.getByTestId("hit-ratio").innerText(), "—");
    assert.match(await tierCell(page, "memory", 1).innerText(), /^[1-9]\d*(\.\d+)? (B|KiB)$/);

    await pollUntil(
      "the hit's event",
      async () => (await warren.api.call("ObservabilityService/ListRequestEvents", { host: "cache.test" }, warren.admin)).json.events as { cacheStatus?: string }[] | undefined,
      (ev) => (ev ?? []).some((e) => e.cacheStatus === "hit"),
    );
    await page.goto("/requests?host=cache.test");
    const chip = page.getByTestId("cache-chip").filter({ hasText: "cache: hit" });
    await chip.first().waitFor();
    const hitRow = page.locator("tbody tr").filter({ has: chip });
    await hitRow.first().getByRole("button", { name: "Details" }).click();
    await page.getByTestId("cache-status").first().waitFor();
    assert.equal(await page.getByTestId("cache-status").first().innerText(), "hit");

    await page.goto("/cache");
    const purge = page.getByRole("region", { name: "Purge" });
    await purge.getByLabel("Host", { exact: true }).fill("cache.test");
    await purge.getByRole("button", { name: "Purge", exact: true }).click();
    const result = page.getByTestId("purge-result");
    await result.waitFor();
    assert.match(await result.innerText(), /^Removed 1 entry \(\d+(\.\d+)? (B|KiB)\)$/);
    await send("cache.test", "/page?v=1");
    assert.equal(origin.seen.filter((s) => s.url.startsWith("/page")).length, 2, "after the purge the origin is asked again");
    noErrors();
  });

  // The settings saved above are in effect: the data plane reopened its stores with them.
  it("shows the saved settings as the budgets: 64 MiB of memory, no disk tier", async () => {
    await page.goto("/cache");
    await tierCell(page, "memory", 2).waitFor();
    assert.equal(await tierCell(page, "memory", 2).innerText(), "64 MiB");
    assert.equal(await tierCell(page, "disk", 2).innerText(), "off");
    noErrors();
  });
});
