// Rate limits and shapers in the browser: a rate limit made through the UI (server field errors
// under their fields first) acts on real requests through Warren's public listener to a real origin
// (200, 200, 429 with Retry-After), the request log says which rule limited; the store panel says
// memory; a shaper made through the UI is listed with its rates; viewers only look.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { request } from "undici";
import { withWarren } from "../helpers/with-warren.ts";
import { ADMIN_PASSWORD, publicListener } from "../helpers/warren-process.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { pollUntil } from "../helpers/wait.ts";
import { chromiumAvailable, launchBrowser, openUi, signIn, type UiSession } from "./browser.ts";

describe("rate limits and shapers in the browser", { skip: !chromiumAvailable() && "no chromium" }, () => {
  const warren = withWarren({ admin: true });
  let browser: Browser;
  let ui: UiSession;
  let page: Page;
  let port: number;
  let origin: Origin;

  before(async () => {
    browser = await launchBrowser();
    const l = await publicListener(warren.api, warren.admin);
    port = l.port;
    origin = await startOrigin("rate-limit-ui");
    const r = await warren.api.call("ProxyService/CreateRoute", { spec: { listenerId: l.id, name: "rl", hosts: ["rl.test", "files.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url }] } }, warren.admin);
    assert.equal(r.status, 200, r.text);
    ui = await openUi(browser, warren.w.baseUrl);
    page = ui.page;
    page.setDefaultTimeout(10_000);
    await signIn(page, "admin", ADMIN_PASSWORD, "/rate-limits");
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
  const noErrors = () => assert.deepEqual(ui.errors, [], "no console errors (a CSP violation would be one)");

  it("shows the empty list and the in-memory store", async () => {
    await page.locator(".empty").filter({ hasText: "No rate limits yet." }).waitFor();
    const headline = page.getByTestId("store-headline");
    await headline.waitFor();
    assert.equal(await headline.innerText(), "Counters in memory (this gateway only)");
    assert.equal(await page.getByTestId("store-status").getByRole("alert").count(), 0, "no warning for memory");
    noErrors();
  });

  it("creates 2 per minute on rl.test: field errors land under Limit and under the key part, then it saves", async () => {
    await page.getByRole("link", { name: "New rate limit", exact: true }).click();
    await page.getByRole("heading", { name: "New rate limit" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("two a minute");
    await page.getByLabel("Hosts", { exact: true }).fill("rl.test");
    // A new rule counts per client address.
    assert.equal(await page.getByLabel("Key part 1", { exact: true }).inputValue(), "client_ip");
    await page.getByLabel("Algorithm", { exact: true }).selectOption({ label: "Token bucket: a bucket of `burst` requests refilled at the limit per window (GCRA)." });
    await page.getByLabel("Burst", { exact: true }).waitFor();
    await page.getByLabel("Limit", { exact: true }).fill("0");
    await page.getByLabel("Window", { exact: true }).fill("1");
    assert.equal(await page.getByLabel("Window unit").inputValue(), "min");
    await page.getByRole("button", { name: "Create rate limit" }).click();
    await fieldError("limit").waitFor();
    assert.match(await fieldError("limit").innerText(), /^must be 1–1000000000 requests per window$/);
    assert.equal(await page.getByLabel("Limit", { exact: true }).getAttribute("aria-invalid"), "true");

    // A header key part whose name is not a header name: the server names key_parts[1].
    await page.getByLabel("Limit", { exact: true }).fill("2");
    await page.getByRole("button", { name: "Add key part" }).click();
    await page.getByLabel("Key part 2", { exact: true }).selectOption({ label: "Request header…" });
    await page.getByLabel("Key part 2 header name").fill("x bad");
    await page.getByRole("button", { name: "Create rate limit" }).click();
    await fieldError("key_parts[1]").waitFor();
    assert.match(await fieldError("key_parts[1]").innerText(), /"x bad" is not a valid header name/);
    assert.equal(await fieldError("limit").count(), 0, "the limit's error is gone");

    await page.getByRole("button", { name: "Remove key part 2" }).click();
    await page.getByRole("button", { name: "Create rate limit" }).click();
    await page.waitForURL((u) => u.pathname === "/rate-limits");
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "two a minute", exact: true }) });
    await row.waitFor();
    assert.match(await row.innerText(), /0\s+two a minute\s+enabled\s+hosts rl\.test\s+client_ip\s+token bucket\s+2 \/ 1 min, burst 2\s+fail open/);
    const rules = (await warren.api.call("PolicyService/ListRateLimitRules", {}, warren.admin)).json.rules as { spec: Record<string, unknown> }[];
    assert.equal(rules.length, 1);
    assert.deepEqual([rules[0]!.spec.limit, rules[0]!.spec.windowMs, rules[0]!.spec.keyParts, rules[0]!.spec.algorithm], [2, 60000, ["client_ip"], "RATE_LIMIT_ALGORITHM_TOKEN_BUCKET"]);
    noErrors();
  });

  it("limits real traffic: 200, 200, then 429 with Retry-After; other hosts are not counted", async () => {
    const a = await send("rl.test", "/counted");
    const b = await send("rl.test", "/counted");
    const c = await send("rl.test", "/counted");
    assert.deepEqual([a.status, b.status, c.status], [200, 200, 429]);
    const retry = Number(c.headers["retry-after"]);
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After ${String(c.headers["retry-after"])}`);
    assert.equal((await send("files.test")).status, 200, "out of the rule's scope");
    assert.equal(origin.seen.filter((s) => s.url === "/counted").length, 2, "the limited request never reached the origin");

    // The request log names the rule that limited it.
    await pollUntil(
      "the limited request's event",
      async () => (await warren.api.call("ObservabilityService/ListRequestEvents", { host: "rl.test" }, warren.admin)).json.events as { limited?: boolean }[] | undefined,
      (ev) => (ev ?? []).some((e) => e.limited === true),
    );
    await page.goto("/requests?host=rl.test");
    const limitedRow = page.locator("tbody tr").filter({ has: page.getByText("limited", { exact: true }) });
    await limitedRow.waitFor();
    await limitedRow.getByRole("button", { name: "Details" }).click();
    const by = page.getByTestId("limited-by");
    await by.waitFor();
    assert.equal(await by.innerText(), "two a minute");

    await page.goto("/rate-limits");
    const headline = page.getByTestId("store-headline");
    await headline.waitFor();
    assert.equal(await headline.innerText(), "Counters in memory (this gateway only)");
    noErrors();
  });

  it("creates a shaper through the UI: no rate is refused under Download, then it is listed with its rates", async () => {
    await page.goto("/shapers");
    await page.locator(".empty").filter({ hasText: "No shapers yet." }).waitFor();
    await page.getByRole("link", { name: "New shaper", exact: true }).click();
    await page.getByRole("heading", { name: "New shaper" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("slow files");
    await page.getByLabel("Hosts", { exact: true }).fill("files.test");
    await page.getByRole("button", { name: "Create shaper" }).click();
    await fieldError("download_bytes_per_second").waitFor();
    assert.match(await fieldError("download_bytes_per_second").innerText(), /give an upload or a download rate/);

    // A fraction that is not whole bytes is refused by the form, under its field.
    await page.getByLabel("Download rate", { exact: true }).fill("0.3");
    await page.getByLabel("Download rate unit").selectOption("KiB");
    await page.getByRole("button", { name: "Create shaper" }).click();
    await fieldError("download_bytes_per_second").filter({ hasText: "is not a whole number of bytes" }).waitFor();

    await page.getByLabel("Download rate", { exact: true }).fill("1.5");
    await page.getByLabel("Download rate unit").selectOption("MiB");
    await page.getByLabel("Upload rate", { exact: true }).fill("256");
    await page.getByLabel("Upload rate unit").selectOption("KiB");
    await page.getByLabel("Budget", { exact: true }).selectOption({ label: "Per request: every request gets the full rates" });
    assert.equal(await page.getByRole("button", { name: "Add key part" }).count(), 0, "no key for a per-request budget");
    await page.getByRole("button", { name: "Create shaper" }).click();
    await page.waitForURL((u) => u.pathname === "/shapers");
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "slow files", exact: true }) });
    await row.waitFor();
    assert.match(await row.innerText(), /slow files\s+enabled\s+hosts files\.test\s+per request\s+256 KiB\/s\s+1\.5 MiB\/s\s+1 s of the rate/);
    const shapers = (await warren.api.call("PolicyService/ListShaperRules", {}, warren.admin)).json.rules as { spec: Record<string, unknown> }[];
    assert.deepEqual([shapers[0]!.spec.uploadBytesPerSecond, shapers[0]!.spec.downloadBytesPerSecond, shapers[0]!.spec.budget], [262144, 1572864, "SHAPER_BUDGET_PER_REQUEST"]);
    noErrors();
  });

  it("shows rate limits and shapers to a viewer read-only", async () => {
    const made = await warren.api.call("UserService/CreateUser", { username: "viewer", password: "a viewer passphrase", role: "ROLE_VIEWER" }, warren.admin);
    assert.equal(made.status, 200, made.text);
    const v = await openUi(browser, warren.w.baseUrl);
    try {
      v.page.setDefaultTimeout(10_000);
      await signIn(v.page, "viewer", "a viewer passphrase", "/rate-limits");
      await v.page.getByRole("link", { name: "two a minute", exact: true }).waitFor();
      await v.page.getByTestId("store-headline").waitFor();
      assert.equal(await v.page.getByRole("link", { name: "New rate limit" }).count(), 0);
      for (const name of [/Enable/, /Disable/, /Move/, /Delete/]) assert.equal(await v.page.getByRole("button", { name }).count(), 0, String(name));
      await v.page.getByRole("link", { name: "two a minute", exact: true }).click();
      await v.page.getByRole("heading", { name: "Rate limit two a minute" }).waitFor();
      for (const label of ["Limit", "Hosts", "Key part 1", "Algorithm"]) assert.ok(await v.page.getByLabel(label, { exact: true }).isDisabled(), label);
      for (const name of ["Save rate limit", "Delete rate limit", "Add key part", "Add response header"]) assert.equal(await v.page.getByRole("button", { name }).count(), 0, name);

      await v.page.goto("/shapers");
      await v.page.getByRole("link", { name: "slow files", exact: true }).waitFor();
      assert.equal(await v.page.getByRole("link", { name: "New shaper" }).count(), 0);
      for (const name of [/Enable/, /Disable/, /Move/, /Delete/]) assert.equal(await v.page.getByRole("button", { name }).count(), 0, String(name));
      await v.page.getByRole("link", { name: "slow files", exact: true }).click();
      await v.page.getByRole("heading", { name: "Shaper slow files" }).waitFor();
      assert.ok(await v.page.getByLabel("Download rate", { exact: true }).isDisabled());
      assert.equal(await v.page.getByLabel("Download rate", { exact: true }).inputValue(), "1.5");
      for (const name of ["Save shaper", "Delete shaper"]) assert.equal(await v.page.getByRole("button", { name }).count(), 0, name);

      await v.page.goto("/rate-limits/new");
      await v.page.getByText("Only administrators can create rate limits.").waitFor();
      assert.deepEqual(v.errors, []);
    } finally {
      await v.context.close();
    }
  });
});
