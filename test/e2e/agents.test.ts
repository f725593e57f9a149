// The agents pages in real Chromium against a real `warren serve` and a real `warren agent` started
// with the token copied from the page: create (token and snippets shown once, copy buttons), the
// list turning online without a reload, the detail page's status and report, editing labels,
// disable/enable, rotating the token, delete refused while online and done once it stopped.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Locator, Page } from "playwright-core";
import { withWarren } from "../helpers/with-warren.ts";
import { ADMIN_PASSWORD, isMsg } from "../helpers/warren-process.ts";
import { createAgent } from "../helpers/agent-process.ts";
import { chromiumAvailable, openUi, signIn, withBrowser } from "./browser.ts";

// Runs in the page (the test's tsconfig has no DOM types).
const clipboard = (page: Page) => page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());


/** Clicks a snippet's copy button and returns what landed on the clipboard and what the page shows. */
async function copySnippet(page: Page, label: string, scope: Page | Locator = page.getByTestId("token-reveal")): Promise<{ copied: string; shown: string }> {
  const box = scope.locator(`[data-snippet="${label}"]`);
  await box.getByRole("button", { name: `Copy ${label.toLowerCase()}` }).click();
  await box.getByRole("button", { name: "Copied", exact: true }).waitFor();
  return { copied: await clipboard(page), shown: await box.locator("pre").innerText() };
}

