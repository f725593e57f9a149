// The headline flow, in real Chromium against a real `warren serve` with no admin yet: the setup URL
// creates the first admin; an agent is created on the Agents page and its command line, copied from
// the page, is run by `sh` in an empty folder (it downloads the self-contained agent from management
// with Node alone, checks its SHA-256 and runs it); a route through that agent is made in the Routes
// editor; a real request through the public listener reaches the origin; the Requests page and the
// Overview show it. Every step is screenshotted: into a temp folder, or into docs/screenshots/ (the
// README's pictures) with UPDATE_SCREENSHOTS=1, so a plain test run leaves the checkout clean.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Browser, Page } from "playwright-core";
import { request } from "undici";
import { withWarren } from "../helpers/with-warren.ts";
import { ROOT, cookieHeader, publicListener } from "../helpers/warren-process.ts";
import { freePort } from "../helpers/agent-process.ts";
import { pollUntil } from "../helpers/wait.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { chromiumAvailable, launchBrowser, openUi, type UiSession } from "./browser.ts";

const PASSWORD = "a long enough passphrase";
const SHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? join(ROOT, "docs", "screenshots") : mkdtempSync(join(tmpdir(), "warren-shots-"));

// Runs in the page (the test's tsconfig has no DOM types).
const clipboard = (page: Page) => page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, name), fullPage: false });

