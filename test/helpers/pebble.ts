// A real Pebble ACME CA (+ pebble-challtestsrv as its DNS) on free loopback ports, for the ACME
// engine's tests. Every name resolves to 127.0.0.1 through challtestsrv, so Pebble's validation
// authority connects to `httpPort` / `tlsPort` — the listeners under test. DNS-01 TXT records are set
// through challtestsrv's management API (setTxt/clearTxt). Pebble's directory TLS certificate is
// generated per run (caCertPem trusts it); rootPem() is the root that signs issued certificates.
// Readiness is the directory answering (and challtestsrv resolving a name), polled, never slept.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import https from "node:https";
import http from "node:http";
import { Resolver } from "node:dns/promises";
import { x509 } from "../../management/pki/x509.ts";
import { generateP256, randomSerial } from "../../management/pki/keys.ts";
import { freePort } from "./agent-process.ts";

export const PEBBLE = process.env.PEBBLE ?? "/usr/bin/pebble";
export const CHALLTESTSRV = process.env.PEBBLE_CHALLTESTSRV ?? "/usr/bin/pebble-challtestsrv";

/** Why the Pebble tests cannot run here, or false when they can (for node:test's `skip`). */
export const pebbleMissing: string | false =
  existsSync(PEBBLE) && existsSync(CHALLTESTSRV) ? false : `pebble / pebble-challtestsrv not installed (${PEBBLE}); Debian package "pebble" provides both`;

export interface PebbleOptions {
  /** Port Pebble's VA connects to for HTTP-01 (default: an unused port, so HTTP-01 fails). */
  httpPort?: number;
  /** Port Pebble's VA connects to for TLS-ALPN-01. */
  tlsPort?: number;
  /** Lifetime of the certificates it issues, in seconds (Pebble's default: about five years). */
  certificateValidityPeriod?: number;
}

/** A CA plus a 127.0.0.1/localhost leaf for Pebble's own HTTPS (what minica does for Pebble's repo). */
async function directoryTls(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const alg = { name: "ECDSA", hash: "SHA-256" };
  const ca = await generateP256();
  const now = Date.now();
  const notBefore = new Date(now - 60_000);
  const notAfter = new Date(now + 86_400_000);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=pebble test directory CA",
    notBefore,
    notAfter,
    keys: { privateKey: ca.privateKey, publicKey: ca.publicKey },
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      await x509.SubjectKeyIdentifierExtension.create(ca.publicKey),
    ],
  });
  const leaf = await generateP256();
  const leafCert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: "CN=127.0.0.1",
    issuer: caCert.subject,
    notBefore,
    notAfter,
    publicKey: leaf.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: "ip", value: "127.0.0.1" },
        { type: "dns", value: "localhost" },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.publicKey),
    ],
  });
  return { caPem: caCert.toString("pem"), certPem: leafCert.toString("pem"), keyPem: leaf.keyPem };
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
  });
}

