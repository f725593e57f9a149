import { WarrenError } from "../../../lib/errors.ts";
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { chmod, readFile, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { describe, test } from "node:test";
import { CertificateAuthority, PkiError, fingerprintSha256, normalizeFingerprint } from "../../../management/pki/index.ts";
import { x509 } from "../../../management/pki/x509.ts";
import { tempDir } from "./helpers.ts";

const posix = process.platform !== "win32";
const mode = async (p: string) => (await stat(p)).mode & 0o777;

function assertPkiError(code: PkiError["code"]) {
  return (err: unknown) => {
    assert.ok(code === "io_error" ? err instanceof WarrenError : err instanceof PkiError, `expected PkiError, got ${String(err)}`);
    assert.ok(err instanceof WarrenError);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

describe("CertificateAuthority.loadOrCreate", () => {
  test("creates the CA with private modes, then reloads the same CA", async (t) => {
    const dir = path.join(await tempDir(t), "certs", "management");
    const now = new Date("2025-01-01T00:00:00Z");
    const first = await CertificateAuthority.loadOrCreate(dir, { now, commonName: "Test CA" });
    assert.equal(first.created, true);
    assert.match(first.ca.fingerprintSha256, /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/);

    if (posix) {
      assert.equal(await mode(dir), 0o700);
      assert.equal(await mode(path.join(dir, "ca.key.pem")), 0o600);
      assert.equal(await mode(path.join(dir, "ca.crt.pem")), 0o644);
    }
    // No temp or lock files left behind.
    assert.deepEqual((await readdir(dir)).sort(), ["ca.crt.pem", "ca.key.pem"]);

    const certPem = await readFile(path.join(dir, "ca.crt.pem"), "utf8");
    assert.equal(fingerprintSha256(certPem), first.ca.fingerprintSha256);
    assert.equal(first.ca.certPem, certPem);

    // The certificate itself: ECDSA P-256, CA:true critical, keyCertSign|cRLSign, SKI, 10 years.
    const node = new X509Certificate(certPem);
    assert.equal(node.ca, true);
    assert.equal(node.publicKey.asymmetricKeyType, "ec");
    assert.equal(node.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.equal(node.fingerprint256.toLowerCase(), first.ca.fingerprintSha256);
    const cert = new x509.X509Certificate(certPem);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    assert.ok(bc?.ca && bc.critical);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    assert.ok(ku?.critical);
    assert.equal(ku.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    assert.ok(cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
    assert.match(cert.subject, /CN=Test CA/);
    assert.equal(cert.notAfter.getUTCFullYear(), 2035);
    assert.ok(cert.notBefore.getTime() <= now.getTime());
    assert.ok(await cert.verify({ signatureOnly: true }), "self-signature verifies");

    const second = await CertificateAuthority.loadOrCreate(dir);
    assert.equal(second.created, false);
    assert.equal(second.ca.fingerprintSha256, first.ca.fingerprintSha256);
  });

  test("tightens a loose directory and key file", { skip: !posix }, async (t) => {
    const dir = path.join(await tempDir(t), "ca");
    const { ca } = await CertificateAuthority.loadOrCreate(dir);
    await chmod(dir, 0o755);
    await chmod(path.join(dir, "ca.key.pem"), 0o644);
    const again = await CertificateAuthority.loadOrCreate(dir);
    assert.equal(again.created, false);
    assert.equal(again.ca.fingerprintSha256, ca.fingerprintSha256);
    assert.equal(await mode(dir), 0o700);
    assert.equal(await mode(path.join(dir, "ca.key.pem")), 0o600);
  });

  test("refuses to replace a half-present CA", async (t) => {
    const root = await tempDir(t);
    for (const missing of ["ca.key.pem", "ca.crt.pem"]) {
      const dir = path.join(root, missing);
      await CertificateAuthority.loadOrCreate(dir);
      await rm(path.join(dir, missing));
      await assert.rejects(CertificateAuthority.loadOrCreate(dir), (err: unknown) => {
        assertPkiError("io_error")(err);
        assert.match((err as Error).message, new RegExp(missing.replace(".", "\\.")));
        return true;
      });
      // Nothing was created in its place.
      assert.equal((await readdir(dir)).includes(missing), false);
    }
  });

  test("a key that does not match the certificate is rejected without leaking it", async (t) => {
    const dir = path.join(await tempDir(t), "ca");
    await CertificateAuthority.loadOrCreate(dir);
    const other = await CertificateAuthority.generate();
    await writeFile(path.join(dir, "ca.key.pem"), other.keyPem, { mode: 0o600 });
    await assert.rejects(CertificateAuthority.loadOrCreate(dir), (err: unknown) => {
      assertPkiError("pki_bad_cert")(err);
      assert.doesNotMatch((err as Error).message, /PRIVATE KEY|MIG/);
      return true;
    });

    const secretish = "-----BEGIN PRIVATE KEY-----\nTOP-SECRET-MATERIAL\n-----END PRIVATE KEY-----\n";
    await writeFile(path.join(dir, "ca.key.pem"), secretish, { mode: 0o600 });
    await assert.rejects(CertificateAuthority.loadOrCreate(dir), (err: unknown) => {
      assertPkiError("pki_bad_cert")(err);
      assert.doesNotMatch(String((err as Error).message), /TOP-SECRET/);
      assert.doesNotMatch(JSON.stringify(err), /TOP-SECRET/);
      return true;
    });
  });

  test("concurrent calls create exactly one CA", async (t) => {
    const dir = path.join(await tempDir(t), "ca");
    const results = await Promise.all([1, 2, 3, 4].map(() => CertificateAuthority.loadOrCreate(dir)));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.ca.fingerprintSha256)).size, 1);
  });

  test("waits for another process's creation lock, and takes over a stale one", async (t) => {
    const root = await tempDir(t);
    const dir = path.join(root, "held");
    await CertificateAuthority.loadOrCreate(path.join(root, "warmup"));
    const { mkdir } = await import("node:fs/promises");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const lock = path.join(dir, ".ca.lock");
    await writeFile(lock, "12345\n");
    let done = false;
    const pending = CertificateAuthority.loadOrCreate(dir).then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(done, false, "must wait while the lock is held");
    await rm(lock);
    const r = await pending;
    assert.equal(r.created, true);

    const staleDir = path.join(root, "stale");
    await mkdir(staleDir, { recursive: true, mode: 0o700 });
    const staleLock = path.join(staleDir, ".ca.lock");
    await writeFile(staleLock, "99999\n");
    const old = new Date(Date.now() - 10 * 60_000);
    await utimes(staleLock, old, old);
    const s = await CertificateAuthority.loadOrCreate(staleDir);
    assert.equal(s.created, true);
    assert.deepEqual((await readdir(staleDir)).sort(), ["ca.crt.pem", "ca.key.pem"]);
  });

  test("generate + fromPem round-trip in memory", async () => {
    const m = await CertificateAuthority.generate({ commonName: "Mem CA" });
    const ca = await CertificateAuthority.fromPem(m.certPem, m.keyPem);
    assert.equal(ca.fingerprintSha256, m.fingerprintSha256);
    assert.equal(createPrivateKey(m.keyPem).asymmetricKeyType, "ec");
    assert.match(m.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  });
});

describe("fingerprintSha256", () => {
  test("same value for PEM, DER and PEM-in-Buffer; matches node's fingerprint256", async () => {
    const m = await CertificateAuthority.generate();
    const node = new X509Certificate(m.certPem);
    const expected = node.fingerprint256.toLowerCase();
    assert.equal(fingerprintSha256(m.certPem), expected);
    assert.equal(fingerprintSha256(node.raw), expected);
    assert.equal(fingerprintSha256(Buffer.from(m.certPem)), expected);
    assert.equal(m.fingerprintSha256, expected);
    assert.equal(normalizeFingerprint(node.fingerprint256), expected);
    assert.equal(normalizeFingerprint(expected.replace(/:/g, "").toUpperCase()), expected);
    assert.equal(normalizeFingerprint("abc"), null);
  });

  test("rejects non-certificates", () => {
    assert.throws(() => fingerprintSha256("hello"), assertPkiError("pki_bad_cert"));
    assert.throws(() => fingerprintSha256(Buffer.from([1, 2, 3])), assertPkiError("pki_bad_cert"));
  });
});
