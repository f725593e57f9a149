import { spawn, type ChildProcess } from "node:child_process";
import { NODE_FLAGS } from "../../cli/node-flags.ts";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BIN = join(ROOT, "cli", "bin.mjs");

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface WarrenOptions {
  configDir?: string;
  env?: Record<string, string>;
}

export type LogPredicate = ((l: LogLine) => boolean) & { description?: string };

/** How long waitForLog and ready wait by default: well inside the per-file test timeout (test/run.mjs). */
export const LOG_WAIT_MS = 60_000;

/** A predicate for log lines with this `msg` (and whatever else `extra` checks), named for failure messages. */
export function isMsg(msg: string, extra: (l: LogLine) => boolean = () => true): LogPredicate {
  const pred: LogPredicate = (l: LogLine) => l.msg === msg && extra(l);
  pred.description = extra.length === 0 && String(extra) === "() => true" ? `msg "${msg}"` : `msg "${msg}" and ${oneLine(extra)}`;
  return pred;
}

function oneLine(fn: (...a: never[]) => unknown): string {
  const src = String(fn).replace(/\s+/g, " ");
  return src.length > 160 ? `${src.slice(0, 157)}...` : src;
}

// Children still running when the test process goes away (a failed test, a file timeout) are killed.
const live = new Set<ChildProcess>();
const killAll = () => {
  for (const c of live) c.kill("SIGKILL");
};
process.once("exit", killAll);
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(128 + (sig === "SIGTERM" ? 15 : 2));
  });
}

