// WAF rules and templates in the browser: made and changed through the UI, proved by real requests
// through Warren's public listener to a real origin. A CEL error puts the caret where it points; a
// template's preview is live; a template a rule uses cannot be deleted; viewers only look.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { request } from "undici";
import { withWarren } from "../helpers/with-warren.ts";
import { ADMIN_PASSWORD, publicListener } from "../helpers/warren-process.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { chromiumAvailable, launchBrowser, openUi, signIn, type UiSession } from "./browser.ts";

describe("WAF rules and templates in the browser", { skip: !chromiumAvailable() && "no chromium" }, () => {
  const warren = withWarren({ admin: true });
  let browser: Browser;
  let ui: UiSession;
  let page: Page;
  let port: number;
  let origin: Origin;
  let templateId = "";

  before(async () => {
    browser = await launchBrowser();
    const l = await publicListener(warren.api, warren.admin);
    port = l.port;
    origin = await startOrigin("waf-ui");
    const r = await warren.api.call("ProxyService/CreateRoute", { spec: { listenerId: l.id, name: "app", hosts: ["app.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url }] } }, warren.admin);
    assert.equal(r.status, 200, r.text);
    ui = await openUi(browser, warren.w.baseUrl);
    page = ui.page;
    page.setDefaultTimeout(10_000);
    await signIn(page, "admin", ADMIN_PASSWORD, "/waf");
  });
  after(async () => {
    await ui?.context.close();
    await browser?.close();
    await origin?.close();
  });

  const send = async (method: string, path: string, headers: Record<string, string> = {}) => {
    const r = await request(`http://127.0.0.1:${port}${path}`, { method, headers: { host: "app.test", "user-agent": "Mozilla/5.0", ...headers } });
    return { status: r.statusCode, body: await r.body.text(), headers: r.headers };
  };
  const openRule = async (name: string) => {
    await page.goto("/waf");
    await page.getByRole("link", { name, exact: true }).click();
    await page.getByRole("heading", { name: `WAF rule ${name}` }).waitFor();
  };
  const saveRule = async () => {
    await page.getByRole("button", { name: "Save rule" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
  };
  const noErrors = () => assert.deepEqual(ui.errors, [], "no console errors (a CSP violation would be one)");

  it("creates a block rule for POST /admin on app.test: POST gets 403, GET passes", async () => {
    const empty = page.locator(".empty").filter({ hasText: "No WAF rules yet." });
    await empty.waitFor();
    assert.match(await empty.innerText(), /the first enabled matching rule decides/);
    await page.getByRole("link", { name: "New rule", exact: true }).click();
    await page.getByRole("heading", { name: "New WAF rule" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("no admin writes");
    await page.getByLabel("Hosts", { exact: true }).fill("app.test");
    await page.getByLabel("Path prefixes", { exact: true }).fill("/admin");
    await page.getByLabel("Methods", { exact: true }).fill("post");
    await page.getByRole("button", { name: "Create rule" }).click();
    await page.waitForURL((u) => u.pathname === "/waf");
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "no admin writes", exact: true }) });
    await row.waitFor();
    assert.match(await row.innerText(), /0\s+no admin writes\s+enabled\s+hosts app\.test · prefixes \/admin · methods POST\s+—\s+block 403/);

    const blocked = await send("POST", "/admin/users");
    assert.equal(blocked.status, 403);
    const passed = await send("GET", "/admin/users");
    assert.equal(passed.status, 200);
    assert.equal(origin.seen.filter((s) => s.method === "POST").length, 0, "the blocked POST never reached the origin");
    noErrors();
  });

  it("shows a CEL error under `when` with its line and column and puts the caret there; the fixed expression is saved", async () => {
    await openRule("no admin writes");
    const when = page.getByLabel("When (CEL, optional)", { exact: true });
    const source = 'method == "POST" &&\n  path.matches(host)';
    await when.fill(source);
    await page.getByRole("button", { name: "Save rule" }).click();
    const err = page.locator('[data-field="when"] .field-error');
    await err.waitFor();
    const text = await err.innerText();
    assert.match(text, /^line 2, column \d+: the pattern of matches\(\) must be a string literal$/);
    const column = Number(/column (\d+)/.exec(text)![1]);
    const expected = source.indexOf("\n") + 1 + column - 1;
    const caret = await when.evaluate((el) => {
      const ta = el as unknown as { selectionStart: number; selectionEnd: number };
      const doc = (globalThis as unknown as { document: { activeElement: unknown } }).document;
      return { start: ta.selectionStart, end: ta.selectionEnd, focused: doc.activeElement === el };
    });
    assert.deepEqual(caret, { start: expected, end: expected, focused: true });
    assert.equal(await when.getAttribute("aria-invalid"), "true");

    await when.fill('headers["user-agent"].exists(v, v.matches("(?i)curl"))');
    await saveRule();
    assert.equal(await err.count(), 0);
    assert.equal((await send("POST", "/admin", { "user-agent": "curl/8.5.0" })).status, 403);
    assert.equal((await send("POST", "/admin")).status, 200, "a browser's POST passes now");
    await page.goto("/waf");
    await page.getByRole("row").filter({ hasText: "no admin writes" }).getByText('headers["user-agent"]', { exact: false }).waitFor();
    noErrors();
  });

  it("creates a template: an unknown placeholder is shown under the body, a valid one previews live", async () => {
    await page.goto("/templates");
    await page.getByRole("link", { name: "blocked", exact: true }).waitFor();
    await page.getByRole("link", { name: "New template", exact: true }).click();
    await page.getByRole("heading", { name: "New template" }).waitFor();
    const body = page.getByLabel("Body", { exact: true });
    // HTML without inline styles previews in the sandboxed frame.
    await body.fill("<h1>{{status}} {{status_text}}</h1>");
    await page.frameLocator('iframe[title="Rendered preview"]').locator("h1").filter({ hasText: "403 Forbidden" }).waitFor();
    assert.equal(await page.locator("iframe.preview-frame").getAttribute("sandbox"), "");

    await page.getByLabel("Name", { exact: true }).fill("ui-block");
    await page.getByLabel("Content type", { exact: true }).fill("text/plain; charset=utf-8");
    await body.fill("Blocked {{nope}}");
    const err = page.locator('[data-field="body"] .field-error');
    await err.waitFor();
    assert.match(await err.innerText(), /^unknown placeholder \{\{nope\}\} at offset 8 \(known: status, .*rule_name\) — line 1, column 9$/);

    await body.fill("Blocked by {{rule_name}} ({{status}} {{status_text}})");
    await page.getByTestId("preview-text").filter({ hasText: "Blocked by block admin writes (403 Forbidden)" }).waitFor();
    assert.equal(await err.count(), 0);
    await page.getByRole("button", { name: "Create template" }).click();
    await page.waitForURL((u) => /^\/templates\/[^/]+$/.test(u.pathname) && u.pathname !== "/templates/new");
    templateId = new URL(page.url()).pathname.split("/").pop()!;
    await page.getByRole("heading", { name: "Template ui-block" }).waitFor();
    noErrors();
  });

  it("previews the built-in template (inline styles) as source, without a CSP error", async () => {
    await page.goto("/templates");
    await page.getByRole("link", { name: "blocked", exact: true }).click();
    await page.getByRole("heading", { name: "Template blocked" }).waitFor();
    await page.getByTestId("preview-text").filter({ hasText: "<h1>403 Forbidden</h1>" }).waitFor();
    assert.equal(await page.locator("iframe.preview-frame").count(), 0);
    noErrors();
  });

  it("uses the template in the rule: the 403 body is the rendered template; deleting the template is refused naming the rule", async () => {
    await openRule("no admin writes");
    await page.getByLabel("Body", { exact: true }).selectOption({ label: "A template" });
    await page.getByLabel("Template", { exact: true }).selectOption({ label: "ui-block" });
    await saveRule();
    const r = await send("POST", "/admin", { "user-agent": "curl/8.5.0" });
    assert.equal(r.status, 403);
    assert.equal(r.body, "Blocked by no admin writes (403 Forbidden)");
    assert.match(String(r.headers["content-type"]), /^text\/plain/);

    await page.goto(`/templates/${templateId}`);
    await page.getByRole("heading", { name: "Template ui-block" }).waitFor();
    await page.getByRole("button", { name: "Delete template" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Delete template" }).click();
    const refusal = page.getByRole("alert").filter({ hasText: "is used by rule" });
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /"ui-block" is used by rule "no admin writes"/);
    await page.goto("/templates");
    await page.getByRole("link", { name: "ui-block", exact: true }).waitFor();
    noErrors();
  });

  it("disables the rule from the list: the POST passes", async () => {
    await page.goto("/waf");
    await page.getByRole("button", { name: "Disable no admin writes" }).click();
    await page.getByRole("button", { name: "Enable no admin writes" }).waitFor();
    await page.getByRole("row").filter({ hasText: "no admin writes" }).getByText("disabled", { exact: true }).waitFor();
    assert.equal((await send("POST", "/admin", { "user-agent": "curl/8.5.0" })).status, 200);
    noErrors();
  });

  it("moves a rule up and down the evaluation order", async () => {
    const r = await warren.api.call("PolicyService/CreateWafRule", { spec: { name: "health is fine", priority: 5, scope: { pathPrefixes: ["/health"] }, action: "WAF_ACTION_ALLOW" } }, warren.admin);
    assert.equal(r.status, 200, r.text);
    await page.goto("/waf");
    const names = () => page.locator("tbody tr td:nth-child(2)").allInnerTexts();
    await page.getByRole("link", { name: "health is fine", exact: true }).waitFor();
    assert.deepEqual(await names(), ["no admin writes", "health is fine"]);
    await page.getByRole("button", { name: "Move health is fine up" }).click();
    await page.locator("tbody tr").first().filter({ hasText: "health is fine" }).waitFor();
    assert.deepEqual(await names(), ["health is fine", "no admin writes"]);
    assert.equal(await page.getByRole("button", { name: "Move health is fine up" }).isDisabled(), true, "the first cannot go up");
    await page.getByRole("button", { name: "Move health is fine down" }).click();
    await page.locator("tbody tr").first().filter({ hasText: "no admin writes" }).waitFor();
    assert.deepEqual(await names(), ["no admin writes", "health is fine"]);
    noErrors();
  });

  it("creates a challenge rule: difficulty and pass lifetime are saved, a bad difficulty lands under its field", async () => {
    await page.goto("/waf/new");
    await page.getByRole("heading", { name: "New WAF rule" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("prove it");
    await page.getByLabel("Hosts", { exact: true }).fill("pow.test");
    await page.getByLabel("Action", { exact: true }).selectOption({ label: "Challenge: a proof-of-work or captcha page; a passed client goes on" });
    await page.getByLabel("Difficulty (bits)").fill("40");
    await page.getByLabel("Pass lifetime (seconds)").fill("600");
    await page.getByRole("button", { name: "Create rule" }).click();
    const err = page.locator('[data-field="challenge.difficulty"] .field-error');
    await err.waitFor();
    assert.match(await err.innerText(), /must be 8–26/);
    await page.getByLabel("Difficulty (bits)").fill("12");
    await page.getByRole("button", { name: "Create rule" }).click();
    await page.waitForURL((u) => u.pathname === "/waf");
    await page.getByRole("row").filter({ hasText: "prove it" }).getByText("challenge (12 bits)").waitFor();
    const rules = (await warren.api.call("PolicyService/ListWafRules", {}, warren.admin)).json.rules as { spec: { name: string; challenge?: { difficulty: number; passTtlSeconds: number } } }[];
    assert.deepEqual(rules.find((r) => r.spec.name === "prove it")?.spec.challenge, { difficulty: 12, passTtlSeconds: 600 });
    const page403 = await send("GET", "/", { host: "pow.test" });
    assert.equal(page403.status, 403);
    noErrors();
  });

  it("adds a captcha provider with a write-only secret, uses it in a rule, and refuses deleting it while used", async () => {
    await page.goto("/captcha");
    await page.getByRole("heading", { name: "Captcha providers" }).waitFor();
    await page.getByRole("link", { name: "New provider" }).click();
    await page.getByLabel("Name", { exact: true }).fill("turnstile");
    await page.getByLabel("Site key").fill("1x00000000000000000000AA");
    await page.getByLabel("Verify URL (optional)").fill("ftp://nope");
    await page.getByRole("button", { name: "Create provider" }).click();
    // The secret is required on create, and a bad URL is refused: each under its field.
    const fieldError = (f: string) => page.locator(`[data-field="${f}"] .field-error`);
    await fieldError("secret_key").or(fieldError("verify_url")).first().waitFor();
    await page.getByLabel("Verify URL (optional)").fill("");
    await page.getByLabel("Secret key").fill("0x4AAAAAAAsecret");
    await page.getByRole("button", { name: "Create provider" }).click();
    await page.waitForURL((u) => u.pathname === "/captcha");
    const row = page.getByRole("row").filter({ hasText: "turnstile" });
    await row.getByText("set", { exact: true }).waitFor();
    assert.ok(!(await page.content()).includes("0x4AAAAAAAsecret"), "the secret is never shown");
    await row.getByRole("link", { name: "turnstile" }).click();
    assert.equal(await page.getByLabel("Secret key").inputValue(), "", "the secret field starts empty");

    const providerId = new URL(page.url()).pathname.split("/").pop()!;
    const r = await warren.api.call("PolicyService/CreateWafRule", { spec: { name: "captcha it", scope: { hosts: ["cap.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { captchaProviderId: providerId } } }, warren.admin);
    assert.equal(r.status, 200, r.text);
    await page.getByRole("button", { name: "Delete provider" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete provider" }).click();
    await page.getByRole("alert").filter({ hasText: "captcha it" }).waitFor();
    noErrors();
  });

  it("creates an automatic waiting room: a missing threshold lands under its field; the room lets one in and queues the next", async () => {
    await page.goto("/waf/new");
    await page.getByRole("heading", { name: "New WAF rule" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("one at a time");
    await page.getByLabel("Hosts", { exact: true }).fill("line.test");
    await page.getByLabel("Action", { exact: true }).selectOption({ label: "Waiting room: a few clients at once, the rest wait in line" });
    await page.getByLabel("Admitted at once").fill("1");
    await page.getByLabel("Only under load (automatic)").check();
    await page.getByRole("button", { name: "Create rule" }).click();
    const err = page.locator('[data-field="waiting_room.active_requests_threshold"] .field-error, [data-field="waiting_room.requests_per_second_threshold"] .field-error, [data-field="waiting_room.activation"] .field-error');
    await err.first().waitFor();
    await page.getByLabel("Only under load (automatic)").uncheck();
    await page.getByRole("button", { name: "Create rule" }).click();
    await page.waitForURL((u) => u.pathname === "/waf");
    await page.getByRole("row").filter({ hasText: "one at a time" }).getByText("waiting room (1 at once)").waitFor();
    // The first client is admitted; the second waits with its position.
    const first = await send("GET", "/", { host: "line.test" });
    assert.notEqual(first.status, 503);
    const second = await send("GET", "/", { host: "line.test" });
    assert.equal(second.status, 503);
    assert.ok(second.headers["retry-after"]);
    noErrors();
  });

  it("shows rules and templates to a viewer read-only", async () => {
    const made = await warren.api.call("UserService/CreateUser", { username: "viewer", password: "a viewer passphrase", role: "ROLE_VIEWER" }, warren.admin);
    assert.equal(made.status, 200, made.text);
    const v = await openUi(browser, warren.w.baseUrl);
    try {
      v.page.setDefaultTimeout(10_000);
      await signIn(v.page, "viewer", "a viewer passphrase", "/waf");
      await v.page.getByRole("link", { name: "no admin writes", exact: true }).waitFor();
      for (const name of ["New rule"]) assert.equal(await v.page.getByRole("link", { name }).count(), 0, name);
      for (const name of [/Enable/, /Disable/, /Move/, /Delete/]) assert.equal(await v.page.getByRole("button", { name }).count(), 0, String(name));
      await v.page.getByRole("link", { name: "no admin writes", exact: true }).click();
      await v.page.getByRole("heading", { name: "WAF rule no admin writes" }).waitFor();
      assert.ok(await v.page.getByLabel("When (CEL, optional)", { exact: true }).isDisabled());
      assert.ok(await v.page.getByLabel("Hosts", { exact: true }).isDisabled());
      for (const name of ["Save rule", "Delete rule", "Add response header"]) assert.equal(await v.page.getByRole("button", { name }).count(), 0, name);
      await v.page.goto(`/templates/${templateId}`);
      await v.page.getByRole("heading", { name: "Template ui-block" }).waitFor();
      assert.ok(await v.page.getByLabel("Body", { exact: true }).isDisabled());
      for (const name of ["Save template", "Delete template"]) assert.equal(await v.page.getByRole("button", { name }).count(), 0, name);
      await v.page.goto("/waf/new");
      await v.page.getByText("Only administrators can create WAF rules.").waitFor();
      assert.deepEqual(v.errors, []);
    } finally {
      await v.context.close();
    }
  });
});
