// The one fixture integration tests start `warren serve` with: a real child process on ephemeral
// loopback ports with a temp CONFIG_DIR, the JSON API client, optionally the first admin (session
// cookie) and an admin API token, agents started against it, and a clean-up that always runs — kills
// agents, stops the server (SIGKILL if SIGTERM is not enough), closes the client, removes temp dirs —
// whether the tests passed, failed or their set-up did.
import { after, before, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonApi, WarrenProcess, cookieHeader, setupAdmin } from "./warren-process.ts";
import { startAgent, type AgentHandle } from "./agent-process.ts";

export interface WithWarrenOptions {
  /** Extra environment for `warren serve`; a function is called once, before the first start (e.g. to pick a port). */
  readonly env?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** Use this CONFIG_DIR (left in place at clean-up); by default a temp dir that is removed. */
  readonly configDir?: string;
  /** Create the first admin and log in (`admin` headers, `adminUserId`). */
  readonly admin?: boolean;
  /** Also create an admin API token (`adminToken`); implies `admin`. */
  readonly apiToken?: boolean;
}

/** How long SIGTERM may take before clean-up uses SIGKILL. */
const STOP_GRACE_MS = 15_000;

// Temp dirs still owned when the test process exits early (a file timeout stops it with SIGTERM,
// and warren-process.ts then kills the children and exits): removed on the way out.
const liveDirs = new Set<string>();
process.once("exit", () => {
  for (const d of liveDirs) {
    try {
      rmSync(d, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // best effort on the way out
    }
  }
});

export class WarrenFixture {
  private proc: WarrenProcess | undefined;
  private client: JsonApi | undefined;
  private cookie: string | undefined;
  private adminHeaders: Record<string, string> | undefined;
  private userId: string | undefined;
  private token: string | undefined;
  private readonly agents: WarrenProcess[] = [];
  /** Every process this fixture started (each server run, each agent), for whole-run log checks. */
  private readonly started: WarrenProcess[] = [];
  private readonly ownedDirs: string[] = [];
  private readonly deferred: (() => unknown)[] = [];
  private env: Record<string, string> | undefined;
  readonly configDir: string;

  constructor(private readonly o: WithWarrenOptions) {
    if (o.configDir) this.configDir = o.configDir;
    else {
      this.configDir = mkdtempSync(join(tmpdir(), "warren-test-"));
      this.own(this.configDir);
    }
  }

  /** The running `warren serve` (the new one after restart). */
  get w(): WarrenProcess {
    if (!this.proc) throw new Error("withWarren: the server is not running (use it inside tests or later hooks)");
    return this.proc;
  }

  /** JSON-over-Connect client for this server (unauthenticated; pass `admin` or `bearer(adminToken)`). */
  get api(): JsonApi {
    if (!this.client) throw new Error("withWarren: the server is not running (not started yet, or stopped)");
    return this.client;
  }

  /** Cookie headers of the first admin (option `admin`). */
  get admin(): Record<string, string> {
    if (!this.adminHeaders) throw new Error("withWarren: start with { admin: true } to get admin headers");
    return this.adminHeaders;
  }

  /** The first admin's session cookie value (option `admin`). */
  get adminCookie(): string {
    if (!this.cookie) throw new Error("withWarren: start with { admin: true } to get an admin session");
    return this.cookie;
  }

  get adminUserId(): string {
    if (!this.userId) throw new Error("withWarren: start with { admin: true }");
    return this.userId;
  }

  /** An admin API token, `wrn_…` (option `apiToken`). */
  get adminToken(): string {
    if (!this.token) throw new Error("withWarren: start with { apiToken: true } to get an API token");
    return this.token;
  }

  async start(): Promise<this> {
    this.env ??= typeof this.o.env === "function" ? await this.o.env() : (this.o.env ?? {});
    this.proc = WarrenProcess.spawn({ configDir: this.configDir, env: this.env });
    this.started.push(this.proc);
    await this.proc.ready();
    this.client = new JsonApi(this.proc.baseUrl, this.proc.caPem);
    if ((this.o.admin || this.o.apiToken) && !this.adminHeaders) {
      const { cookie, userId } = await setupAdmin(this.proc, this.client);
      this.cookie = cookie;
      this.adminHeaders = cookieHeader(cookie);
      this.userId = userId;
    }
    if (this.o.apiToken && !this.token) {
      const r = await this.client.call("TokenService/CreateToken", { name: "tests" }, this.adminHeaders);
      if (r.status !== 200) throw new Error(`CreateToken: ${r.text}`);
      this.token = String(r.json.secret);
    }
    return this;
  }

  /**
   * Stops the server (SIGTERM, or SIGKILL with `kill`) and starts it again on the same CONFIG_DIR,
   * with a new API client; the admin session and token stay valid (they live in the database).
   */
  async restart(opts: { kill?: boolean } = {}): Promise<void> {
    await this.closeClient();
    if (opts.kill) await this.proc?.kill();
    else await this.stopServer();
    await this.start();
  }

  /** Stops the server now (the data directory stays until clean-up). */
  async stop(): Promise<void> {
    await this.closeClient();
    await this.stopServer();
  }

  /** Starts a real `warren agent` for `agent` against this server; killed at clean-up, its state dir removed. */
  agent(agent: AgentHandle, env: Record<string, string> = {}, stateDir?: string): WarrenProcess {
    const p = startAgent(this.w, agent, env, stateDir);
    this.agents.push(p);
    this.started.push(p);
    if (!stateDir) this.own(p.configDir);
    return p;
  }

  /** The output of every server run (restarts included) and every agent this fixture started. */
  allOutput(): string {
    return this.started.map((p) => p.allOutput()).join("\n");
  }

  /**
   * Asserts that none of `secrets` appears in any output of this fixture's processes so far (a PEM
   * private key is searched for by each line of its body). Call it at the end of a suite, after the
   * last process has stopped, so nothing logged on the way out is missed.
   */
  assertNoSecretsLogged(secrets: Iterable<string>): void {
    assertNoSecretsIn(this.allOutput(), secrets);
  }

  /** Runs `fn` at clean-up, before agents and the server go (last registered, first run). */
  defer(fn: () => unknown): void {
    this.deferred.push(fn);
  }

  private own(dir: string): void {
    this.ownedDirs.push(dir);
    liveDirs.add(dir);
  }

  private async closeClient(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.close();
  }

  private async stopServer(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([p.stop(), new Promise<void>((r) => (timer = setTimeout(r, STOP_GRACE_MS)))]);
    clearTimeout(timer);
    await p.kill();
  }

  /** Everything, in reverse order of acquisition; keeps going past failures and reports the first. */
  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    };
    for (const fn of this.deferred.splice(0).reverse()) await attempt(fn);
    for (const a of this.agents.splice(0)) await attempt(() => a.kill());
    await attempt(() => this.closeClient());
    await attempt(() => this.stopServer());
    for (const d of this.ownedDirs.splice(0)) {
      await attempt(() => rmSync(d, { recursive: true, force: true }));
      liveDirs.delete(d);
    }
    if (errors.length > 0) throw errors[0];
  }
}

