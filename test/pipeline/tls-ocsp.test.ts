// OCSP stapling against a real responder: OpenSSL's `openssl ocsp` serves the test CA's index. The
// data plane builds the request (openssl must understand it and find the serial), staples the "good"
// answer to handshakes that ask for status (openssl verifies the stapled bytes against the CA), and
// staples nothing for a revoked certificate.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Harness, capturingLogger } from "./harness.ts";
import { freePort } from "../helpers/agent-process.ts";
import { pollUntil } from "../helpers/wait.ts";
import { generateP256, randomSerial } from "../../management/pki/keys.ts";
import { x509 } from "../../management/pki/x509.ts";
import { generateSelfSigned } from "../../management/tls/self-signed.ts";
import { ocspTarget, parseOcspResponse } from "../../proxy/index.ts";
import { RouteAction } from "../../proto/gen/warren/v1/proxy_pb.ts";

const alg = { name: "ECDSA", hash: "SHA-256" };
const DAY = 86_400_000;

async function testPki(ocspUrl: string) {
  const caKeys = await generateP256();
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=OCSP Test CA",
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 30 * DAY),
    keys: { privateKey: caKeys.privateKey, publicKey: caKeys.publicKey },
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true)],
  });
  const leaf = async (name: string) => {
    const keys = await generateP256();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=${name}`,
      issuer: ca.subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 10 * DAY),
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: alg,
      extensions: [
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: name }]),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.AuthorityInfoAccessExtension({ ocsp: ocspUrl }),
      ],
    });
    return { certPem: cert.toString("pem"), keyPem: keys.keyPem, chainPem: `${cert.toString("pem")}\n${ca.toString("pem")}` };
  };
  return { caPem: ca.toString("pem"), caKeyPem: caKeys.keyPem, good: await leaf("ocsp.test"), revoked: await leaf("revoked.test") };
}

/** OpenSSL's CA database line for a certificate. */
function indexLine(certPem: string, revoked: boolean): string {
  const c = new X509Certificate(certPem);
  const t = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  return [revoked ? "R" : "V", t(Date.parse(c.validTo)), revoked ? t(Date.now() - 60_000) : "", c.serialNumber, "unknown", "/CN=x"].join("\t");
}

/** The stapled response a handshake for `servername` gets (empty when none). */
function stapled(port: number, servername: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let staple: Buffer = Buffer.alloc(0);
    // requestOCSP is a documented tls.connect option that @types/node 20 leaves out.
    const options = { host: "127.0.0.1", port, servername, rejectUnauthorized: false, requestOCSP: true } as tls.ConnectionOptions;
    const s = tls.connect(options, () => {
      s.destroy();
      resolve(staple);
    });
    // Node reports "asked, got none" as null.
    s.on("OCSPResponse", (r: Buffer | null) => (staple = r ?? Buffer.alloc(0)));
    s.once("error", reject);
  });
}

const opensslMissing = spawnSync("openssl", ["version"]).status === 0 ? false : "the openssl command is not installed (Debian package openssl)";

describe("OCSP stapling", { skip: opensslMissing }, () => {
  const dir = mkdtempSync(join(tmpdir(), "warren-ocsp-"));
  let responder: ChildProcess;
  let pki: Awaited<ReturnType<typeof testPki>>;
  let h: Harness;
  const { log, lines } = capturingLogger();

  before(async () => {
    const port = await freePort();
    pki = await testPki(`http://127.0.0.1:${port}`);
    writeFileSync(join(dir, "ca.pem"), pki.caPem);
    writeFileSync(join(dir, "ca.key"), pki.caKeyPem);
    writeFileSync(join(dir, "leaf.pem"), pki.good.certPem);
    writeFileSync(join(dir, "index.txt"), `${indexLine(pki.good.certPem, false)}\n${indexLine(pki.revoked.certPem, true)}\n`);
    responder = spawn("openssl", ["ocsp", "-index", join(dir, "index.txt"), "-port", String(port), "-CA", join(dir, "ca.pem"), "-rsigner", join(dir, "ca.pem"), "-rkey", join(dir, "ca.key"), "-ndays", "1"], { stdio: ["ignore", "pipe", "pipe"] });
    // Ready when it says so: the responder serves one connection at a time, and a bare connect probe would wedge it.
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes("waiting for OCSP client connections")) resolve();
      };
      responder.stdout!.on("data", onData);
      responder.stderr!.on("data", onData);
      responder.once("exit", (code) => reject(new Error(`openssl ocsp exited ${code}: ${out}`)));
    });
    const fallback = await generateSelfSigned(["fallback.invalid"], 1);
    h = await Harness.start({
      log,
      fallbackCertificate: async () => ({ cert: fallback.certPem, key: fallback.keyPem }),
      listeners: [
        {
          protocol: "https",
          routes: [{ pathPrefix: "/", action: RouteAction.STATIC, staticResponse: { status: 204 } }],
          tls: {
            defaultCertificate: { cert: pki.good.chainPem, key: pki.good.keyPem },
            certificates: [{ names: ["revoked.test"], certPem: pki.revoked.chainPem, keyPem: pki.revoked.keyPem }],
          },
        },
        // The same on a listener with HTTP/2 (another kind of server object).
        {
          protocol: "https",
          http2: true,
          routes: [{ pathPrefix: "/", action: RouteAction.STATIC, staticResponse: { status: 204 } }],
          tls: { defaultCertificate: { cert: pki.good.chainPem, key: pki.good.keyPem } },
        },
      ],
    });
  });
  after(async () => {
    await h?.close();
    responder?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("staples the responder's good answer, which OpenSSL verifies against the CA", async () => {
    const staple = await pollUntil("a stapled OCSP response", () => stapled(h.port(0), "ocsp.test"), (b) => b.length > 0, { timeoutMs: 15_000, intervalMs: 50 });
    const answer = parseOcspResponse(staple, ocspTarget(pki.good.chainPem)!.serial);
    assert.equal(answer.status, "good");
    writeFileSync(join(dir, "staple.der"), staple);
    const check = spawnSync("openssl", ["ocsp", "-respin", join(dir, "staple.der"), "-CAfile", join(dir, "ca.pem"), "-issuer", join(dir, "ca.pem"), "-cert", join(dir, "leaf.pem"), "-no_nonce"], { encoding: "utf8" });
    assert.match(check.stderr + check.stdout, /Response verify OK/, check.stderr);
    assert.match(check.stdout, /leaf\.pem: good/);
    assert.deepEqual(await stapled(h.port(1), "ocsp.test"), staple, "an HTTP/2 listener staples the same answer");
  });

  it("staples nothing for a revoked certificate, and says so in the log", async () => {
    await pollUntil("the revoked answer to be logged", async () => lines.filter((l) => l.component === "public_tls").map((l) => `${String(l.msg)} ${String(l.status ?? l.err ?? "")}`), (seen) => seen.some((x) => x.includes("revoked")), { timeoutMs: 15_000, intervalMs: 50 });
    assert.equal((await stapled(h.port(0), "revoked.test")).length, 0);
  });

  it("refuses answers that are not about the certificate, or not OCSP at all", () => {
    const good = ocspTarget(pki.good.chainPem)!;
    assert.throws(() => parseOcspResponse(Buffer.from("garbage"), good.serial));
    assert.throws(() => parseOcspResponse(Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]), good.serial), /malformedRequest/);
    assert.equal(ocspTarget(pki.good.certPem), undefined, "no issuer in the chain: nothing to ask");
  });
});
