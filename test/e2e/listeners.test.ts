// The listeners pages in real Chromium against a real `warren serve`: create an HTTP listener (it
// really binds), field errors under their inputs, a port another process holds (error state with the
// bind error), edit, disable/enable from the list (the socket closes and opens), delete with confirm,
// and an HTTPS listener whose certificate and key are uploaded as files (served as uploaded).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { withWarren } from "../helpers/with-warren.ts";
import { ADMIN_PASSWORD } from "../helpers/warren-process.ts";
import { freePort } from "../helpers/agent-process.ts";
import { pollUntil } from "../helpers/wait.ts";
import { CertificateAuthority } from "../../management/pki/index.ts";
import { chromiumAvailable, launchBrowser, openUi, signIn } from "./browser.ts";


/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** The SHA-256 fingerprint of the certificate served on 127.0.0.1:port. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, servername: "secure.test", rejectUnauthorized: false }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.once("error", reject);
  });
}

const fieldError = (page: Page, field: string) => page.locator(`[data-field="${field}"] .field-error`);

describe("listeners in the browser", { skip: !chromiumAvailable() && "no chromium" }, () => {
  const warren = withWarren({ admin: true });
  let browser: Browser;
  let blocker: net.Server | undefined;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
  });

  it("creates, refuses, edits, disables, enables and deletes HTTP listeners", async () => {
    const { w } = warren;
    const ui = await openUi(browser, w.baseUrl);
    const { page } = ui;
    await signIn(page, "admin", ADMIN_PASSWORD, "/listeners");
    await page.getByRole("heading", { name: "Listeners" }).waitFor();
    await page.locator('tr[data-listener="public-http"]').getByTestId("listener-state").getByText("running").waitFor();

    // Field errors from the server land under their inputs.
    await page.getByRole("link", { name: "New listener" }).click();
    await page.getByRole("heading", { name: "New listener" }).waitFor();
    const port = await freePort();
    await page.getByLabel("Port").fill(String(port));
    await page.getByRole("button", { name: "Create listener" }).click();
    await fieldError(page, "name").filter({ hasText: "must be 1–64 characters" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("web");
    await page.getByLabel("Port").fill("70000");
    await page.getByRole("button", { name: "Create listener" }).click();
    await fieldError(page, "port").filter({ hasText: "must be 1–65535" }).waitFor();
    assert.equal(await fieldError(page, "name").count(), 0, "the name error went with the next answer");
    await page.getByLabel("Bind address").fill("localhost");
    await page.getByLabel("Port").fill(String(port));
    await page.getByRole("button", { name: "Create listener" }).click();
    await fieldError(page, "bind_address").filter({ hasText: "must be an IP address" }).waitFor();

    // Created: it binds, and the page shows it running.
    await page.getByLabel("Bind address").fill("127.0.0.1");
    await page.getByRole("button", { name: "Create listener" }).click();
    await page.getByRole("heading", { name: "Listener web" }).waitFor();
    const webId = new URL(page.url()).pathname.split("/")[2]!;
    assert.match(webId, /^lsn_/);
    await page.getByTestId("listener-state").getByText("running").waitFor();
    assert.equal(await accepts(port), true, "the listener accepts connections");

    // A second listener on the same port is refused, under the port field.
    await page.goto("/listeners/new");
    await page.getByLabel("Name", { exact: true }).fill("web-two");
    await page.getByLabel("Bind address").fill("127.0.0.1");
    await page.getByLabel("Port").fill(String(port));
    await page.getByRole("button", { name: "Create listener" }).click();
    await fieldError(page, "port").filter({ hasText: `listener "web" already uses port ${port}` }).waitFor();

    // A port another process holds: created, but in the error state with the bind error.
    blocker = net.createServer();
    await new Promise<void>((r) => blocker!.listen(0, "127.0.0.1", r));
    const held = (blocker.address() as net.AddressInfo).port;
    await page.getByLabel("Name", { exact: true }).fill("blocked");
    await page.getByLabel("Port").fill(String(held));
    await page.getByRole("button", { name: "Create listener" }).click();
    await page.getByRole("heading", { name: "Listener blocked" }).waitFor();
    await page.getByTestId("listener-state").getByText(/error: .*(EADDRINUSE|in use)/i).waitFor();
    await page.getByRole("link", { name: "← All listeners" }).click();
    const blockedRow = page.locator('tr[data-listener="blocked"]');
    await blockedRow.getByTestId("listener-state").getByText(/error: .*(EADDRINUSE|in use)/i).waitFor();
    assert.equal(await blockedRow.locator("td").nth(2).innerText(), `127.0.0.1:${held}`);

    // Edit: rename and accept the PROXY protocol.
    await page.locator('tr[data-listener="web"]').getByRole("link", { name: "Edit web" }).click();
    await page.getByRole("heading", { name: "Listener web" }).waitFor();
    assert.equal(await page.getByLabel("Port").inputValue(), String(port), "the form is filled from the listener");
    await page.getByLabel("Name", { exact: true }).fill("web-main");
    await page.getByLabel("Accept PROXY protocol").check();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    await page.getByRole("heading", { name: "Listener web-main" }).waitFor();
    await page.getByRole("link", { name: "← All listeners" }).click();
    const row = page.locator('tr[data-listener="web-main"]');
    // The list loads after the navigation; read the cells only once the renamed row is there.
    await row.waitFor();
    assert.deepEqual((await row.locator("td").allInnerTexts()).slice(0, 5), ["web-main", "HTTP", `127.0.0.1:${port}`, "accepted", "0"]);

    // Disable and enable from the list: the socket closes and opens again.
    await row.getByRole("button", { name: "Disable web-main" }).click();
    await row.getByTestId("listener-state").getByText("disabled").waitFor();
    await pollUntil("the disabled listener to stop accepting", () => accepts(port), (a) => !a);
    await row.getByRole("button", { name: "Enable web-main" }).click();
    await row.getByTestId("listener-state").getByText("running").waitFor();
    await pollUntil("the enabled listener to accept", () => accepts(port), (a) => a);

    // Delete with confirm: cancel keeps it, confirm deletes it.
    await blockedRow.getByRole("link", { name: "Edit blocked" }).click();
    await page.getByRole("heading", { name: "Listener blocked" }).waitFor();
    await page.getByRole("button", { name: "Delete listener" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Delete listener blocked?").waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("button", { name: "Delete listener" }).click();
    await dialog.getByRole("button", { name: "Delete" }).click();
    await page.waitForURL((u) => u.pathname === "/listeners");
    await page.locator('tr[data-listener="web-main"]').waitFor();
    assert.equal(await page.locator('tr[data-listener="blocked"]').count(), 0, "deleted");
    const cfg = await warren.api.call("ProxyService/GetProxyConfig", {}, warren.admin);
    assert.deepEqual((cfg.json.listeners as { spec: { name: string } }[]).map((l) => l.spec.name).sort(), ["public-http", "web-main"]);

    assert.deepEqual(ui.errors, [], "no console errors (a CSP violation would be one)");
    await ui.context.close();
  });

  it("creates an HTTPS listener from uploaded certificate and key files, and keeps the key on save", async () => {
    const { w } = warren;
    const mat = await CertificateAuthority.generate({ commonName: "E2E CA" });
    const ca = await CertificateAuthority.fromPem(mat.certPem, mat.keyPem);
    const leaf = await ca.issueServerCertificate(["secure.test"]);
    const chain = `${leaf.certPem.trim()}\n${mat.certPem.trim()}\n`;
    const ui = await openUi(browser, w.baseUrl);
    const { page } = ui;
    await signIn(page, "admin", ADMIN_PASSWORD, "/listeners/new");
    await page.getByRole("heading", { name: "New listener" }).waitFor();
    const port = await freePort();
    await page.getByLabel("Name", { exact: true }).fill("secure");
    await page.getByLabel("Protocol", { exact: true }).selectOption({ label: "HTTPS" });
    await page.getByText("Leave both empty for a self-signed certificate").waitFor();
    await page.getByLabel("Bind address").fill("127.0.0.1");
    await page.getByLabel("Port").fill(String(port));

    // A key without its certificate is refused under the certificate.
    await page.getByLabel("Private key file").setInputFiles({ name: "secure.key", mimeType: "application/x-pem-file", buffer: Buffer.from(leaf.keyPem) });
    await page.getByRole("status").filter({ hasText: "Loaded secure.key" }).waitFor();
    assert.equal((await page.getByLabel("Private key (PEM)").inputValue()).trim(), leaf.keyPem.trim(), "the key file fills its textarea");
    await page.getByRole("button", { name: "Create listener" }).click();
    await fieldError(page, "tls_certificate_pem").filter({ hasText: "is required with a private key" }).waitFor();

    await page.getByLabel("Certificate chain file").setInputFiles({ name: "secure.crt", mimeType: "application/x-pem-file", buffer: Buffer.from(chain) });
    await page.getByRole("status").filter({ hasText: "Loaded secure.crt" }).waitFor();
    assert.equal(await page.getByLabel("Certificate chain (PEM)").inputValue(), chain, "the chain file fills its textarea");
    await page.getByRole("button", { name: "Create listener" }).click();
    await page.getByRole("heading", { name: "Listener secure" }).waitFor();
    await page.getByTestId("listener-state").getByText("running").waitFor();
    assert.equal(await servedFingerprint(port), new X509Certificate(leaf.certPem).fingerprint256, "the uploaded certificate is served");

    // The key is write-only: the page says one is stored and leaves the field empty; saving keeps it.
    await page.getByTestId("key-stored").waitFor();
    assert.equal(await page.getByLabel("Private key (PEM)").inputValue(), "");
    assert.equal((await page.getByLabel("Certificate chain (PEM)").inputValue()).trim(), chain.trim());
    await page.getByLabel("Name", { exact: true }).fill("secure-main");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    await page.getByTestId("key-stored").waitFor();
    await page.getByTestId("listener-state").getByText("running").waitFor();
    assert.equal(await servedFingerprint(port), new X509Certificate(leaf.certPem).fingerprint256, "still the uploaded certificate");

    // Both emptied: a self-signed certificate instead.
    await page.getByLabel("Certificate chain (PEM)").fill("");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    await page.getByTestId("key-stored").waitFor({ state: "detached" });
    const selfSigned = await pollUntil("the self-signed certificate to be served", () => servedFingerprint(port), (fp) => fp !== new X509Certificate(leaf.certPem).fingerprint256);
    assert.ok(selfSigned.length > 0);

    assert.deepEqual(ui.errors, [], "no console errors (a CSP violation would be one)");
    await ui.context.close();
  });

  // CI once caught this as a flake: on a loaded machine Chromium typed into /listeners/new before the
  // page's effects ran, and an effect that reset the form wiped the name. Holding Preact's effect
  // flush (it waits for a frame or a 35 ms timer) until the test has typed makes that order certain.
  it("keeps what was typed into a new listener before the page's effects ran", async () => {
    const { w } = warren;
    const ui = await openUi(browser, w.baseUrl);
    const { page } = ui;
    await signIn(page, "admin", ADMIN_PASSWORD, "/listeners");
    // Strings, not functions: tsx's transform would add helpers the page does not have.
    await page.addInitScript(`{
      const held = [];
      const state = { holding: true, released: 0 };
      const realSetTimeout = window.setTimeout.bind(window);
      window.__effects = state;
      window.__releaseEffects = () => {
        state.holding = false;
        for (const f of held.splice(0)) f();
      };
      window.requestAnimationFrame = () => 0;
      window.cancelAnimationFrame = () => undefined;
      window.setTimeout = (f, ms, ...args) => {
        if (ms !== 35 || !state.holding) return realSetTimeout(f, ms, ...args);
        held.push(() => {
          state.released++;
          realSetTimeout(f, 0, ...args);
        });
        return 0;
      };
    }`);
    await page.goto("/listeners/new");
    await page.getByLabel("Name", { exact: true }).fill("typed-early");
    await page.evaluate("window.__releaseEffects()");
    // The effects ran (Preact's flush went through the held timer) before the value is read.
    await page.waitForFunction("window.__effects.released > 0");
    await page.evaluate("new Promise((r) => setTimeout(r, 0))");
    assert.equal(await page.getByLabel("Name", { exact: true }).inputValue(), "typed-early");
    await page.getByRole("button", { name: "Create listener" }).click();
    await fieldError(page, "port").filter({ hasText: "is required" }).waitFor();
    assert.equal(await fieldError(page, "name").count(), 0, "the name was sent as typed");
    await ui.context.close();
  });

  it("shows a viewer the listeners read-only, without any write control", async () => {
    const { w, api, admin } = warren;
    const r = await api.call("UserService/CreateUser", { username: "watcher", password: "a viewer's passphrase", role: "ROLE_VIEWER" }, admin);
    assert.equal(r.status, 200, r.text);
    const ui = await openUi(browser, w.baseUrl);
    const { page } = ui;
    await signIn(page, "watcher", "a viewer's passphrase", "/listeners");
    const row = page.locator('tr[data-listener="public-http"]');
    await row.getByTestId("listener-state").getByText("running").waitFor();
    assert.equal(await page.getByRole("link", { name: "New listener" }).count(), 0);
    assert.deepEqual(await page.getByRole("button").allInnerTexts(), ["Log out"], "no enable/disable buttons");
    await row.getByRole("link", { name: "View public-http" }).click();
    await page.getByRole("heading", { name: "Listener public-http" }).waitFor();
    await page.getByTestId("listener-facts").getByText("running").waitFor();
    assert.deepEqual(await page.getByRole("button").allInnerTexts(), ["Log out"], "no save or delete");
    assert.equal(await page.getByRole("textbox").count(), 0, "no inputs");
    assert.deepEqual(ui.errors, []);
    await ui.context.close();
  });
});