/** What to search output for: a secret itself, or each base64 line of a PEM body (logs may escape its newlines). */
export function secretNeedles(secret: string): string[] {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(secret)) return [secret];
  return secret.split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----"));
}

/** Fails naming the secret (by its first characters) when `output` contains any of `secrets`. */
export function assertNoSecretsIn(output: string, secrets: Iterable<string>): void {
  let n = 0;
  for (const s of secrets) {
    if (s.length < 8) throw new Error(`assertNoSecretsIn: "${s}" is too short to search for meaningfully`);
    for (const needle of secretNeedles(s)) {
      if (output.includes(needle)) throw new assert.AssertionError({ message: `the output contains a secret (${s.slice(0, 6)}…)` });
    }
    n++;
  }
  if (n === 0) throw new Error("assertNoSecretsIn: no secrets given");
}

function isTestContext(x: unknown): x is TestContext {
  return typeof x === "object" && x !== null && typeof (x as TestContext).diagnostic === "function" && typeof (x as TestContext).after === "function";
}

/** Clean-ups registered per test, run last-first in one `t.after`. */
const perTest = new WeakMap<TestContext, WarrenFixture[]>();

/**
 * In a `describe` body: `const warren = withWarren({ admin: true })` starts the server in a `before`
 * hook and cleans up in an `after` hook of that suite; its fields are usable inside tests.
 * In a test: `const warren = await withWarren(t, opts)` starts it now and cleans up when the test ends.
 */
export function withWarren(opts?: WithWarrenOptions): WarrenFixture;
export function withWarren(t: TestContext, opts?: WithWarrenOptions): Promise<WarrenFixture>;
export function withWarren(a?: TestContext | WithWarrenOptions, b?: WithWarrenOptions): WarrenFixture | Promise<WarrenFixture> {
  if (isTestContext(a)) {
    const f = new WarrenFixture(b ?? {});
    let list = perTest.get(a);
    if (!list) {
      const fixtures: WarrenFixture[] = [];
      perTest.set(a, fixtures);
      list = fixtures;
      a.after(async () => {
        let first: unknown;
        for (const x of fixtures.reverse()) {
          await x.cleanup().catch((e: unknown) => (first ??= e));
        }
        if (first !== undefined) throw first;
      });
    }
    list.push(f);
    return f.start();
  }
  const f = new WarrenFixture(a ?? {});
  before(() => f.start());
  after(() => f.cleanup());
  return f;
}
