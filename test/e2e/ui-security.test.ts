// The management UI's security properties against a real `warren serve`: the headers on index.html
// and the hashed assets (strict CSP, no caching of the shell, immutable assets), no inline script or
// style in the shell; what a viewer sees (no Users, no write controls, but their own password); a
// session revoked server-side sending the UI to login and back; a deep link that reloads; and
// MANAGEMENT_UI_DISABLED turning the UI off while /healthz and the API keep working.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { withWarren } from "../helpers/with-warren.ts";
import { ADMIN_PASSWORD, cookieHeader, login, type RawResponse } from "../helpers/warren-process.ts";
import { createAgent } from "../helpers/agent-process.ts";
import { chromiumAvailable, openUi, signIn, withBrowser } from "./browser.ts";

const header = (r: RawResponse, name: string): string => String(r.headers[name] ?? "");

function assertShellHeaders(r: RawResponse, what: string): void {
  assert.equal(r.status, 200, `${what}: ${r.text}`);
  assert.match(header(r, "content-type"), /^text\/html/, what);
  assert.equal(header(r, "cache-control"), "no-cache", `${what}: the shell is revalidated every time`);
  const csp = header(r, "content-security-policy");
  assert.ok(csp.includes("default-src 'self'"), `${what}: ${csp}`);
  assert.ok(csp.includes("frame-ancestors 'none'"), `${what}: ${csp}`);
  assert.ok(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval"), `${what}: ${csp}`);
  assert.equal(header(r, "x-content-type-options"), "nosniff", what);
  assert.equal(header(r, "referrer-policy"), "no-referrer", what);
  assert.match(r.text, /<div id="app"><\/div>/, `${what}: index.html`);
}

/** The buttons on the page, by their accessible text (the header's "Log out" included). */
const buttons = (page: Page) => page.getByRole("button").allInnerTexts();

describe("management UI security", { skip: !chromiumAvailable() && "no chromium" }, () => {
  const warren = withWarren({ admin: true });
  const chromium = withBrowser();

  it("answers the shell and its assets with strict headers, and the shell has nothing inline", async () => {
    const { api } = warren;
    const index = await api.raw("/", { method: "GET" });
    assertShellHeaders(index, "/");
    assertShellHeaders(await api.raw("/routes/abc", { method: "GET" }), "deep link /routes/abc");
    assert.equal((await api.raw("/routes/abc", { method: "GET" })).text, index.text, "a deep link answers the same index.html");

    // Every <script> loads a file; no inline style attribute or <style> element.
    const scripts = [...index.text.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0]);
    assert.ok(scripts.length > 0, "the shell loads a script");
    for (const s of scripts) assert.match(s, /\ssrc="\/assets\/[^"]+"/, `inline script: ${s}`);
    assert.doesNotMatch(index.text, /\sstyle\s*=/i, "no style= attributes");
    assert.doesNotMatch(index.text, /<style\b/i, "no <style> element");

    const assets = [...index.text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith(".js")) && assets.some((a) => a.endsWith(".css")), assets.join(", "));
    for (const path of assets) {
      const a = await api.raw(path, { method: "GET" });
      assert.equal(a.status, 200, path);
      assert.match(header(a, "cache-control"), /\bimmutable\b/, `${path}: ${header(a, "cache-control")}`);
      assert.match(header(a, "cache-control"), /max-age=\d{7,}/, path);
      assert.equal(header(a, "x-content-type-options"), "nosniff", path);
      assert.match(header(a, "content-type"), path.endsWith(".js") ? /^text\/javascript/ : /^text\/css/, path);
    }
    // An unknown asset is a 404, not the shell (a stale tab asking for an old bundle must not get HTML).
    assert.equal((await api.raw("/assets/nope-123.js", { method: "GET" })).status, 404);
  });

  it("shows a viewer no Users page and no write controls, but lets them change their own password", async () => {
    const { w, api, admin } = warren;
    await createAgent(api, admin, { name: "seen-agent", labels: {} });
    assert.equal((await api.call("TokenService/CreateToken", { name: "automation" }, admin)).status, 200);
    const r = await api.call("UserService/CreateUser", { username: "vera", password: "vera's first passphrase", role: "ROLE_VIEWER" }, admin);
    assert.equal(r.status, 200, r.text);

    const ui = await openUi(chromium.browser, w.baseUrl);
    const { page } = ui;
    await signIn(page, "vera", "vera's first passphrase");
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Routes" }).waitFor();
    assert.deepEqual(await nav.getByRole("link").allInnerTexts(), ["Overview", "Routes", "WAF", "Templates", "Captcha", "Rate limits", "Shapers", "Cache", "Listeners", "Certificates", "Agents", "Requests", "API tokens"], "no Users for a viewer");
    await page.getByText("viewer", { exact: true }).waitFor();

    await nav.getByRole("link", { name: "Routes" }).click();
    await page.getByRole("heading", { name: /^public-http/ }).waitFor();
    assert.equal(await page.getByRole("link", { name: /New route/ }).count(), 0, "no New route");
    assert.deepEqual(await buttons(page), ["Log out"], "routes: no write buttons");

    await nav.getByRole("link", { name: "Listeners" }).click();
    await page.locator('tr[data-listener="public-http"]').waitFor();
    assert.equal(await page.getByRole("link", { name: "New listener" }).count(), 0);
    assert.equal(await page.getByRole("link", { name: "View public-http" }).count(), 1, "view, not edit");
    assert.deepEqual(await buttons(page), ["Log out"], "listeners: no enable/disable");

    await nav.getByRole("link", { name: "Agents" }).click();
    await page.locator('tr[data-agent="seen-agent"]').waitFor();
    assert.deepEqual(await buttons(page), ["Log out"], "agents: no create");

    await nav.getByRole("link", { name: "API tokens" }).click();
    const tokenRow = page.locator('tr[data-token="automation"]');
    await tokenRow.waitFor();
    assert.equal(await tokenRow.locator("td").nth(3).innerText(), "admin", "owner shown");
    assert.deepEqual(await buttons(page), ["Log out"], "tokens: no create or delete");

    // /users is not a viewer's page.
    await page.goto("/users");
    await page.getByRole("heading", { name: "Not found" }).waitFor();
    assert.equal(await page.getByRole("table").count(), 0);

    // Their own password, through /account.
    await page.getByRole("link", { name: "vera" }).click();
    await page.getByRole("heading", { name: "Your account" }).waitFor();
    await page.getByLabel("Current password").fill("vera's first passphrase");
    await page.getByLabel("New password (at least 12 characters)").fill("vera's second passphrase");
    await page.getByLabel("New password again").fill("vera's second passphrase");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByRole("status").filter({ hasText: "Password changed." }).waitFor();
    await login(api, "vera", "vera's second passphrase");
    assert.equal((await api.call("AuthService/Login", { username: "vera", password: "vera's first passphrase" })).status, 401);

    assert.deepEqual(ui.errors, [], "no console errors (a CSP violation would be one)");
    await ui.context.close();
  });

  it("sends a revoked session to login, and back to the page after logging in; a deep link reloads in place", async () => {
    const { w, api } = warren;
    const ui = await openUi(chromium.browser, w.baseUrl);
    const { page, context } = ui;
    await signIn(page, "admin", ADMIN_PASSWORD, "/listeners");
    await page.getByRole("heading", { name: "Listeners" }).waitFor();

    // Deep link reload: still Listeners, still signed in.
    await page.locator('tr[data-listener="public-http"]').waitFor();
    await page.reload();
    await page.locator('tr[data-listener="public-http"]').waitFor();
    assert.equal(new URL(page.url()).pathname, "/listeners");
    await page.getByRole("heading", { name: "Listeners" }).waitFor();

    // Revoke the browser's own session from outside.
    const cookie = (await context.cookies()).find((c) => c.name === "warren_session");
    assert.ok(cookie, "the browser holds a session cookie");
    const out = await api.call("AuthService/Logout", {}, cookieHeader(cookie.value));
    assert.equal(out.status, 200, out.text);
    assert.equal((await api.call("AuthService/GetCurrentUser", {}, cookieHeader(cookie.value))).status, 401, "revoked");

    // The next page the UI loads finds the session gone: login, with the way back.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Agents" }).click();
    await page.getByRole("heading", { name: "Log in to Warren" }).waitFor();
    const at = new URL(page.url());
    assert.equal(at.pathname, "/login");
    assert.equal(at.searchParams.get("next"), "/agents");
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL((u) => u.pathname === "/agents");
    await page.getByRole("heading", { name: "Agents" }).waitFor();

    assert.deepEqual(ui.errors, [], "no console errors");
    await ui.context.close();
  });
});

describe("MANAGEMENT_UI_DISABLED", () => {
  const warren = withWarren({ admin: true, env: { MANAGEMENT_UI_DISABLED: "true" } });

  it("answers 404 for the UI while /healthz and the API work", async () => {
    const { api, admin } = warren;
    for (const path of ["/", "/routes/abc", "/login", "/assets/x.js"]) {
      const r = await api.raw(path, { method: "GET" });
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.text, /<html|id="app"/i, path);
    }
    const health = await api.raw("/healthz", { method: "GET" });
    assert.equal(health.status, 200, health.text);
    assert.equal(health.json.status, "ok");
    const me = await api.call("AuthService/GetCurrentUser", {}, admin);
    assert.equal(me.status, 200, me.text);
    assert.equal((me.json.user as { username: string }).username, "admin");
  });
});
