// The users and API tokens pages in real Chromium against a real `warren serve`: create a viewer (a
// short password is refused under the password field), change their role, disable and enable them,
// set their password, delete them after a confirm (and deleting yourself is refused with the server's
// message); create an API token whose secret is shown once and copied, prove it works with
// `Authorization: Bearer`, delete it and see the API refuse it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { withWarren } from "../helpers/with-warren.ts";
import { ADMIN_PASSWORD, bearer, login } from "../helpers/warren-process.ts";
import { chromiumAvailable, openUi, signIn, withBrowser } from "./browser.ts";

// Runs in the page (the test's tsconfig has no DOM types).
const clipboard = (page: Page) => page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());

interface UserJson {
  id: string;
  username: string;
  role: string;
  disabled?: boolean;
}

describe("users and API tokens in the browser", { skip: !chromiumAvailable() && "no chromium" }, () => {
  const warren = withWarren({ admin: true });
  const chromium = withBrowser();

  const userByName = async (username: string): Promise<UserJson | undefined> => {
    const r = await warren.api.call("UserService/ListUsers", {}, warren.admin);
    assert.equal(r.status, 200, r.text);
    return (r.json.users as UserJson[]).find((u) => u.username === username);
  };

  it("creates a viewer, changes role, disables, enables, sets the password and deletes them", async () => {
    const { w, api } = warren;
    const ui = await openUi(chromium.browser, w.baseUrl);
    const { page } = ui;
    await signIn(page, "admin", ADMIN_PASSWORD, "/users");
    await page.getByRole("heading", { name: "Users" }).waitFor();
    await page.locator('tr[data-user="admin"]').getByText("(you)").waitFor();

    // Create, first with a short password: the server's error lands under the password field.
    await page.getByRole("button", { name: "Create user" }).click();
    const form = page.getByRole("form", { name: "Create user" });
    await form.getByLabel("Username").fill("carol");
    await form.getByLabel("Password (at least 12 characters)").fill("short");
    assert.equal(await form.getByLabel("Role").inputValue(), String(2), "viewer by default");
    await form.getByRole("button", { name: "Create user" }).click();
    await page.locator('[data-field="password"]').getByRole("alert").filter({ hasText: "must be at least 12 characters" }).waitFor();
    assert.equal(await page.locator('[data-field="username"] .field-error').count(), 0, "nothing under the username");
    assert.equal(await userByName("carol"), undefined, "not created");
    await form.getByLabel("Password (at least 12 characters)").fill("carol's first passphrase");
    await form.getByRole("button", { name: "Create user" }).click();
    await form.waitFor({ state: "detached" });
    const row = page.locator('tr[data-user="carol"]');
    await row.getByTestId("user-role").getByText("viewer", { exact: true }).waitFor();
    await row.getByTestId("user-status").getByText("enabled", { exact: true }).waitFor();
    const carol = (await userByName("carol"))!;
    assert.equal(carol.role, "ROLE_VIEWER");
    await login(api, "carol", "carol's first passphrase");

    // Role: viewer → admin → viewer.
    await row.getByRole("button", { name: "Make admin" }).click();
    await row.getByTestId("user-role").getByText("admin", { exact: true }).waitFor();
    assert.equal((await userByName("carol"))!.role, "ROLE_ADMIN");
    await row.getByRole("button", { name: "Make viewer" }).click();
    await row.getByTestId("user-role").getByText("viewer", { exact: true }).waitFor();
    assert.equal((await userByName("carol"))!.role, "ROLE_VIEWER");

    // Disable: they cannot log in; enable: they can again.
    await row.getByRole("button", { name: "Disable", exact: true }).click();
    await row.getByTestId("user-status").getByText("disabled", { exact: true }).waitFor();
    assert.equal((await userByName("carol"))!.disabled, true);
    assert.notEqual((await api.call("AuthService/Login", { username: "carol", password: "carol's first passphrase" })).status, 200, "a disabled user cannot log in");
    await row.getByRole("button", { name: "Enable", exact: true }).click();
    await row.getByTestId("user-status").getByText("enabled", { exact: true }).waitFor();
    assert.ok(!(await userByName("carol"))!.disabled);
    await login(api, "carol", "carol's first passphrase");

    // Set their password (no current password asked of an admin): the old one stops working.
    await row.getByRole("button", { name: "Set password" }).click();
    const pw = page.getByRole("form", { name: "Set password for carol" });
    await pw.getByLabel("New password (at least 12 characters)").fill("tiny");
    await pw.getByRole("button", { name: "Set password" }).click();
    await pw.locator('[data-field="new_password"]').getByRole("alert").filter({ hasText: "must be at least 12 characters" }).waitFor();
    await pw.getByLabel("New password (at least 12 characters)").fill("carol's second passphrase");
    await pw.getByRole("button", { name: "Set password" }).click();
    await page.getByRole("status").filter({ hasText: "Password set for carol." }).waitFor();
    await pw.waitFor({ state: "detached" });
    await login(api, "carol", "carol's second passphrase");
    assert.equal((await api.call("AuthService/Login", { username: "carol", password: "carol's first passphrase" })).status, 401, "the old password is refused");

    // Deleting yourself: the server refuses, and its message is shown.
    await page.locator('tr[data-user="admin"]').getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete user" }).click();
    await page.getByRole("alert").filter({ hasText: "you cannot delete yourself" }).waitFor();
    assert.ok(await userByName("admin"));
    // Nor may the last enabled admin stop being one.
    await page.locator('tr[data-user="admin"]').getByRole("button", { name: "Make viewer" }).click();
    await page.getByRole("alert").filter({ hasText: "this is the last enabled admin; make another admin first" }).waitFor();
    assert.equal((await userByName("admin"))!.role, "ROLE_ADMIN");

    // Delete carol: cancel first (nothing happens), then confirm.
    await row.getByRole("button", { name: "Delete" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Delete user carol?").waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    assert.ok(await userByName("carol"), "cancel keeps the user");
    await row.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete user" }).click();
    await row.waitFor({ state: "detached" });
    assert.equal(await userByName("carol"), undefined, "deleted");
    assert.equal((await api.call("AuthService/Login", { username: "carol", password: "carol's second passphrase" })).status, 401);

    assert.deepEqual(ui.errors, [], "no console errors (a CSP violation would be one)");
    await ui.context.close();
  });

  it("creates an API token, shows and copies its secret once, which works until it is deleted", async () => {
    const { w, api } = warren;
    const ui = await openUi(chromium.browser, w.baseUrl);
    const { page } = ui;
    await signIn(page, "admin", ADMIN_PASSWORD);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API tokens" }).click();
    await page.getByRole("heading", { name: "API tokens" }).waitFor();
    await page.getByText("No API tokens yet.").waitFor();

    await page.getByRole("button", { name: "Create token" }).click();
    const form = page.getByRole("form", { name: "Create API token" });
    await form.getByLabel("Name").fill("ci deploy");
    await form.getByLabel("Role").selectOption({ label: "Viewer (read only)" });
    // An expiry in the past is refused under the expiry field.
    await form.getByLabel("Expires (optional)").fill("2001-01-01T12:00");
    await form.getByRole("button", { name: "Create token" }).click();
    await page.locator('[data-field="expires_at"]').getByRole("alert").filter({ hasText: "must be in the future" }).waitFor();
    const nextYear = new Date().getFullYear() + 1;
    await form.getByLabel("Expires (optional)").fill(`${nextYear}-06-01T12:00`);
    await form.getByRole("button", { name: "Create token" }).click();

    const reveal = page.getByTestId("token-reveal");
    await reveal.getByRole("heading", { name: "Token ci deploy created" }).waitFor();
    assert.match(await reveal.getByRole("status").innerText(), /not shown again/);
    const shown = await reveal.locator("pre").innerText();
    assert.match(shown, /^wrn_\S{20,}$/);
    await reveal.getByRole("button", { name: "Copy" }).click();
    await reveal.getByRole("button", { name: "Copied", exact: true }).waitFor();
    const secret = await clipboard(page);
    assert.equal(secret, shown, "the copy button copies the secret");

    // The secret works as a bearer token, with the role it was given.
    const meRes = await api.call("AuthService/GetCurrentUser", {}, bearer(secret));
    assert.equal(meRes.status, 200, meRes.text);
    assert.equal((meRes.json.user as { username: string }).username, "admin");
    assert.equal(meRes.json.effectiveRole, "ROLE_VIEWER");

    // The list shows it (prefix, role, owner, expiry); "Done" removes the secret for good.
    const row = page.locator('tr[data-token="ci deploy"]');
    await row.waitFor();
    const cells = await row.locator("td").allInnerTexts();
    assert.ok(secret.startsWith(cells[1]!.replace("…", "")), `prefix ${cells[1]}`);
    assert.equal(cells[2], "viewer");
    assert.equal(cells[3], "admin");
    assert.ok(cells[5]!.includes(String(nextYear)), `expires ${cells[5]}`);
    await reveal.getByRole("button", { name: "Done, I have copied it" }).click();
    await reveal.waitFor({ state: "detached" });
    assert.equal(await page.getByText(secret).count(), 0, "the secret is not on the page any more");
    await page.reload();
    await row.waitFor();
    assert.equal(await page.getByText(secret).count(), 0, "nor after a reload");

    // Delete after the confirm: the API refuses the secret from then on.
    await row.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete token" }).click();
    await row.waitFor({ state: "detached" });
    await page.getByText("No API tokens yet.").waitFor();
    assert.equal((await api.call("AuthService/GetCurrentUser", {}, bearer(secret))).status, 401, "a deleted token is refused");

    assert.deepEqual(ui.errors, [], "no console errors (a CSP violation would be one)");
    await ui.context.close();
  });
});