/** A real `warren serve` child process on an ephemeral loopback port, with its logs captured. */
export class WarrenProcess {
  readonly logs: LogLine[] = [];
  readonly rawOutput: string[] = [];
  private exitPromise: Promise<number | null>;
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  private constructor(
    readonly child: ChildProcess,
    readonly configDir: string,
    /** "warren serve", "warren agent": for failure messages. */
    readonly name: string,
  ) {
    live.add(child);
    const onLine = (line: string) => {
      this.rawOutput.push(line);
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        return;
      }
      this.logs.push(parsed);
      this.waiters = this.waiters.filter((w) => (w.pred(parsed) ? (w.resolve(parsed), false) : true));
    };
    createInterface({ input: child.stdout! }).on("line", onLine);
    createInterface({ input: child.stderr! }).on("line", onLine);
    this.exitPromise = new Promise((resolve) =>
      child.once("exit", (code) => {
        live.delete(child);
        resolve(code);
      }),
    );
  }

  /** Spawns `warren <args>` with a clean environment plus `env` (used for agents too). */
  static spawnCommand(args: string[], env: Record<string, string>, configDir: string): WarrenProcess {
    const child = spawn(process.execPath, [...NODE_FLAGS, BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "debug", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new WarrenProcess(child, configDir, `warren ${args.join(" ")}`);
  }

  static spawn(opts: WarrenOptions = {}): WarrenProcess {
    const configDir = opts.configDir ?? mkdtempSync(join(tmpdir(), "warren-test-"));
    const child = spawn(process.execPath, [...NODE_FLAGS, BIN, "serve"], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        CONFIG_DIR: configDir,
        MANAGEMENT_PORT: "0",
        MANAGEMENT_BIND_ADDRESS: "127.0.0.1",
        // The seeded public listener takes any free port, so parallel tests never collide.
        PUBLIC_HTTP_PORT: "0",
        LOG_LEVEL: "debug",
        ...opts.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new WarrenProcess(child, configDir, "warren serve");
  }

  /** Starts and waits for the "management listening" line (an event, not a sleep). */
  static async start(opts: WarrenOptions = {}): Promise<WarrenProcess> {
    const w = WarrenProcess.spawn(opts);
    await w.ready();
    return w;
  }

  private url?: string;
  async ready(timeoutMs = LOG_WAIT_MS): Promise<void> {
    const line = await this.waitForLog(isMsg("management listening"), { timeoutMs });
    this.url = String(line.url).replace("localhost", "127.0.0.1");
  }

  get baseUrl(): string {
    if (!this.url) throw new Error("not ready");
    return this.url;
  }

  get caPem(): string {
    return readFileSync(join(this.configDir, "certs", "management", "ca.crt.pem"), "utf8");
  }

  setupToken(): string {
    const line = this.logs.find((l) => typeof l.setupUrl === "string");
    if (!line) throw new Error("no setup URL logged");
    return new URL(String(line.setupUrl)).searchParams.get("setup_token")!;
  }

  /**
   * Resolves with the first log line (already logged or still to come) that matches. Rejects, naming
   * what was awaited and showing the last output, when the process exits first or after `timeoutMs`.
   */
  waitForLog(pred: LogPredicate, opts: { timeoutMs?: number; what?: string } = {}): Promise<LogLine> {
    const hit = this.logs.find(pred);
    if (hit) return Promise.resolve(hit);
    const what = opts.what ?? pred.description ?? oneLine(pred);
    const timeoutMs = opts.timeoutMs ?? LOG_WAIT_MS;
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const fail = (why: string) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name} (pid ${this.child.pid}): ${why}; its last output:\n${this.rawOutput.slice(-20).join("\n")}`));
      };
      const timer = setTimeout(() => fail(`no log line matching ${what} within ${timeoutMs} ms`), timeoutMs);
      this.waiters.push(waiter);
      void this.exitPromise.then((code) => {
        if (this.waiters.includes(waiter)) fail(`exited (code ${code}, signal ${this.child.signalCode}) before logging a line matching ${what}`);
      });
    });
  }

  exited(): Promise<number | null> {
    return this.exitPromise;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    await this.exitPromise;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exitPromise;
  }

  cleanup(): void {
    rmSync(this.configDir, { recursive: true, force: true });
  }

  /** All output, for checks that no secret was ever logged. */
  allOutput(): string {
    return this.rawOutput.join("\n");
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

/** Speaks the Connect protocol with plain JSON over HTTPS, the way curl would. */
export class JsonApi {
  readonly dispatcher: Agent;
  constructor(
    readonly baseUrl: string,
    caPem: string,
  ) {
    this.dispatcher = new Agent({ connect: { ca: caPem }, headersTimeout: 5000 });
  }

  async call(procedure: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
    return this.raw(`/warren.v1.${procedure}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  }

  async raw(path: string, init: { method: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<RawResponse> {
    const res = await request(`${this.baseUrl}${path}`, {
      method: init.method as "POST",
      headers: init.headers,
      body: init.body,
      dispatcher: this.dispatcher,
    });
    const text = await res.body.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON; callers look at text
    }
    return { status: res.statusCode, headers: res.headers, text, json };
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

export const ADMIN_PASSWORD = "correct horse battery staple";

/** Creates the first admin through SetupAdmin and logs in; returns the session cookie value. */
export async function setupAdmin(w: WarrenProcess, api: JsonApi, username = "admin"): Promise<{ cookie: string; userId: string }> {
  const setup = await api.call("AuthService/SetupAdmin", { setupToken: w.setupToken(), username, password: ADMIN_PASSWORD });
  if (setup.status !== 200) throw new Error(`SetupAdmin failed: ${setup.text}`);
  const cookie = await login(api, username, ADMIN_PASSWORD);
  return { cookie, userId: String((setup.json.user as { id: string }).id) };
}

export async function login(api: JsonApi, username: string, password: string): Promise<string> {
  const res = await api.call("AuthService/Login", { username, password });
  if (res.status !== 200) throw new Error(`Login failed: ${res.text}`);
  const setCookie = ([] as string[]).concat(res.headers["set-cookie"] ?? []);
  const m = /warren_session=([^;]+)/.exec(setCookie.join("\n"));
  if (!m) throw new Error("no session cookie");
  return m[1]!;
}

export function cookieHeader(cookie: string): Record<string, string> {
  return { cookie: `warren_session=${cookie}` };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** The seeded public HTTP listener: its id and the port it actually bound. */
export async function publicListener(api: JsonApi, headers: Record<string, string>): Promise<{ id: string; port: number }> {
  const cfg = await api.call("ProxyService/GetProxyConfig", {}, headers);
  const l = (cfg.json.listeners as { id: string; spec: { name: string }; status: { boundPort: number } }[]).find((x) => x.spec.name === "public-http");
  if (!l) throw new Error(`no public-http listener: ${cfg.text}`);
  return { id: l.id, port: l.status.boundPort };
}
