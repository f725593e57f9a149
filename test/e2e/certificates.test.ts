// The Certificates page in real Chromium against a real `warren serve`: an HTTPS listener created
// through the UI warns that it serves the self-signed fallback; a certificate uploaded through the
// form is listed READY with its names and then served for that name by a real TLS handshake (the
// fallback still for another name); a mismatched key is refused under the key field; a self-signed
// certificate generated through the form is served, and deleted (after a confirm) it is not; a
// certificate read from files turns ERROR with its last error shown in full when a reload finds a
// mismatched key (and the one read before is still served); the
// listener's minimum TLS version refuses an older client; a DNS credential's secret is never shown
// back; an ACME account without agreeing to the terms is refused under the checkbox; the listeners
// list flags the fallback and the routes list a target that skips TLS verification.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { withWarren } from "../helpers/with-warren.ts";
import { ADMIN_PASSWORD, publicListener } from "../helpers/warren-process.ts";
import { freePort } from "../helpers/agent-process.ts";
import { pollUntil } from "../helpers/wait.ts";
import { generateSelfSigned } from "../../management/tls/self-signed.ts";
import { chromiumAvailable, launchBrowser, openUi, signIn, type UiSession } from "./browser.ts";

interface Served {
  fingerprint: string;
  subjectaltname: string;
  protocol: string | null;
}

/** The certificate 127.0.0.1:port serves to a client asking for `servername`. */
function served(port: number, servername: string, opts: { maxVersion?: tls.SecureVersion } = {}): Promise<Served> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false, ...opts }, () => {
      const c = s.getPeerCertificate();
      const out = { fingerprint: c.fingerprint256, subjectaltname: c.subjectaltname ?? "", protocol: s.getProtocol() };
      s.destroy();
      resolve(out);
    });
    s.once("error", reject);
  });
}

/** Whether a TLS 1.2-only client gets a handshake (false: refused). */
function tls12Accepted(port: number): Promise<boolean> {
  return served(port, "app.test", { maxVersion: "TLSv1.2" }).then(
    () => true,
    () => false,
  );
}

const fieldError = (page: Page, field: string) => page.locator(`[data-field="${field}"] .field-error`);

