import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { X509Certificate } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { join } from "node:path";
import { BIN, JsonApi, ROOT, setupAdmin } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";
import Database from "better-sqlite3";

const mode = (p: string) => statSync(p).mode & 0o777;

/** The TLS version a handshake with these options negotiates (rejects when there is none). */
function tlsProtocol(port: number, host: string, opts: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host, ...opts }, () => {
      const p = s.getProtocol();
      s.destroy();
      resolve(String(p));
    });
    s.once("error", reject);
  });
}

/** "connected", or the error code of a plain TCP connect. */
function tcpOutcome(port: number, host: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host }, () => {
      s.destroy();
      resolve("connected");
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** Addresses of this machine other than 127.0.0.1: another loopback address, and any IPv4 interface's. */
function otherLocalAddresses(): string[] {
  const out = ["127.0.0.2"];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) out.push(a.address);
  return out;
}

describe("warren serve start-up (acceptance 2, 8)", () => {
  it("answers /healthz over HTTPS from its own CA, logs a setup URL, and keeps CA and data across restarts", async (t) => {
    const t0 = Date.now();
    const first = await withWarren(t);
    const { w } = first;
    const api = first.api;
    const health = await api.raw("/healthz", { method: "GET" });
    // The 5 s goal is bench/startup's to check (timing goals stay out of npm test).
    t.diagnostic(`measured: /healthz answered ${Date.now() - t0} ms after start (goal 5000 ms)`);
    assert.equal(health.status, 200);
    assert.deepEqual(Object.keys(health.json).sort(), ["status", "version"], "nothing but status and version");
    assert.equal(health.json.status, "ok");
    assert.equal(typeof health.json.version, "string");
    assert.match(w.setupToken(), /^[A-Za-z0-9_-]{43}$/);
    const fp = w.logs.find((l) => l.msg === "management CA")!.caFingerprintSha256;
    assert.match(String(fp), /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
    const { userId } = await setupAdmin(w, api);

    // HTTPS by default, TLS 1.2 at least: a client offering only TLS 1.0/1.1 (with every cipher
    // allowed on its side) gets no handshake; a default client gets TLS 1.3.
    assert.match(w.baseUrl, /^https:\/\//);
    const port = Number(new URL(w.baseUrl).port);
    assert.equal(await tlsProtocol(port, "127.0.0.1", { ca: w.caPem, servername: "localhost" }), "TLSv1.3");
    assert.equal(await tlsProtocol(port, "127.0.0.1", { ca: w.caPem, servername: "localhost", maxVersion: "TLSv1.2" }), "TLSv1.2");
    const old = await tlsProtocol(port, "127.0.0.1", { rejectUnauthorized: false, minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" }).catch((e: Error) => e);
    assert.ok(old instanceof Error, `a TLS 1.1 client must be refused, got ${String(old)}`);
    assert.match(old.message, /protocol version|no protocols available|handshake failure|alert/i, old.message);

    // MANAGEMENT_BIND_ADDRESS=127.0.0.1 (the fixture's): the port is closed on every other address.
    assert.equal(await tcpOutcome(port, "127.0.0.1"), "connected");
    for (const host of otherLocalAddresses()) assert.equal(await tcpOutcome(port, host), "ECONNREFUSED", `management must not answer on ${host}`);

    // Everything in CONFIG_DIR is private: directories 0700, files 0600 (database, WAL, keys), only
    // the CA certificates (public by nature) readable by others.
    const walk = (dir: string): string[] => readdirSync(dir).flatMap((n) => [join(dir, n), ...(statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [])]);
    const entries = walk(w.configDir);
    for (const f of ["warren.db", "warren.db-wal", "secrets.key", "certs/management/ca.key.pem", "certs/management/server.key.pem", "certs/public-fallback/ca.key.pem"]) {
      assert.ok(entries.includes(join(w.configDir, f)), `${f} exists`);
    }
    for (const p of entries) {
      const want = statSync(p).isDirectory() ? 0o700 : p.endsWith("ca.crt.pem") ? mode(p) & 0o644 : 0o600;
      assert.equal(mode(p), want, `${p.slice(w.configDir.length)}: mode ${mode(p).toString(8)}`);
    }
    await first.stop();

    // Files: database, WAL and CA key are private; the state directory too.
    const certs = join(w.configDir, "certs", "management");
    assert.equal(mode(join(certs, "ca.key.pem")), 0o600);
    assert.equal(mode(join(certs, "server.key.pem")), 0o600);
    assert.equal(mode(certs), 0o700);
    assert.equal(mode(w.configDir), 0o700);
    assert.equal(mode(join(w.configDir, "warren.db")), 0o600);

    const second = await withWarren(t, { configDir: w.configDir });
    const again = second.w;
    assert.equal(again.logs.find((l) => l.msg === "management CA")!.caFingerprintSha256, fp, "same CA after restart");
    assert.ok(!again.logs.some((l) => l.msg === "created the management CA"));
    assert.ok(!again.logs.some((l) => typeof l.setupUrl === "string"), "no setup URL once an admin exists");
    const api2 = second.api;
    const state = await api2.call("AuthService/GetSetupState", {});
    assert.equal(state.json.setupRequired ?? false, false);
    const { login } = await import("../helpers/warren-process.ts");
    const cookie = await login(api2, "admin", "correct horse battery staple");
    const me = await api2.call("AuthService/GetCurrentUser", {}, { cookie: `warren_session=${cookie}` });
    assert.equal((me.json.user as { id: string }).id, userId, "same data after restart");
    const wal = join(w.configDir, "warren.db-wal");
    assert.equal(mode(wal), 0o600, "WAL file is private");
  });

  it("re-issues only the server certificate when the host set changes; MANAGEMENT_PUBLIC_URL is in it, the setup URL and the snippets", async (t) => {
    const first = await withWarren(t);
    const w = first.w;
    const fp = w.logs.find((l) => l.msg === "management CA")!.caFingerprintSha256;
    await first.stop();
    const publicUrl = "https://warren.example.test:8443";
    const second = await withWarren(t, { configDir: w.configDir, admin: true, env: { MANAGEMENT_TLS_EXTRA_HOSTS: "warren.internal,10.9.8.7", MANAGEMENT_PUBLIC_URL: publicUrl } });
    const w2 = second.w;
    assert.equal(w2.logs.find((l) => l.msg === "management CA")!.caFingerprintSha256, fp);
    const issued = w2.logs.find((l) => l.msg === "issued the management server certificate");
    assert.equal(issued?.reason, "hosts_changed");

    // MANAGEMENT_PUBLIC_URL: its host is in the certificate, and it is what the setup URL, the server
    // info and the agents' install snippets tell people and agents to use.
    const served = new X509Certificate(readFileSync(join(w.configDir, "certs", "management", "server.crt.pem")));
    for (const name of ["DNS:warren.example.test", "DNS:warren.internal", "IP Address:10.9.8.7", "DNS:localhost"]) assert.ok(served.subjectAltName?.split(", ").includes(name), `${name} in ${served.subjectAltName}`);
    assert.ok(w2.logs.some((l) => String(l.setupUrl ?? "").startsWith(`${publicUrl}/?setup_token=`)), "the setup URL uses the public URL");
    const info = await second.api.call("AuthService/GetServerInfo", {}, second.admin);
    assert.equal(info.json.publicUrl, `${publicUrl}/`);
    const agent = await second.api.call("AgentService/CreateAgent", { name: "edge" }, second.admin);
    assert.equal(agent.status, 200, agent.text);
    const install = agent.json.install as Record<string, string>;
    for (const k of ["envFile", "composeService", "commandLine", "systemdUnit"]) {
      assert.ok(install[k]!.includes(publicUrl), `${k} dials the public URL: ${install[k]}`);
      assert.ok(!/localhost|127\.0\.0\.1/.test(install[k]!), `${k} names no local address`);
    }
  });

  it("stops with one line naming the variable when the environment is invalid", (t) => {
    const tempDir = (prefix: string) => {
      const d = mkdtempSync(join(tmpdir(), prefix));
      t.after(() => rmSync(d, { recursive: true, force: true }));
      return d;
    };
    const cases: [Record<string, string>, RegExp][] = [
      [{ MANAGEMENT_PORT: "eighty" }, /^warren: MANAGEMENT_PORT: got "eighty", expected an integer from 0 to 65535$/],
      [{ MANAGEMENT_TLS_MODE: "maybe" }, /^warren: MANAGEMENT_TLS_MODE: got "maybe", expected one of auto, provided, off$/],
      [{ MANAGEMENT_TLS_MODE: "off" }, /^warren: MANAGEMENT_TLS_MODE: .*MANAGEMENT_ALLOW_INSECURE_HTTP=true/],
      [{ MANAGEMENT_TLS_MODE: "provided" }, /^warren: MANAGEMENT_TLS_CERT_FILE: required/],
      [{ MANAGEMENT_UI_DISABLED: "perhaps" }, /^warren: MANAGEMENT_UI_DISABLED: got "perhaps", expected true or false$/],
      [{ MANAGEMENT_PUBLIC_URL: "not a url" }, /^warren: MANAGEMENT_PUBLIC_URL: /],
    ];
    for (const [env, re] of cases) {
      const r = spawnSync(process.execPath, [BIN, "serve"], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "", CONFIG_DIR: tempDir("warren-env-"), ...env },
        encoding: "utf8",
      });
      assert.equal(r.status, 2, JSON.stringify(env));
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, re);
    }
  });

  it("answers `npx warren --version` in the checkout", () => {
    const r = spawnSync("npx", ["--no-install", "warren", "--version"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version);
  });

  it("turns off only the UI routes with MANAGEMENT_UI_DISABLED", async (t) => {
    const apiOn = (await withWarren(t)).api;
    const apiOff = (await withWarren(t, { env: { MANAGEMENT_UI_DISABLED: "true" } })).api;
    assert.equal((await apiOn.raw("/", { method: "GET" })).status, 200);
    assert.equal((await apiOff.raw("/", { method: "GET" })).status, 404);
    assert.equal((await apiOff.raw("/healthz", { method: "GET" })).status, 200);
    assert.equal((await apiOff.call("AuthService/GetSetupState", {})).status, 200);
    // The tunnel endpoint is still there: it asks an agent for its credentials instead of a UI 404.
    const tunnel = await apiOff.raw("/agent/tunnel", { method: "GET", headers: { authorization: "Bearer agt_x.wrong" } });
    assert.equal(tunnel.status, 401, tunnel.text);
  });

  it("refuses to start on a database newer than the code", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "warren-newer-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const db = new Database(join(dir, "warren.db"));
    db.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    db.prepare("INSERT INTO schema_migrations VALUES (999, 'future', 0)").run();
    db.close();
    const r = spawnSync(process.execPath, [BIN, "serve"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", CONFIG_DIR: dir, MANAGEMENT_PORT: "0", MANAGEMENT_BIND_ADDRESS: "127.0.0.1" },
      encoding: "utf8",
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /database schema version 999 is newer than this Warren supports/);
  });

  it("serves plain HTTP only with MANAGEMENT_ALLOW_INSECURE_HTTP, warns, and drops Secure from cookies unless ENV=production", async (t) => {
    const { w, api } = await withWarren(t, { env: { MANAGEMENT_TLS_MODE: "off", MANAGEMENT_ALLOW_INSECURE_HTTP: "true" } });
    assert.match(w.baseUrl, /^http:\/\//);
    assert.ok(w.logs.some((l) => l.level === 40 && /plain HTTP/.test(l.msg)));
    await setupAdmin(w, api);
    const res = await api.call("AuthService/Login", { username: "admin", password: "correct horse battery staple" });
    assert.doesNotMatch(String(res.headers["set-cookie"]), /Secure/);
    // …unless ENV=production or MANAGEMENT_COOKIE_SECURE=true says the browser reaches it over HTTPS
    // (a TLS-terminating proxy in front): then Secure again. (Both variables: management-settings.test.ts.)
    const behindProxy = await withWarren(t, { env: { MANAGEMENT_TLS_MODE: "off", MANAGEMENT_ALLOW_INSECURE_HTTP: "true", ENV: "production" } });
    await setupAdmin(behindProxy.w, behindProxy.api);
    const secure = await behindProxy.api.call("AuthService/Login", { username: "admin", password: "correct horse battery staple" });
    assert.match(String(secure.headers["set-cookie"]), /; Secure/);
  });

  it("serves an operator's certificate with MANAGEMENT_TLS_MODE=provided", async (t) => {
    const { CertificateAuthority } = await import("../../management/pki/index.ts");
    const dir = mkdtempSync(join(tmpdir(), "warren-provided-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const { ca } = await CertificateAuthority.loadOrCreate(join(dir, "op-ca"));
    const leaf = await ca.issueServerCertificate(["127.0.0.1", "localhost"]);
    writeFileSync(join(dir, "cert.pem"), leaf.certPem);
    writeFileSync(join(dir, "key.pem"), leaf.keyPem, { mode: 0o600 });
    const { w } = await withWarren(t, {
      env: { MANAGEMENT_TLS_MODE: "provided", MANAGEMENT_TLS_CERT_FILE: join(dir, "cert.pem"), MANAGEMENT_TLS_KEY_FILE: join(dir, "key.pem") },
    });
    // Trusting the operator's CA, not Warren's.
    const api = new JsonApi(w.baseUrl, ca.certPem);
    try {
      assert.equal((await api.raw("/healthz", { method: "GET" })).status, 200);
    } finally {
      await api.close();
    }
  });
});

describe("the setup URL on a terminal", () => {
  it("prints the setup URL alone on a plain line, and how long it stays valid, when stderr is a TTY", { skip: !existsSync("/usr/bin/script") && "no script(1)" }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "warren-tty-"));
    // script(1) gives the server a pseudo-terminal, as an operator's shell would.
    const child = spawn("script", ["-qfec", `${process.execPath} ${BIN} serve`, "/dev/null"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", CONFIG_DIR: dir, MANAGEMENT_PORT: "0", MANAGEMENT_BIND_ADDRESS: "127.0.0.1", PUBLIC_HTTP_PORT: "0", LOG_LEVEL: "warn" },
      stdio: ["pipe", "pipe", "inherit"],
      detached: true,
    });
    t.after(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    });
    const lines: string[] = [];
    let urlLine: string | undefined;
    for await (const raw of createInterface({ input: child.stdout! })) {
      const line = raw.replace(/\r$/, "");
      lines.push(line);
      if (/^https:\/\/\S+\/\?setup_token=[A-Za-z0-9_-]{43}$/.test(line)) {
        urlLine = line;
        break;
      }
    }
    assert.ok(urlLine, `a line with only the setup URL; got:\n${lines.join("\n")}`);
    assert.ok(
      lines.some((l) => /within 5 minutes \(until \d\d:\d\d:\d\d/.test(l)),
      "says how long it stays valid",
    );
  });
});