describe("agents in the browser", { skip: !chromiumAvailable() && "no chromium" }, () => {
  const warren = withWarren({ admin: true });
  const chromium = withBrowser();

  it("creates an agent, shows its token once, sees it online live, edits, disables, rotates and deletes it", async () => {
    const { w, api, admin } = warren;
    const ui = await openUi(chromium.browser, w.baseUrl);
    const { page } = ui;
    await signIn(page, "admin", ADMIN_PASSWORD, "/agents");
    await page.getByRole("heading", { name: "Agents" }).waitFor();
    await page.getByText("No agents yet. An agent is a small").waitFor();

    // Create, with two labels (one row added, one added and removed).
    await page.getByRole("button", { name: "Create agent" }).click();
    await page.getByLabel("Name", { exact: true }).fill("edge-1");
    await page.getByLabel("Label 1 key").fill("site");
    await page.getByLabel("Label 1 value").fill("lab");
    await page.getByRole("button", { name: "Add label" }).click();
    await page.getByLabel("Label 2 key").fill("warren.io/mine");
    await page.getByRole("button", { name: "Add label" }).click();
    await page.getByLabel("Label 3 key").fill("gone");
    await page.getByRole("button", { name: "Remove label 3" }).click();
    assert.equal(await page.getByLabel("Label 3 key").count(), 0, "the removed row is gone");
    await page.getByRole("button", { name: "Create agent" }).click();
    // The server's label error lands under that label's key.
    const keyField = page.locator(`[data-field='labels["warren.io/mine"]']`);
    await keyField.getByRole("alert").filter({ hasText: "reserved for Warren" }).waitFor();
    await page.getByLabel("Label 2 key").fill("tier");
    await page.getByLabel("Label 2 value").fill("web");
    await page.getByRole("button", { name: "Create agent" }).click();

    const reveal = page.getByTestId("token-reveal");
    await reveal.getByRole("heading", { name: "Agent edge-1 created" }).waitFor();
    assert.match(await reveal.getByRole("status").innerText(), /not shown again/);
    // The fixture sets no MANAGEMENT_PUBLIC_URL: the page says the snippets only work on this host.
    assert.match(await reveal.getByTestId("public-url-warning").innerText(), /MANAGEMENT_PUBLIC_URL is not set/);
    const tok = await copySnippet(page, "Agent token");
    assert.match(tok.shown, /^agt_[A-Za-z0-9]+\.\S{20,}$/, "the token is shown");
    assert.equal(tok.copied, tok.shown, "the copy button copies the token");
    const token = tok.shown;
    const agentId = token.split(".")[0]!;
    const cmd = await copySnippet(page, "Command line");
    assert.equal(cmd.copied, cmd.shown);
    assert.ok(cmd.copied.includes(token) && cmd.copied.includes(agentId) && cmd.copied.endsWith(" node warren-agent.cjs"), cmd.copied);
    const env = await copySnippet(page, "Environment file");
    assert.ok(env.copied.includes(`AGENT_TOKEN=${token}`), env.copied);
    const unit = await copySnippet(page, "systemd unit");
    assert.match(unit.copied, /\[Service\][\s\S]*EnvironmentFile=/);
    const compose = await copySnippet(page, "Compose service");
    assert.ok(compose.copied.includes(token), compose.copied);

    // The list underneath already shows the agent, offline; "Done" removes the token for good.
    const row = page.locator('tr[data-agent="edge-1"]');
    await row.getByText("offline", { exact: true }).waitFor();
    assert.deepEqual(await row.locator(".chips li").allInnerTexts(), ["site=lab", "tier=web"]);
    await reveal.getByRole("button", { name: "Done, I have copied it" }).click();
    await reveal.waitFor({ state: "detached" });
    assert.equal(await page.getByText(token).count(), 0, "the token is not on the page any more");

    // A real agent with the token from the page: the row turns online without a reload.
    await page.evaluate(() => ((globalThis as unknown as { marker: string }).marker = "same page"));
    const proc = warren.agent({ id: agentId, token });
    await w.waitForLog(isMsg("agent online", (l) => l.agentId === agentId));
    await row.getByTestId("agent-status").getByText("online", { exact: true }).waitFor();
    assert.equal(await page.evaluate(() => (globalThis as unknown as { marker?: string }).marker), "same page", "no reload");
    assert.equal(await row.locator("td").nth(6).innerText(), "127.0.0.1", "remote address");
    assert.notEqual(await row.locator("td").nth(5).innerText(), "—", "hostname");
    assert.notEqual(await row.locator("td").nth(4).innerText(), "—", "version");
    assert.match(await row.locator("td").nth(8).innerText(), /\d+(\.\d)? (B|KiB) \/ \d+(\.\d)? (B|KiB)/, "bytes in / out");

    // Detail: status, the agent's own report (every 5 s), the install snippet without token.
    await row.getByRole("link", { name: "edge-1" }).click();
    await page.getByRole("heading", { name: "Agent edge-1" }).waitFor();
    await page.getByTestId("agent-facts").getByText("online", { exact: true }).waitFor();
    const reported = page.getByTestId("reported-stats");
    await reported.waitFor({ timeout: 20_000 });
    assert.match(await reported.innerText(), /Streams total\s+\d+[\s\S]*Dial failures\s+\d+[\s\S]*Bytes to origins[\s\S]*Reported/);
    const ref = await copySnippet(page, "Command line", page);
    assert.equal(ref.copied, ref.shown);
    assert.ok(ref.shown.includes("<paste the token") && !ref.shown.includes(token), "the reference snippet has no token");
    assert.equal(await page.getByText(token.split(".")[1]!).count(), 0);
    await page.getByText("warren.io/agent-id=" + agentId).waitFor();

    // Delete while online: the page says why, and the server's refusal is shown.
    await page.getByTestId("delete-needs-offline").waitFor();
    await page.getByRole("button", { name: "Delete agent" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    await page.getByRole("alert").filter({ hasText: "the agent is connected; disable it first" }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/agents/${agentId}`);

    // Edit name and labels (replace): change one, remove one, add one.
    await page.getByLabel("Name", { exact: true }).fill("edge-one");
    await page.getByLabel("Label 1 value").fill("lab2");
    await page.getByRole("button", { name: "Remove label 2" }).click();
    await page.getByRole("button", { name: "Add label" }).click();
    await page.getByLabel("Label 2 key").fill("zone");
    await page.getByLabel("Label 2 value").fill("eu");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    await page.getByRole("heading", { name: "Agent edge-one" }).waitFor();
    const got = await api.call("AgentService/GetAgent", { id: agentId }, admin);
    assert.deepEqual((got.json.agent as { labels: Record<string, string> }).labels, { site: "lab2", zone: "eu", "warren.io/agent-id": agentId });

    // Disable: the tunnel is closed and the agent refused; enable: it comes back.
    await page.getByRole("button", { name: "Disable", exact: true }).click();
    await page.getByTestId("agent-facts").getByText("disabled", { exact: true }).waitFor();
    await page.getByTestId("agent-status").getByText("offline", { exact: true }).waitFor();
    await proc.waitForLog(isMsg("tunnel refused", (l) => l.status === 401));
    await page.getByRole("button", { name: "Enable", exact: true }).click();
    await page.getByTestId("agent-facts").getByText("enabled", { exact: true }).waitFor();
    await page.getByTestId("agent-status").getByText("online", { exact: true }).waitFor({ timeout: 30_000 });

    // Rotate: a new token, shown once, and the old one stops working.
    await page.getByRole("button", { name: "Rotate token" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Rotate token" }).click();
    const rotated = page.getByTestId("token-reveal");
    await rotated.getByRole("heading", { name: "New token" }).waitFor();
    const next = await copySnippet(page, "Agent token");
    assert.equal(next.copied, next.shown);
    assert.notEqual(next.shown, token, "a new token");
    assert.ok(next.shown.startsWith(`${agentId}.`));
    assert.ok((await copySnippet(page, "Environment file")).copied.includes(`AGENT_TOKEN=${next.shown}`));
    await proc.waitForLog(isMsg("tunnel refused", (l) => l.status === 401));
    await page.getByTestId("agent-status").getByText("offline", { exact: true }).waitFor();
    await rotated.getByRole("button", { name: "Done, I have copied it" }).click();
    await proc.kill();

    // The new token works; once that process stops, delete goes through.
    const proc2 = warren.agent({ id: agentId, token: next.shown });
    await page.getByTestId("agent-status").getByText("online", { exact: true }).waitFor({ timeout: 30_000 });
    await proc2.stop();
    await page.getByTestId("agent-status").getByText("offline", { exact: true }).waitFor();
    const mtls = page.getByTestId("agent-facts").locator("dd").nth(2);
    await page.getByLabel("Require mTLS for the tunnel").check();
    await mtls.getByText("yes", { exact: true }).waitFor();
    assert.equal(((await api.call("AgentService/GetAgent", { id: agentId }, admin)).json.agent as { requireMtls?: boolean }).requireMtls, true);
    await page.getByLabel("Require mTLS for the tunnel").uncheck();
    await mtls.getByText("no", { exact: true }).waitFor();
    await page.getByTestId("delete-needs-offline").waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Delete agent" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    await page.waitForURL((u) => u.pathname === "/agents");
    await page.getByText("No agents yet.").waitFor();
    assert.equal((await api.call("AgentService/GetAgent", { id: agentId }, admin)).status, 404);

    assert.deepEqual(ui.errors, [], "no console errors (a CSP violation would be one)");
    await ui.context.close();
  });

  it("shows a viewer the agents read-only, without any write control", async () => {
    const { w, api, admin } = warren;
    const a = await createAgent(api, admin, { name: "seen", labels: { site: "x" } });
    const r = await api.call("UserService/CreateUser", { username: "watcher", password: "a viewer's passphrase", role: "ROLE_VIEWER" }, admin);
    assert.equal(r.status, 200, r.text);
    const ui = await openUi(chromium.browser, w.baseUrl);
    const { page } = ui;
    await signIn(page, "watcher", "a viewer's passphrase", "/agents");
    const row = page.locator('tr[data-agent="seen"]');
    await row.getByTestId("agent-status").getByText("offline", { exact: true }).waitFor();
    assert.deepEqual(await row.locator(".chips li").allInnerTexts(), ["site=x"]);
    assert.equal(await page.getByRole("button", { name: "Create agent" }).count(), 0);
    await row.getByRole("link", { name: "seen" }).click();
    await page.getByRole("heading", { name: "Agent seen" }).waitFor();
    await page.locator('[data-snippet="Command line"] pre').waitFor();
    await page.getByText(`warren.io/agent-id=${a.id}`).waitFor();
    assert.deepEqual(await page.getByRole("button").allInnerTexts(), ["Log out", "Copy command line", "Copy environment file", "Copy systemd unit", "Copy compose service"], "only copy buttons besides log out");
    assert.equal(await page.getByRole("textbox").count(), 0, "no inputs");
    assert.equal(await page.getByRole("checkbox").count(), 0, "no toggles");
    assert.deepEqual(ui.errors, []);
    await ui.context.close();
  });
});
