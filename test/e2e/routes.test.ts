// Routes in the browser: made and changed through the UI, proved by real requests through Warren's
// public listener to real origins (one behind a real agent, whose selector is picked from its labels).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { request } from "undici";
import { withWarren } from "../helpers/with-warren.ts";
import { ADMIN_PASSWORD, isMsg, publicListener } from "../helpers/warren-process.ts";
import { createAgent } from "../helpers/agent-process.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { chromiumAvailable, launchBrowser, openUi, signIn, type UiSession } from "./browser.ts";

describe("routes in the browser", { skip: !chromiumAvailable() && "no chromium" }, () => {
  const warren = withWarren({ admin: true });
  let browser: Browser;
  let ui: UiSession;
  let page: Page;
  let port: number;
  let origin: Origin;
  let behindAgent: Origin;

  before(async () => {
    browser = await launchBrowser();
    ({ port } = await publicListener(warren.api, warren.admin));
    origin = await startOrigin("ui");
    behindAgent = await startOrigin("behind-agent");
    ui = await openUi(browser, warren.w.baseUrl);
    page = ui.page;
    page.setDefaultTimeout(10_000);
    await signIn(page, "admin", ADMIN_PASSWORD, "/routes");
  });
  after(async () => {
    await ui?.context.close();
    await browser?.close();
    await origin?.close();
    await behindAgent?.close();
  });

  const get = (host: string, path: string) => request(`http://127.0.0.1:${port}${path}`, { headers: { host } });
  const target = (n: number) => page.getByRole("group", { name: `Target ${n}`, exact: true });
  const newRoute = async () => {
    await page.goto("/routes");
    await page.getByRole("link", { name: "New route", exact: true }).click();
    await page.getByRole("heading", { name: "New route" }).waitFor();
  };
  const openRoute = async (name: string) => {
    await page.goto("/routes");
    await page.getByRole("link", { name, exact: true }).click();
    await page.getByRole("heading", { name: `Route ${name}` }).waitFor();
  };
  // browser.ts leaves out Chromium's line for each 4xx API answer; anything else fails the test.
  const noErrors = () => assert.deepEqual(ui.errors, [], "no console errors (a CSP violation would be one)");

  it("creates a forward route to a direct target; a bad URL is shown under that URL; the target is enabled by default", async () => {
    await newRoute();
    await page.getByLabel("Name", { exact: true }).fill("ui-forward");
    await page.getByLabel("Hosts", { exact: true }).fill("ui.test");
    await page.getByLabel("Path prefix", { exact: true }).fill("/app");
    await target(1).getByLabel("URL", { exact: true }).fill("ftp://nowhere");
    assert.equal(await target(1).getByLabel("Enabled", { exact: true }).isChecked(), true, "a new target is enabled");
    await page.getByRole("button", { name: "Create route" }).click();
    const urlError = page.locator('[data-field="targets[0].url"] .field-error');
    await urlError.waitFor();
    assert.equal(await urlError.innerText(), "must be http:// or https://");
    assert.equal(await target(1).getByLabel("URL", { exact: true }).getAttribute("aria-invalid"), "true");

    await target(1).getByLabel("URL", { exact: true }).fill(origin.url);
    await page.getByRole("button", { name: "Create route" }).click();
    await page.waitForURL((u) => u.pathname === "/routes");
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "ui-forward", exact: true }) });
    await row.waitFor();
    assert.match(await row.innerText(), /ui\.test\s+\/app\s+any\s+0\s+forward\s+1 target \(1 direct\)/);

    const r = await get("ui.test", "/app/hello?x=1");
    assert.equal(r.statusCode, 200);
    const seen = (await r.body.json()) as { origin: string; url: string };
    assert.equal(seen.origin, "ui");
    assert.equal(seen.url, "/app/hello?x=1");
    const other = await get("ui.test", "/elsewhere");
    await other.body.dump();
    assert.equal(origin.seen.length, 1, "only the prefix reaches the origin");
    noErrors();
  });

  it("edits the route: an added response header takes effect, and the target keeps its id", async () => {
    await openRoute("ui-forward");
    const cfg = await warren.api.call("ProxyService/GetProxyConfig", {}, warren.admin);
    const before = (cfg.json.routes as { spec: { name: string; targets: { id: string }[] } }[]).find((r) => r.spec.name === "ui-forward")!;
    assert.equal(await target(1).getByLabel("URL", { exact: true }).inputValue(), origin.url);
    await page.getByText("Options: headers, timeouts, limits, HTTPS").click();
    await page.getByRole("button", { name: "Add response header" }).click();
    await page.getByLabel("Response header 1 name", { exact: true }).fill("X-From-Ui");
    await page.getByLabel("Response header 1 value", { exact: true }).fill("yes");
    await page.getByRole("button", { name: "Save route" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();

    const r = await get("ui.test", "/app/again");
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers["x-from-ui"], "yes");
    await r.body.dump();
    const cfg2 = await warren.api.call("ProxyService/GetProxyConfig", {}, warren.admin);
    const afterSave = (cfg2.json.routes as { spec: { name: string; targets: { id: string; enabled: boolean }[] } }[]).find((r2) => r2.spec.name === "ui-forward")!;
    assert.equal(afterSave.spec.targets[0]!.id, before.spec.targets[0]!.id);
    assert.equal(afterSave.spec.targets[0]!.enabled, true);
    noErrors();
  });

  it("keeps a sensitive target header it never shows again", async () => {
    await openRoute("ui-forward");
    await page.getByText("Target 1: weight, priority group, TLS, headers").click();
    await target(1).getByRole("button", { name: "Add header" }).click();
    await target(1).getByLabel("Header 1 name", { exact: true }).fill("Authorization");
    await target(1).getByLabel("Header 1 sensitive", { exact: true }).check();
    await target(1).getByLabel("Header 1 value", { exact: true }).fill("Bearer s3cret");
    await page.getByRole("button", { name: "Save route" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const value = target(1).getByLabel("Header 1 value", { exact: true });
    assert.equal(await value.inputValue(), "", "the secret is not sent back to the page");
    assert.equal(await value.getAttribute("type"), "password");
    await target(1).getByText("stored", { exact: true }).waitFor();

    // Saved again untouched (a page reload, then Save): the stored value is kept.
    await openRoute("ui-forward");
    await page.getByRole("button", { name: "Save route" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const r = await get("ui.test", "/app/secret");
    assert.equal(r.statusCode, 200);
    assert.equal(((await r.body.json()) as { headers: Record<string, string> }).headers.authorization, "Bearer s3cret");
    noErrors();
  });

  it("opens the closed section a server error is in, and shows it under its field", async () => {
    await openRoute("ui-forward");
    const lb = page.locator("details").filter({ has: page.locator("summary", { hasText: "Load balancing" }) });
    await page.getByText("Load balancing", { exact: true }).click();
    await lb.getByLabel("Policy", { exact: true }).selectOption({ label: "Consistent hash" });
    await page.getByText("Load balancing", { exact: true }).click();
    assert.equal(await lb.getAttribute("open"), null, "closed again");
    await page.getByRole("button", { name: "Save route" }).click();
    const err = page.locator('[data-field="load_balancing.hash_on"] .field-error');
    await err.waitFor();
    assert.equal(await err.innerText(), "is required for consistent hashing");
    assert.equal(await lb.getAttribute("open"), "", "the section holding the error opened");
    assert.ok(await err.isVisible());
    noErrors();
  });

  it("creates a redirect route and a static route", async () => {
    await newRoute();
    await page.getByLabel("Name", { exact: true }).fill("ui-redirect");
    await page.getByLabel("Hosts", { exact: true }).fill("old.test");
    await page.getByLabel("Action", { exact: true }).selectOption({ label: "Redirect" });
    await page.getByLabel("Redirect status", { exact: true }).selectOption("301");
    await page.getByLabel("Location", { exact: true }).fill("/new");
    await page.getByRole("button", { name: "Create route" }).click();
    await page.waitForURL((u) => u.pathname === "/routes");
    await page.getByRole("link", { name: "ui-redirect", exact: true }).waitFor();
    const r = await get("old.test", "/x?q=1");
    await r.body.dump();
    assert.equal(r.statusCode, 301);
    assert.equal(r.headers.location, "/new?q=1");

    await newRoute();
    await page.getByLabel("Name", { exact: true }).fill("ui-static");
    await page.getByLabel("Hosts", { exact: true }).fill("static.test");
    await page.getByLabel("Action", { exact: true }).selectOption({ label: "Static response" });
    await page.getByLabel("Response status", { exact: true }).fill("418");
    await page.getByRole("button", { name: "Add static header" }).click();
    await page.getByLabel("Static header 1 name", { exact: true }).fill("content-type");
    await page.getByLabel("Static header 1 value", { exact: true }).fill("text/plain");
    await page.getByLabel("Body", { exact: true }).fill("I am a teapot");
    await page.getByRole("button", { name: "Create route" }).click();
    await page.waitForURL((u) => u.pathname === "/routes");
    await page.getByRole("link", { name: "ui-static", exact: true }).waitFor();
    const s = await get("static.test", "/");
    assert.equal(s.statusCode, 418);
    assert.equal(s.headers["content-type"], "text/plain");
    assert.equal(await s.body.text(), "I am a teapot");
    noErrors();
  });

  it("forwards through a running agent picked by one of its labels", async () => {
    const a = await createAgent(warren.api, warren.admin, { name: "ui-agent", labels: { site: "lab" } });
    warren.agent(a);
    await warren.w.waitForLog(isMsg("agent online", (l) => l.agentId === a.id));

    await newRoute();
    await page.getByLabel("Name", { exact: true }).fill("ui-agent");
    await page.getByLabel("Hosts", { exact: true }).fill("agent.test");
    await target(1).getByLabel("Kind", { exact: true }).selectOption({ label: "Through an agent" });
    await target(1).getByLabel("URL", { exact: true }).fill(behindAgent.url);
    const pick = target(1).getByLabel("Add a label agents have", { exact: true });
    assert.ok((await pick.locator("option").allInnerTexts()).includes(`warren.io/agent-id=${a.id} (ui-agent)`), "the agent's own id label is offered");
    await pick.selectOption({ label: "site=lab" });
    assert.equal(await target(1).getByLabel("Label 1 key", { exact: true }).inputValue(), "site");
    assert.equal(await target(1).getByLabel("Label 1 value", { exact: true }).inputValue(), "lab");
    await page.getByRole("button", { name: "Create route" }).click();
    await page.waitForURL((u) => u.pathname === "/routes");
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "ui-agent", exact: true }) });
    assert.match(await row.innerText(), /1 target \(1 agent\)/);

    const r = await get("agent.test", "/through");
    assert.equal(r.statusCode, 200);
    assert.equal(((await r.body.json()) as { origin: string }).origin, "behind-agent");
    noErrors();
  });

  it("refuses to save a route whose targets are all disabled, saying so above the targets", async () => {
    await openRoute("ui-forward");
    await target(1).getByLabel("Enabled", { exact: true }).uncheck();
    await page.getByRole("button", { name: "Save route" }).click();
    const alert = page.getByRole("group", { name: "Targets", exact: true }).getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.innerText(), /^every target is disabled/);
    const r = await get("ui.test", "/app/enabled");
    assert.equal(r.statusCode, 200, "nothing was saved");
    await r.body.dump();
    noErrors();
  });

  it("shows routes to a viewer read-only: no new, save or delete, inputs disabled", async () => {
    const made = await warren.api.call("UserService/CreateUser", { username: "viewer", password: "a viewer passphrase", role: "ROLE_VIEWER" }, warren.admin);
    assert.equal(made.status, 200, made.text);
    const v = await openUi(browser, warren.w.baseUrl);
    try {
      v.page.setDefaultTimeout(10_000);
      await signIn(v.page, "viewer", "a viewer passphrase", "/routes");
      await v.page.getByRole("link", { name: "ui-forward", exact: true }).waitFor();
      assert.equal(await v.page.getByRole("link", { name: /New route/ }).count(), 0);
      await v.page.getByRole("link", { name: "ui-forward", exact: true }).click();
      await v.page.getByRole("heading", { name: "Route ui-forward" }).waitFor();
      const url = v.page.getByRole("group", { name: "Target 1", exact: true }).getByLabel("URL", { exact: true });
      assert.equal(await url.inputValue(), origin.url);
      assert.ok(await url.isDisabled());
      assert.ok(await v.page.getByLabel("Hosts", { exact: true }).isDisabled());
      for (const name of ["Save route", "Delete route", "Add target"]) assert.equal(await v.page.getByRole("button", { name }).count(), 0, name);
      await v.page.goto("/routes/new");
      await v.page.getByText("Only administrators can create routes.").waitFor();
      assert.deepEqual(v.errors, []);
    } finally {
      await v.context.close();
    }
  });

  it("deletes a route after confirming", async () => {
    await openRoute("ui-forward");
    await page.getByRole("button", { name: "Delete route" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /Delete route ui-forward\?/);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    const seenBefore = origin.seen.length;
    const still = await get("ui.test", "/app/still");
    await still.body.dump();
    assert.equal(still.statusCode, 200);
    assert.equal(origin.seen.length, seenBefore + 1, "cancel kept the route");

    await page.getByRole("button", { name: "Delete route" }).click();
    await dialog.getByRole("button", { name: "Delete route" }).click();
    await page.waitForURL((u) => u.pathname === "/routes");
    await page.getByRole("link", { name: "ui-redirect", exact: true }).waitFor();
    assert.equal(await page.getByRole("link", { name: "ui-forward", exact: true }).count(), 0);
    const r = await get("ui.test", "/app/gone");
    await r.body.dump();
    assert.equal(origin.seen.length, seenBefore + 1, "the deleted route no longer reaches the origin");
    noErrors();
  });
});