function httpPost(url: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error(`POST ${url} timed out`)));
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** Retries `probe` until it resolves (an answer is the event awaited), bounded by `timeoutMs`. */
async function until<T>(what: string, probe: () => Promise<T>, timeoutMs: number, output: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new Error(`${what} not ready after ${timeoutMs} ms (${String(last)}):\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class Pebble {
  private readonly children: ChildProcess[] = [];
  private output = "";

  private constructor(
    private readonly dir: string,
    readonly acmePort: number,
    readonly managementPort: number,
    readonly challtestsrvPort: number,
    readonly dnsPort: number,
    /** PEM to trust for the directory's HTTPS (Pebble's own server certificate's CA). */
    readonly caCertPem: string,
  ) {}

  static async start(opts: PebbleOptions = {}): Promise<Pebble> {
    const dir = await mkdtemp(join(tmpdir(), "warren-pebble-"));
    const tlsFiles = await directoryTls();
    const [acmePort, managementPort, challtestsrvPort, dnsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const pebble = new Pebble(dir, acmePort, managementPort, challtestsrvPort, dnsPort, tlsFiles.caPem);
    try {
      await writeFile(join(dir, "cert.pem"), tlsFiles.certPem);
      await writeFile(join(dir, "key.pem"), tlsFiles.keyPem, { mode: 0o600 });
      await writeFile(
        join(dir, "pebble-config.json"),
        JSON.stringify({
          pebble: {
            listenAddress: `127.0.0.1:${acmePort}`,
            managementListenAddress: `127.0.0.1:${managementPort}`,
            certificate: join(dir, "cert.pem"),
            privateKey: join(dir, "key.pem"),
            httpPort: opts.httpPort ?? (await freePort()),
            tlsPort: opts.tlsPort ?? (await freePort()),
            ocspResponderURL: "",
            externalAccountBindingRequired: false,
            ...(opts.certificateValidityPeriod ? { certificateValidityPeriod: opts.certificateValidityPeriod } : {}),
          },
        }),
      );
      pebble.spawn(CHALLTESTSRV, [
        "-management", `127.0.0.1:${challtestsrvPort}`,
        "-dns01", `127.0.0.1:${dnsPort}`,
        "-http01", "", "-https01", "", "-tlsalpn01", "",
        "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
      ], {});
      const resolver = new Resolver({ timeout: 500, tries: 1 });
      resolver.setServers([`127.0.0.1:${dnsPort}`]);
      await until("pebble-challtestsrv DNS", async () => {
        const a = await resolver.resolve4("ready.warren.test");
        if (a[0] !== "127.0.0.1") throw new Error(`resolved to ${a.join(",")}`);
      }, 15_000, () => pebble.output);
      pebble.spawn(PEBBLE, ["-config", join(dir, "pebble-config.json"), "-dnsserver", `127.0.0.1:${dnsPort}`], {
        // No artificial validation delays; never reject a good nonce; never reuse an authorization, so
        // every order really validates (a reused one would hide a missing challenge).
        PEBBLE_VA_NOSLEEP: "1",
        PEBBLE_WFE_NONCEREJECT: "0",
        PEBBLE_AUTHZREUSE: "0",
      });
      await until("pebble directory", async () => {
        const r = await httpsGet(pebble.directoryUrl, pebble.caCertPem);
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      }, 15_000, () => pebble.output);
      return pebble;
    } catch (err) {
      await pebble.stop();
      throw err;
    }
  }

  private spawn(bin: string, args: string[], env: Record<string, string>): void {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    const onData = (chunk: Buffer) => {
      this.output += chunk.toString();
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("error", (err) => (this.output += `\n${bin}: ${err.message}\n`));
    this.children.push(child);
  }

  get directoryUrl(): string {
    return `https://127.0.0.1:${this.acmePort}/dir`;
  }

  /** challtestsrv's management API (POST /set-txt, /clear-txt, …). */
  get challtestsrvUrl(): string {
    return `http://127.0.0.1:${this.challtestsrvPort}`;
  }

  /** The root that signs the certificates Pebble issues (a new one each run). */
  async rootPem(): Promise<string> {
    const r = await httpsGet(`https://127.0.0.1:${this.managementPort}/roots/0`, this.caCertPem);
    if (r.status !== 200) throw new Error(`pebble /roots/0: HTTP ${r.status}`);
    return r.body;
  }

  /** challtestsrv: answer TXT queries for `host` (a FQDN, trailing dot optional) with `value` too. */
  async setTxt(host: string, value: string): Promise<void> {
    const status = await httpPost(`${this.challtestsrvUrl}/set-txt`, { host: fqdn(host), value });
    if (status !== 200) throw new Error(`challtestsrv set-txt: HTTP ${status}`);
  }

  /** challtestsrv: forget every TXT value of `host`. */
  async clearTxt(host: string): Promise<void> {
    const status = await httpPost(`${this.challtestsrvUrl}/clear-txt`, { host: fqdn(host) });
    if (status !== 200) throw new Error(`challtestsrv clear-txt: HTTP ${status}`);
  }

  /** What the two processes printed (for a failing test's message). */
  get logs(): string {
    return this.output;
  }

  /** Stops Pebble only (challtestsrv keeps running): the CA going away mid-flight. */
  async stopCa(): Promise<void> {
    const ca = this.children[1];
    if (ca) await stopChild(ca);
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map(stopChild));
    await rm(this.dir, { recursive: true, force: true });
  }
}

function fqdn(host: string): string {
  return host.endsWith(".") ? host : `${host}.`;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}
