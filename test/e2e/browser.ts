// Real Debian Chromium driven by playwright-core, as DESIGN.md §8 asks: headless, no sandbox (CI
// runs as root), a fresh profile per context, no background networking (this machine has no
// internet and Chromium would keep trying). Every request a page makes is recorded, so a test can
// prove the UI talks to management and nothing else.
import { existsSync } from "node:fs";
import { after, before } from "node:test";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

/** `extraArgs`, e.g. `--host-resolver-rules=MAP app.test 127.0.0.1` for public listeners by host name. */
export async function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", ...extraArgs],
  });
}

const EXPECTED_API_REFUSAL = /^Failed to load resource: the server responded with a status of 4\d\d /;

/** One Chromium for a suite: launched before its tests, closed after them. */
export function withBrowser(extraArgs: readonly string[] = []): { readonly browser: Browser } {
  let b: Browser | undefined;
  before(async () => {
    b = await launchBrowser(extraArgs);
  });
  after(async () => {
    await b?.close();
  });
  return {
    get browser(): Browser {
      if (!b) throw new Error("the browser is not launched yet (use it inside a test)");
      return b;
    },
  };
}

export interface UiSession {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every URL the page requested, in order. */
  readonly requests: string[];
  /** Console errors and uncaught page errors (a CSP violation shows up here). */
  readonly errors: string[];
}

/** A new context (fresh cookies and storage) and page against management at `baseUrl`. */
export async function openUi(browser: Browser, baseUrl: string, opts: { colorScheme?: "light" | "dark"; viewport?: { width: number; height: number } } = {}): Promise<UiSession> {
  // Management's certificate comes from Warren's own CA; the test trusts it by ignoring the error
  // (Chromium has no per-context CA file option).
  const context = await browser.newContext({
    baseURL: baseUrl,
    ignoreHTTPSErrors: true,
    colorScheme: opts.colorScheme ?? "light",
    viewport: opts.viewport ?? { width: 1280, height: 860 },
  });
  // The clipboard exists only in secure contexts (management is HTTPS; a public listener may not be).
  if (baseUrl.startsWith("https:")) await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("console", (m) => {
    // Chromium logs every 4xx answer to fetch as a console error; the UI expects those (a 401 before
    // login, a 400 naming a field), so only that exact line is left out. Anything else counts,
    // a CSP refusal ("Refused to …") included.
    if (m.type() === "error" && !EXPECTED_API_REFUSAL.test(m.text())) errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  return { context, page, requests, errors };
}

/** Logs in through the login form (a fixture made with `admin: true` has `admin` / ADMIN_PASSWORD). */
export async function signIn(page: Page, username: string, password: string, path = "/"): Promise<void> {
  await page.goto(path === "/" ? "/login" : `/login?next=${encodeURIComponent(path)}`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL((u) => u.pathname === path);
}
