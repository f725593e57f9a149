import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFile, readdir, stat, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { describe, test } from "node:test";
import { CertificateAuthority, ensureServerCertificate } from "../../../management/pki/index.ts";
import { x509 } from "../../../management/pki/x509.ts";
import { startTlsServer, tempDir, tlsRoundTrip } from "./helpers.ts";

const posix = process.platform !== "win32";
const DAY = 86_400_000;
const HOSTS = ["localhost", "127.0.0.1", "::1", "warren.example.com"];

async function memoryCa(name = "Server Test CA") {
  const m = await CertificateAuthority.generate({ commonName: name });
  return CertificateAuthority.fromPem(m.certPem, m.keyPem);
}

function sanSet(certPem: string): string[] {
  const cert = new x509.X509Certificate(certPem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  assert.ok(san);
  return san.names.items.map((n) => `${n.type}:${n.value}`).sort();
}

describe("issueServerCertificate", () => {
  test("DNS and IP SANs (incl. ::1), serverAuth EKU, AKI, <= 397 days", async () => {
    const ca = await memoryCa();
    const now = new Date();
    const s = await ca.issueServerCertificate([...HOSTS, "[2001:DB8::1]", "LOCALHOST"], { now });
    assert.deepEqual(sanSet(s.certPem), [
      "dns:localhost",
      "dns:warren.example.com",
      "ip:127.0.0.1",
      "ip:2001:db8::1",
      "ip:::1",
    ]);
    const node = new X509Certificate(s.certPem);
    assert.match(node.subjectAltName ?? "", /IP Address:0:0:0:0:0:0:0:1/);
    assert.equal(node.ca, false);
    assert.ok(node.checkIssued(new X509Certificate(ca.certPem)));
    assert.ok(node.checkPrivateKey((await import("node:crypto")).createPrivateKey(s.keyPem)));
    assert.equal(node.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");

    const cert = new x509.X509Certificate(s.certPem);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    assert.deepEqual([...(eku?.usages ?? [])].map(String), [x509.ExtendedKeyUsage.serverAuth]);
    const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
    const caSki = new x509.X509Certificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension);
    assert.equal(aki?.keyId, caSki?.keyId);
    assert.equal(s.serial, cert.serialNumber);
    assert.match(s.serial, /^[0-9a-f]{32}$/);
    assert.equal(s.notAfter.getTime(), cert.notAfter.getTime());
    const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
    assert.ok(lifetime <= 398 * DAY, `lifetime ${lifetime / DAY} days`);
    assert.ok(Math.abs(cert.notAfter.getTime() - (now.getTime() + 397 * DAY)) < 2000);

    const longer = await ca.issueServerCertificate(["localhost"], { now, validityDays: 1000 });
    assert.ok(longer.notAfter.getTime() <= now.getTime() + 397 * DAY + 1000, "capped at 397 days");
    const shorter = await ca.issueServerCertificate(["localhost"], { now, validityDays: 30 });
    assert.ok(Math.abs(shorter.notAfter.getTime() - (now.getTime() + 30 * DAY)) < 2000);
  });

  test("rejects invalid hosts", async () => {
    const ca = await memoryCa();
    await assert.rejects(ca.issueServerCertificate([]), TypeError);
    await assert.rejects(ca.issueServerCertificate(["bad host"]), TypeError);
    await assert.rejects(ca.issueServerCertificate(["example.com:443"]), TypeError);
  });

  test("node:tls client trusting the CA authorizes the server (DNS and IP)", async (t) => {
    const ca = await memoryCa();
    const s = await ca.issueServerCertificate(HOSTS);
    const server = await startTlsServer({ cert: s.certPem, key: s.keyPem });
    t.after(() => server.close());

    const byName = await tlsRoundTrip({ host: "127.0.0.1", port: server.port, ca: ca.certPem, servername: "localhost" });
    assert.equal(byName.ok, true, byName.error);
    assert.equal(byName.authorized, true);

    const byIp = await tlsRoundTrip({ host: "127.0.0.1", port: server.port, ca: ca.certPem });
    assert.equal(byIp.ok, true, byIp.error);

    const wrongName = await tlsRoundTrip({ host: "127.0.0.1", port: server.port, ca: ca.certPem, servername: "other.example" });
    assert.equal(wrongName.ok, false);
    assert.match(wrongName.error ?? "", /ERR_TLS_CERT_ALTNAME_INVALID|altname/i);

    const other = await memoryCa("Someone Else");
    const untrusted = await tlsRoundTrip({ host: "127.0.0.1", port: server.port, ca: other.certPem, servername: "localhost" });
    assert.equal(untrusted.ok, false);
  });

  test("node:tls over IPv6 ::1 authorizes via the IP SAN", async (t) => {
    const ca = await memoryCa();
    const s = await ca.issueServerCertificate(HOSTS);
    let server;
    try {
      server = await startTlsServer({ cert: s.certPem, key: s.keyPem }, "::1");
    } catch {
      t.skip("IPv6 loopback unavailable");
      return;
    }
    t.after(() => server.close());
    const r = await tlsRoundTrip({ host: "::1", port: server.port, ca: ca.certPem });
    assert.equal(r.ok, true, r.error);
  });
});

describe("ensureServerCertificate", () => {
  test("creates, reuses for the same host set, re-issues on host change, expiry and issuer change", async (t) => {
    const dir = path.join(await tempDir(t), "mgmt");
    const { ca } = await CertificateAuthority.loadOrCreate(dir);
    const now = new Date();

    const a = await ensureServerCertificate(ca, dir, HOSTS, { now });
    assert.deepEqual([a.reissued, a.reason], [true, "created"]);
    assert.equal(await readFile(path.join(dir, "server.crt.pem"), "utf8"), a.certPem);
    assert.equal(await readFile(path.join(dir, "server.key.pem"), "utf8"), a.keyPem);
    if (posix) {
      assert.equal((await stat(path.join(dir, "server.key.pem"))).mode & 0o777, 0o600);
      assert.equal((await stat(path.join(dir, "server.crt.pem"))).mode & 0o777, 0o600);
    }
    assert.deepEqual((await readdir(dir)).sort(), ["ca.crt.pem", "ca.key.pem", "server.crt.pem", "server.key.pem"]);

    // Same set, different order/case/spelling → reused, byte-identical.
    const b = await ensureServerCertificate(ca, dir, ["[::1]", "WARREN.example.com.", "127.0.0.1", "LocalHost", "localhost"], { now });
    assert.deepEqual([b.reissued, b.reason], [false, "reused"]);
    assert.equal(b.certPem, a.certPem);
    assert.equal(b.keyPem, a.keyPem);

    // Host set changed (added, then removed).
    const c = await ensureServerCertificate(ca, dir, [...HOSTS, "10.0.0.5"], { now });
    assert.deepEqual([c.reissued, c.reason], [true, "hosts_changed"]);
    assert.ok(sanSet(c.certPem).includes("ip:10.0.0.5"));
    const d = await ensureServerCertificate(ca, dir, HOSTS, { now });
    assert.deepEqual([d.reissued, d.reason], [true, "hosts_changed"]);

    // 31 days before expiry → still reused; 29 days before → re-issued.
    const notAfter = new x509.X509Certificate(d.certPem).notAfter.getTime();
    const e = await ensureServerCertificate(ca, dir, HOSTS, { now: new Date(notAfter - 31 * DAY) });
    assert.equal(e.reason, "reused");
    const later = new Date(notAfter - 29 * DAY);
    const f = await ensureServerCertificate(ca, dir, HOSTS, { now: later });
    assert.deepEqual([f.reissued, f.reason], [true, "expiring"]);
    assert.ok(new x509.X509Certificate(f.certPem).notAfter.getTime() > later.getTime() + 390 * DAY);

    // A different CA → other_issuer.
    const m = await CertificateAuthority.generate();
    const other = await CertificateAuthority.fromPem(m.certPem, m.keyPem);
    const g = await ensureServerCertificate(other, dir, HOSTS, { now: later });
    assert.deepEqual([g.reissued, g.reason], [true, "other_issuer"]);
    assert.ok(other.isIssuerOf(g.certPem));
    assert.equal(ca.isIssuerOf(g.certPem), false);
  });

  test("a corrupt or mismatched pair is replaced (reason created)", async (t) => {
    const dir = path.join(await tempDir(t), "mgmt");
    const { ca } = await CertificateAuthority.loadOrCreate(dir);
    const a = await ensureServerCertificate(ca, dir, ["localhost"]);
    const other = await ca.issueServerCertificate(["localhost"]);
    await writeFile(path.join(dir, "server.key.pem"), other.keyPem); // key no longer matches cert
    const b = await ensureServerCertificate(ca, dir, ["localhost"]);
    assert.deepEqual([b.reissued, b.reason], [true, "created"]);
    assert.notEqual(b.certPem, a.certPem);
    await writeFile(path.join(dir, "server.crt.pem"), "garbage");
    const c = await ensureServerCertificate(ca, dir, ["localhost"]);
    assert.deepEqual([c.reissued, c.reason], [true, "created"]);
    const d = await ensureServerCertificate(ca, dir, ["localhost"]);
    assert.deepEqual([d.reissued, d.reason], [false, "reused"]);
  });
});