describe("first service, end to end in the browser", { skip: !chromiumAvailable() && "no chromium" }, () => {
  let mgmtPort = 0;
  const warren = withWarren({
    env: async () => {
      mgmtPort = await freePort();
      return { MANAGEMENT_PORT: String(mgmtPort), MANAGEMENT_PUBLIC_URL: `https://localhost:${mgmtPort}` };
    },
  });
  let browser: Browser;
  let origin: Origin;
  let agentDir: string;
  let agentProc: ChildProcess | undefined;
  const agentOutput: string[] = [];
  const sessions: UiSession[] = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchBrowser();
    origin = await startOrigin("first-service");
    agentDir = mkdtempSync(join(tmpdir(), "warren-first-agent-"));
  });
  after(async () => {
    if (process.env.UPDATE_SCREENSHOTS !== "1") rmSync(SHOTS, { recursive: true, force: true });
    if (agentProc?.pid !== undefined && agentProc.exitCode === null && agentProc.signalCode === null) {
      const exited = new Promise((r) => agentProc!.once("exit", r));
      try {
        process.kill(-agentProc.pid, "SIGKILL"); // sh and the node agent it started
      } catch {
        agentProc.kill("SIGKILL");
      }
      await exited;
    }
    for (const s of sessions) await s.context.close();
    await browser?.close();
    await origin?.close();
    if (agentDir) rmSync(agentDir, { recursive: true, force: true });
  });

  it("sets up the admin, installs an agent from its snippet, routes app.test through it and sees the request", { timeout: 180_000 }, async () => {
    const { w } = warren;
    const mgmtOrigin = new URL(w.baseUrl).origin;
    assert.equal(new URL(w.baseUrl).port, String(mgmtPort), "management listens on the chosen port");
    const ui = await openUi(browser, w.baseUrl);
    sessions.push(ui);
    const { page } = ui;
    page.setDefaultTimeout(15_000);

    // First admin, from the setup URL.
    await page.goto(`/?setup_token=${w.setupToken()}`);
    await page.getByRole("heading", { name: "Create the first administrator" }).waitFor();
    await page.getByLabel("Password (at least 12 characters)").fill(PASSWORD);
    await page.getByLabel("Password again").fill(PASSWORD);
    await shot(page, "setup.png");
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await page.getByTestId("agents-online").getByText("0 / 0").waitFor();
    await page.getByTestId("requests-hour").getByText("0", { exact: true }).waitFor();
    await shot(page, "overview.png");

    // First render of a signed-in page load, to the Overview heading.
    const t0 = performance.now();
    await page.goto("/");
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    console.log(`first render (goto / → Overview heading): ${(performance.now() - t0).toFixed(0)} ms`);

    // An agent, and its command line from the page.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Agents" }).click();
    await page.getByRole("heading", { name: "Agents", exact: true }).waitFor();
    await page.getByRole("button", { name: "Create agent" }).click();
    await page.getByLabel("Name", { exact: true }).fill("edge");
    await page.getByRole("button", { name: "Create agent" }).click();
    const reveal = page.getByTestId("token-reveal");
    await reveal.getByRole("heading", { name: "Agent edge created" }).waitFor();
    const box = reveal.locator('[data-snippet="Command line"]');
    await box.getByRole("button", { name: "Copy command line" }).click();
    await box.getByRole("button", { name: "Copied", exact: true }).waitFor();
    const cmd = await clipboard(page);
    assert.equal(cmd, await box.locator("pre").innerText(), "the copy button copies what is shown");
    assert.ok(cmd.includes(`MANAGEMENT_URL=https://localhost:${mgmtPort}`), cmd);
    const agentId = /AGENT_ID=(\S+)/.exec(cmd)?.[1];
    assert.ok(agentId, cmd);
    await box.getByRole("button", { name: "Copy command line" }).waitFor(); // "Copied" reverts: a stable picture
    await shot(page, "agent-created.png");
    await reveal.getByRole("button", { name: "Done, I have copied it" }).click();
    await reveal.waitFor({ state: "detached" });

    // Run it as a user would paste it: sh, an empty folder, nothing from this checkout.
    assert.deepEqual(readdirSync(agentDir), []);
    agentProc = spawn("sh", ["-c", cmd], { cwd: agentDir, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    agentProc.stdout!.on("data", (d: Buffer) => agentOutput.push(d.toString()));
    agentProc.stderr!.on("data", (d: Buffer) => agentOutput.push(d.toString()));
    const row = page.locator('tr[data-agent="edge"]');
    try {
      await row.getByTestId("agent-status").getByText("online", { exact: true }).waitFor({ timeout: 60_000 });
    } catch (e) {
      throw new Error(`agent did not come online (exit ${agentProc.exitCode}):\n${agentOutput.join("")}`, { cause: e });
    }
    assert.ok(readdirSync(agentDir).includes("warren-agent.cjs"), "the agent was downloaded into the folder");
    await shot(page, "agents.png");

    // A route through the agent, picked by its id label.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Routes" }).click();
    await page.getByRole("link", { name: "New route", exact: true }).click();
    await page.getByRole("heading", { name: "New route" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("app");
    await page.getByLabel("Hosts", { exact: true }).fill("app.test");
    const target = page.getByRole("group", { name: "Target 1", exact: true });
    await target.getByLabel("Kind", { exact: true }).selectOption({ label: "Through an agent" });
    await target.getByLabel("URL", { exact: true }).fill(origin.url);
    await target.getByLabel("Add a label agents have", { exact: true }).selectOption({ label: `warren.io/agent-id=${agentId} (edge)` });
    assert.equal(await target.getByLabel("Label 1 key", { exact: true }).inputValue(), "warren.io/agent-id");
    assert.equal(await target.getByLabel("Label 1 value", { exact: true }).inputValue(), agentId);
    await shot(page, "route-editor.png");
    await page.getByRole("button", { name: "Create route" }).click();
    await page.waitForURL((u) => u.pathname === "/routes");
    await page.getByRole("link", { name: "app", exact: true }).waitFor();

    // A real request through the public listener.
    const session = (await ui.context.cookies()).find((c) => c.name === "warren_session");
    assert.ok(session, "signed in with a session cookie");
    const { port } = await publicListener(warren.api, cookieHeader(session.value));
    const res = await request(`http://127.0.0.1:${port}/hello?from=test`, { headers: { host: "app.test" } });
    assert.equal(res.statusCode, 200);
    assert.equal(((await res.body.json()) as { origin: string }).origin, "first-service");
    assert.equal(origin.seen.at(-1)?.url, "/hello?from=test");

    // The Requests page shows it. Events are written in batches, so wait until the API has it, then
    // the page's Refresh must show it.
    await pollUntil(
      "the request event to be written",
      () => warren.api.call("ObservabilityService/ListRequestEvents", { host: "app.test" }, cookieHeader(session.value)),
      (r) => r.status === 200 && ((r.json.events as unknown[] | undefined)?.length ?? 0) > 0,
    );
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Requests" }).click();
    await page.getByRole("heading", { name: "Requests" }).waitFor();
    await page.getByRole("button", { name: "Refresh" }).click();
    const event = page.locator("tr[data-event-id]").filter({ hasText: "app.test" });
    await event.first().waitFor();
    assert.equal(await event.count(), 1);
    assert.equal(await event.getByTestId("status").innerText(), "200");
    const text = await event.innerText();
    assert.match(text, /GET/);
    assert.match(text, /\/hello\?from=test|\/hello/);
    assert.match(text, /\bapp\b/, "the route's name");
    assert.match(text, /via edge/, "the agent's name");
    await event.getByRole("button", { name: "Details" }).click();
    await page.locator("tr.req-details").getByText("Request id").waitFor();
    await shot(page, "requests.png");

    // A filtered view is a link: status 5xx shows none, and survives a reload.
    await page.getByLabel("Status", { exact: true }).selectOption("5xx");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL((u) => u.search === "?status=5xx");
    await page.reload();
    await page.getByText("No requests match these filters.").waitFor();
    assert.equal(await page.getByLabel("Status", { exact: true }).inputValue(), "5xx");
    // The server's field error lands under its filter.
    await page.getByLabel("Since", { exact: true }).fill("2026-01-02T00:00");
    await page.getByLabel("Until", { exact: true }).fill("2026-01-01T00:00");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator('[data-field="until"]').getByRole("alert").filter({ hasText: "must be after since" }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get("until"), "2026-01-01T00:00");
    await page.getByRole("button", { name: "Clear" }).click();
    await page.waitForURL((u) => u.search === "");
    await event.first().waitFor();

    // The Overview counts it; dark and phone views with the same session.
    await page.goto("/");
    await page.getByTestId("requests-hour").getByText("1", { exact: true }).waitFor();
    await page.getByTestId("agents-online").getByText("1 / 1").waitFor();
    const cookies = await ui.context.cookies();
    for (const [name, opts] of [
      ["overview-dark.png", { colorScheme: "dark" as const }],
      ["overview-phone.png", { viewport: { width: 390, height: 844 } }],
    ] as const) {
      const s = await openUi(browser, w.baseUrl, opts);
      sessions.push(s);
      await s.context.addCookies(cookies);
      await s.page.goto("/");
      await s.page.getByRole("heading", { name: "Overview" }).waitFor();
      await s.page.getByTestId("requests-hour").getByText("1", { exact: true }).waitFor();
      await shot(s.page, name);
    }

    for (const s of sessions) {
      assert.deepEqual(s.errors, [], "no console errors (a CSP violation would be one)");
      assert.deepEqual(s.requests.filter((u) => !u.startsWith(mgmtOrigin) && !u.startsWith("data:")), [], "the UI talks to management only");
    }
  });
});
