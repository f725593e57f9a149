// First run in the browser: the setup URL from the log creates the first admin (the token leaves the
// address bar at once), then login, logout, changing one's password, and a deep link that reloads.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWarren } from "../helpers/with-warren.ts";
import { chromiumAvailable, openUi, withBrowser } from "./browser.ts";

const PASSWORD = "a long enough passphrase";

describe("first admin, login and account in the browser", { skip: !chromiumAvailable() && "no chromium" }, () => {
  const warren = withWarren({});
  const chromium = withBrowser();

  it("creates the first admin from the setup URL, then logs out and in, and reloads a deep link", async () => {
    const { w } = warren;
    const ui = await openUi(chromium.browser, w.baseUrl);
    const { page } = ui;
    await page.goto(`/?setup_token=${w.setupToken()}`);
    await page.getByRole("heading", { name: "Create the first administrator" }).waitFor();
    assert.equal(new URL(page.url()).search, "", "the setup token left the address bar");
    assert.match(await page.getByRole("status").innerText(), /closes in/);
    await page.getByLabel("Password (at least 12 characters)").fill(PASSWORD);
    await page.getByLabel("Password again").fill(PASSWORD);
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();

    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "Log in to Warren" }).waitFor();
    await page.goto("/account");
    await page.getByRole("heading", { name: "Log in to Warren" }).waitFor();
    assert.match(page.url(), /\/login\?next=%2Faccount$/, "sent to login, with the way back");
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("wrong password!!");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").waitFor();
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Your account" }).waitFor();
    await page.reload();
    await page.getByRole("heading", { name: "Your account" }).waitFor();

    const origin = new URL(w.baseUrl).origin;
    assert.deepEqual(ui.requests.filter((u) => !u.startsWith(origin) && !u.startsWith("data:")), [], "the UI talks to management only");
    assert.deepEqual(ui.errors, [], "no console errors (a CSP violation would be one)");
    await ui.context.close();
  });
});