describe("certificates in the browser", { skip: !chromiumAvailable() && "no chromium" }, () => {
  const warren = withWarren({ admin: true });
  let browser: Browser;
  let ui: UiSession;
  let page: Page;
  let port: number;
  let listenerId: string;
  const dir = mkdtempSync(join(tmpdir(), "warren-e2e-certs-"));
  before(async () => {
    browser = await launchBrowser();
    ui = await openUi(browser, warren.w.baseUrl);
    page = ui.page;
    page.setDefaultTimeout(10_000);
    await signIn(page, "admin", ADMIN_PASSWORD, "/listeners/new");
  });
  after(async () => {
    await ui?.context.close();
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("warns on a new HTTPS listener that it serves the fallback, on its page, its certificates and the list", async () => {
    await page.getByRole("heading", { name: "New listener" }).waitFor();
    port = await freePort();
    await page.getByLabel("Name", { exact: true }).fill("web-tls");
    await page.getByLabel("Protocol", { exact: true }).selectOption({ label: "HTTPS" });
    await page.getByLabel("Bind address").fill("127.0.0.1");
    await page.getByLabel("Port").fill(String(port));
    await page.getByRole("button", { name: "Create listener" }).click();
    await page.getByRole("heading", { name: "Listener web-tls" }).waitFor();
    listenerId = new URL(page.url()).pathname.split("/")[2]!;
    await page.getByTestId("listener-state").getByText("running").waitFor();
    await page.getByTestId("fallback-warning").getByText("serves Warren's self-signed fallback").waitFor();

    await page.getByTestId("listener-certificates-link").click();
    await page.waitForURL((u) => u.pathname === "/certificates" && u.searchParams.get("listener") === listenerId);
    const section = page.locator('section[data-listener="web-tls"]');
    await section.getByTestId("fallback-warning").getByText("browsers will warn").waitFor();
    await section.getByText("No certificates on this listener yet.").waitFor();

    await page.goto("/listeners");
    const row = page.locator('tr[data-listener="web-tls"]');
    await row.getByTestId("fallback-badge").getByText("fallback certificate").waitFor();
    await page.locator('tr[data-listener="public-http"]').waitFor();
    assert.equal(await page.locator('tr[data-listener="public-http"]').getByTestId("fallback-badge").count(), 0, "an HTTP listener has no fallback badge");
  });

  it("uploads a certificate (a mismatched key refused under the key field), lists it READY and serves it by SNI", async () => {
    const good = await generateSelfSigned(["app.test", "www.app.test"], 30);
    const other = await generateSelfSigned(["unrelated.test"], 30);
    const fallbackBefore = await served(port, "app.test");

    await page.goto(`/certificates?listener=${listenerId}`);
    const section = page.locator('section[data-listener="web-tls"]');
    await section.getByRole("button", { name: "Add certificate to web-tls" }).click();
    const form = page.getByRole("form", { name: "Add certificate" });
    await form.getByLabel("Certificate chain (PEM)").fill(good.certPem);
    await form.getByLabel("Private key (PEM)").fill(other.keyPem);
    await form.getByRole("button", { name: "Add certificate" }).click();
    await fieldError(page, "private_key_pem").filter({ hasText: "does not match the certificate" }).waitFor();
    assert.equal(await fieldError(page, "certificate_pem").count(), 0, "the error is under the key, not the chain");
    assert.equal(await section.locator("tr[data-cert-id]").count(), 0, "nothing was stored");

    await form.getByLabel("Private key (PEM)").fill(good.keyPem);
    await form.getByRole("button", { name: "Add certificate" }).click();
    await form.waitFor({ state: "detached" });
    const row = section.locator('tr[data-names="app.test www.app.test"]');
    await row.getByTestId("cert-status").getByText("ready").waitFor();
    assert.deepEqual(await row.getByTestId("cert-names").locator("code").allInnerTexts(), ["app.test", "www.app.test"]);
    assert.equal(await row.getByTestId("cert-source").innerText(), "uploaded");
    assert.match(await row.getByTestId("cert-issuer").innerText(), /CN=app\.test/);
    assert.match(await row.getByTestId("cert-not-after").innerText(), /in (29|30) days/);

    // A real handshake: this certificate for its names, the fallback for any other.
    const want = new X509Certificate(good.certPem).fingerprint256;
    await pollUntil("the uploaded certificate to be served for app.test", () => served(port, "app.test"), (s) => s.fingerprint === want);
    assert.equal((await served(port, "www.app.test")).fingerprint, want);
    const elsewhere = await served(port, "nothing-covers.test");
    assert.notEqual(elsewhere.fingerprint, want, "another name still gets the fallback");
    assert.equal(elsewhere.fingerprint, fallbackBefore.fingerprint, "the same fallback as before the upload");
    // The listener has no default certificate: it still serves the fallback to other names, and says so.
    await section.getByTestId("fallback-warning").waitFor();
  });

  it("generates a self-signed certificate through the form, and deletes it after a confirm", async () => {
    await page.goto(`/certificates?listener=${listenerId}`);
    const section = page.locator('section[data-listener="web-tls"]');
    await section.getByRole("button", { name: "Add certificate to web-tls" }).click();
    const form = page.getByRole("form", { name: "Add certificate" });
    await form.getByLabel("Source").selectOption({ label: "Generate self-signed" });
    await form.getByLabel("Names").fill("gen.test\n");
    await form.getByLabel("Valid days").fill("0");
    await form.getByRole("button", { name: "Generate certificate" }).click();
    await fieldError(page, "valid_days").filter({ hasText: "must be 1–3650" }).waitFor();
    await form.getByLabel("Valid days").fill("90");
    await form.getByRole("button", { name: "Generate certificate" }).click();
    const row = section.locator('tr[data-names="gen.test"]');
    await row.getByTestId("cert-status").getByText("ready").waitFor();
    assert.equal(await row.getByTestId("cert-source").innerText(), "self-signed");
    assert.match(await row.getByTestId("cert-not-after").innerText(), /in (89|90) days/);
    const gen = await pollUntil("the generated certificate to be served for gen.test", () => served(port, "gen.test"), (s) => s.subjectaltname === "DNS:gen.test");

    // Cancel keeps it; confirm deletes it, and gen.test falls back.
    await row.getByRole("button", { name: "Delete" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Delete the certificate for gen.test?").waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    assert.equal(await row.count(), 1, "cancel keeps it");
    await row.getByRole("button", { name: "Delete" }).click();
    await dialog.getByRole("button", { name: "Delete certificate" }).click();
    await row.waitFor({ state: "detached" });
    await section.getByRole("status").filter({ hasText: "Deleted the certificate for gen.test." }).waitFor();
    await section.locator('tr[data-names="app.test www.app.test"]').waitFor();
    await pollUntil("gen.test to fall back once deleted", () => served(port, "gen.test"), (s) => s.fingerprint !== gen.fingerprint && s.subjectaltname !== "DNS:gen.test");
    const r = await warren.api.call("TlsService/ListCertificates", { listenerId }, warren.admin);
    assert.deepEqual((r.json.certificates as { names: string[] }[]).map((c) => c.names), [["app.test", "www.app.test"]]);
  });

  it("adds a certificate from files; a reload that finds a mismatched key shows ERROR with the whole error, the old one still served", async () => {
    const pair = await generateSelfSigned(["files.test"], 30);
    const stray = await generateSelfSigned(["stray.test"], 30);
    const certFile = join(dir, "files.crt");
    const keyFile = join(dir, "files.key");
    writeFileSync(certFile, pair.certPem);
    writeFileSync(keyFile, pair.keyPem);
    await page.goto(`/certificates?listener=${listenerId}`);
    const section = page.locator('section[data-listener="web-tls"]');
    await section.getByRole("button", { name: "Add certificate to web-tls" }).click();
    const form = page.getByRole("form", { name: "Add certificate" });
    await form.getByLabel("Source").selectOption({ label: "Files on the server" });
    await form.getByLabel("Certificate chain file path").fill(certFile);
    await form.getByLabel("Private key file path").fill(keyFile);
    await form.getByRole("button", { name: "Add certificate" }).click();
    const row = section.locator('tr[data-names="files.test"]');
    await row.getByTestId("cert-status").getByText("ready").waitFor();
    assert.equal(await row.getByTestId("cert-source").innerText(), `files\n${certFile}\n${keyFile}`);
    const want = new X509Certificate(pair.certPem).fingerprint256;
    await pollUntil("the file certificate to be served for files.test", () => served(port, "files.test"), (s) => s.fingerprint === want);

    writeFileSync(keyFile, stray.keyPem);
    await row.getByRole("button", { name: "Reload files.test" }).click();
    await section.getByRole("status").filter({ hasText: "files.test: the files were read but cannot be served" }).waitFor();
    await row.getByTestId("cert-status").getByText("error").waitFor();
    const error = section.locator(`tr[data-error-for="${await row.getAttribute("data-cert-id")}"]`).getByTestId("cert-last-error");
    await error.waitFor();
    assert.match(await error.innerText(), /does not match the certificate \(the first in the chain\)$/);
    assert.equal((await served(port, "files.test")).fingerprint, want, "the certificate read before is still served");
  });

  it("sets the listener's minimum TLS version to 1.3: a TLS 1.2 client is refused", async () => {
    assert.equal(await tls12Accepted(port), true, "1.2 is accepted by default");
    await page.goto(`/listeners/${listenerId}`);
    await page.getByRole("heading", { name: "Listener web-tls" }).waitFor();
    assert.equal(await page.getByLabel("Minimum TLS version").inputValue(), "1.2");
    await page.getByLabel("Minimum TLS version").selectOption("1.3");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    await pollUntil("a TLS 1.2 client to be refused", () => tls12Accepted(port), (ok) => !ok);
    assert.equal((await served(port, "app.test")).protocol, "TLSv1.3");
    await page.reload();
    await page.getByRole("heading", { name: "Listener web-tls" }).waitFor();
    assert.equal(await page.getByLabel("Minimum TLS version").inputValue(), "1.3", "stored");
  });

  it("stores a DNS credential's secret write-only: never shown back, kept on an edit without one", async () => {
    const secret = "cf-token-9f8e7d6c5b4a";
    await page.goto("/certificates");
    const creds = page.getByTestId("dns-credentials");
    await creds.getByRole("button", { name: "Add DNS credential" }).click();
    const form = page.getByRole("form", { name: "New DNS credential" });
    await form.getByLabel("Name", { exact: true }).fill("cf-main");
    await form.getByLabel("Zone ID").fill("not a zone!");
    await form.getByLabel("API token").fill(secret);
    await form.getByRole("button", { name: "Create credential" }).click();
    await fieldError(page, "settings.zone_id").filter({ hasText: "must be the zone's ID" }).waitFor();
    await form.getByLabel("Zone ID").fill("abc123");
    await form.getByRole("button", { name: "Create credential" }).click();
    const row = creds.locator('tr[data-credential="cf-main"]');
    await row.getByText("stored").waitFor();
    assert.deepEqual((await row.locator("td").allInnerTexts()).slice(0, 3), ["cf-main", "Cloudflare", "zone_id=abc123"]);

    await row.getByRole("button", { name: "Edit cf-main" }).click();
    const edit = page.getByRole("form", { name: "Edit DNS credential cf-main" });
    await edit.getByTestId("secret-stored").getByText("A secret is stored — leave empty to keep it").waitFor();
    assert.equal(await edit.getByLabel("API token").inputValue(), "", "the secret is not filled back");
    assert.equal(await edit.getByLabel("Zone ID").inputValue(), "abc123");
    assert.ok(!(await page.content()).includes(secret), "the secret is nowhere on the page");
    await edit.getByLabel("Zone ID").fill("def456");
    await edit.getByRole("button", { name: "Save credential" }).click();
    await edit.waitFor({ state: "detached" });
    await row.getByText("zone_id=def456").waitFor();
    const r = await warren.api.call("TlsService/ListDnsCredentials", {}, warren.admin);
    const stored = (r.json.credentials as { spec: { name: string; secret?: string }; secretSet: boolean }[]).find((c) => c.spec.name === "cf-main");
    assert.equal(stored?.secretSet, true, "the secret is kept");
    assert.equal(stored?.spec.secret ?? "", "", "and never answered");
  });

  it("refuses an ACME account without agreeing to the CA's terms, under the checkbox", async () => {
    await page.goto("/certificates");
    const accounts = page.getByTestId("acme-accounts");
    await accounts.getByText("No ACME accounts.").waitFor();
    await accounts.getByRole("button", { name: "Add ACME account" }).click();
    const form = page.getByRole("form", { name: "New ACME account" });
    assert.equal(await form.getByLabel("Certificate authority").inputValue(), "https://acme-v02.api.letsencrypt.org/directory");
    await form.getByLabel("Certificate authority").selectOption({ label: "Let's Encrypt (staging)" });
    await form.getByText("https://acme-staging-v02.api.letsencrypt.org/directory").waitFor();
    await form.getByLabel("Email").fill("ops@example.com");
    await form.getByRole("button", { name: "Register account" }).click();
    await fieldError(page, "agree_to_terms").filter({ hasText: "must be true" }).waitFor();
    assert.equal(await form.getByLabel("I agree to the CA's terms of service").isChecked(), false);
    const r = await warren.api.call("TlsService/ListAcmeAccounts", {}, warren.admin);
    assert.deepEqual(r.json.accounts ?? [], [], "nothing registered");
  });

  it("flags routes whose target skips TLS verification", async () => {
    const pub = await publicListener(warren.api, warren.admin);
    const mk = (name: string, tlsSkipVerify: boolean) =>
      warren.api.call("ProxyService/CreateRoute", { spec: { listenerId: pub.id, name, hosts: [`${name}.test`], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: "https://127.0.0.1:9", tlsSkipVerify }] } }, warren.admin);
    const insecure = await mk("insecure", true);
    assert.equal(insecure.status, 200, insecure.text);
    const verified = await mk("verified", false);
    assert.equal(verified.status, 200, verified.text);
    await page.goto("/routes");
    const bad = page.locator(`tr[data-route-id="${(insecure.json.route as { id: string }).id}"]`);
    const good = page.locator(`tr[data-route-id="${(verified.json.route as { id: string }).id}"]`);
    await bad.getByTestId("tls-skip-verify").getByText("TLS not verified").waitFor();
    await good.waitFor();
    assert.equal(await good.getByTestId("tls-skip-verify").count(), 0);
    assert.deepEqual(ui.errors, [], "no console errors (a CSP violation would be one)");
  });
  it("offers HTTP/2 once the listener's HTTP/2 box is ticked", async () => {
    const alpn = () =>
      new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: "127.0.0.1", port, servername: "app.test", rejectUnauthorized: false, ALPNProtocols: ["h2", "http/1.1"] }, () => {
          resolve(String(s.alpnProtocol));
          s.destroy();
        });
        s.once("error", reject);
      });
    assert.equal(await alpn(), "http/1.1", "off by default");
    await page.goto(`/listeners/${listenerId}`);
    await page.getByRole("heading", { name: "Listener web-tls" }).waitFor();
    await page.getByLabel("HTTP/2").check();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    await pollUntil("h2 to be offered", () => alpn().catch(() => "refused"), (p) => p === "h2");
    await page.reload();
    await page.getByRole("heading", { name: "Listener web-tls" }).waitFor();
    assert.equal(await page.getByLabel("HTTP/2").isChecked(), true, "stored");
  });
});
