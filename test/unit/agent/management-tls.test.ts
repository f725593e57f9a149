import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, it, before } from "node:test";
import { CertificateAuthority } from "../../../management/pki/index.ts";
import { ManagementTls, ManagementTlsError, verifyPinnedChain } from "../../../agent/management-tls.ts";
import { certSha256 } from "../../../agent/settings.ts";
import { startTlsServer, tlsRoundTrip } from "../pki/helpers.ts";

const DAY = 86_400_000;
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let server: { certPem: string; keyPem: string };
let impostor: { certPem: string; keyPem: string };
let pin: string;

async function memoryCa(name: string) {
  const m = await CertificateAuthority.generate({ commonName: name });
  return CertificateAuthority.fromPem(m.certPem, m.keyPem);
}

const x = (pem: string) => new X509Certificate(pem);

function code(c: ManagementTlsError["code"], message?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof ManagementTlsError, String(e));
    assert.equal(e.code, c, e.message);
    if (message) assert.match(e.message, message);
    return true;
  };
}

before(async () => {
  ca = await memoryCa("Pin Test CA");
  otherCa = await memoryCa("Impostor CA");
  server = await ca.issueServerCertificate(["localhost", "127.0.0.1", "warren.example.com"]);
  impostor = await otherCa.issueServerCertificate(["localhost", "127.0.0.1", "warren.example.com"]);
  pin = certSha256(x(ca.certPem));
});

describe("verifyPinnedChain", () => {
  it("accepts leaf + pinned CA for the right host names and returns the CA", () => {
    for (const host of ["localhost", "127.0.0.1", "warren.example.com"]) {
      const got = verifyPinnedChain(host, [x(server.certPem), x(ca.certPem)], pin);
      assert.equal(certSha256(got), pin);
    }
  });

  it("explains a leaf-only chain", () => {
    assert.throws(() => verifyPinnedChain("localhost", [x(server.certPem)], pin), code("PIN_MISMATCH", /only its own certificate/));
  });

  it("rejects a chain without the pinned certificate", () => {
    assert.throws(() => verifyPinnedChain("localhost", [x(impostor.certPem), x(otherCa.certPem)], pin), code("PIN_MISMATCH", /MANAGEMENT_CA_SHA256/));
    assert.throws(() => verifyPinnedChain("localhost", [], pin), code("NO_CERTIFICATE"));
  });

  it("rejects the pinned CA appended to a chain it did not sign", () => {
    assert.throws(() => verifyPinnedChain("localhost", [x(impostor.certPem), x(ca.certPem)], pin), code("CHAIN_BROKEN"));
  });

  it("checks the host name", () => {
    assert.throws(() => verifyPinnedChain("evil.example", [x(server.certPem), x(ca.certPem)], pin), code("HOST_MISMATCH", /evil\.example/));
    assert.throws(() => verifyPinnedChain("10.0.0.1", [x(server.certPem), x(ca.certPem)], pin), code("HOST_MISMATCH"));
  });

  it("checks validity dates", () => {
    assert.throws(() => verifyPinnedChain("localhost", [x(server.certPem), x(ca.certPem)], pin, new Date(Date.now() + 400 * DAY)), code("CERT_EXPIRED"));
  });

  it("refuses a pin on a leaf that is not self-signed", () => {
    assert.throws(() => verifyPinnedChain("localhost", [x(server.certPem), x(ca.certPem)], certSha256(x(server.certPem))), code("PIN_NOT_CA"));
  });
});

describe("ManagementTls against real TLS servers", () => {
  it("pin: fetches the chain once, then verifies connections normally with the pinned CA", async (t) => {
    const good = await startTlsServer({ cert: server.certPem + ca.certPem, key: server.keyPem });
    t.after(() => good.close());
    let fetches = 0;
    const mt = new ManagementTls(new URL(`https://127.0.0.1:${good.port}`), { kind: "pin", sha256: pin }, {
      fetchChain: async (host, port) => {
        fetches++;
        const { fetchPresentedChain } = await import("../../../agent/management-tls.ts");
        return fetchPresentedChain(host, port);
      },
    });
    const opts = await mt.options();
    assert.equal(opts.rejectUnauthorized, true);
    assert.equal(opts.servername, undefined, "no SNI for an IP address");
    const r = await tlsRoundTrip({ host: "127.0.0.1", port: good.port, ...opts });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.authorized, true);
    await mt.options();
    assert.equal(fetches, 1, "the chain is fetched once");
    assert.equal(certSha256(x(mt.caPem!)), pin);

    // An impostor with a valid-looking chain from another CA fails normal verification with that pinned CA.
    const bad = await startTlsServer({ cert: impostor.certPem + otherCa.certPem, key: impostor.keyPem });
    t.after(() => bad.close());
    const r2 = await tlsRoundTrip({ host: "127.0.0.1", port: bad.port, ...opts });
    assert.equal(r2.ok, false);
  });

  it("pin: a server sending only its leaf is refused with an explanation, and nothing is trusted", async (t) => {
    const leafOnly = await startTlsServer({ cert: server.certPem, key: server.keyPem });
    t.after(() => leafOnly.close());
    const mt = new ManagementTls(new URL(`https://127.0.0.1:${leafOnly.port}`), { kind: "pin", sha256: pin });
    await assert.rejects(mt.options(), code("PIN_MISMATCH", /only its own certificate/));
    assert.equal(mt.caPem, undefined);
  });

  it("pin: an impostor is refused before anything is sent", async (t) => {
    const bad = await startTlsServer({ cert: impostor.certPem + otherCa.certPem, key: impostor.keyPem });
    t.after(() => bad.close());
    const mt = new ManagementTls(new URL(`https://127.0.0.1:${bad.port}`), { kind: "pin", sha256: pin });
    await assert.rejects(mt.options(), code("PIN_MISMATCH"));
  });

  it("CA file: normal verification, host name checked", async (t) => {
    const good = await startTlsServer({ cert: server.certPem, key: server.keyPem });
    t.after(() => good.close());
    const mt = new ManagementTls(new URL(`https://127.0.0.1:${good.port}`), { kind: "ca", caPem: ca.certPem, caFile: "/ca.pem" });
    const opts = await mt.options({ certPem: "C", keyPem: "K" });
    assert.equal(opts.cert, "C");
    assert.equal(opts.key, "K");
    const { cert: _c, key: _k, ...noClient } = opts;
    assert.ok((await tlsRoundTrip({ host: "127.0.0.1", port: good.port, ...noClient })).ok);
    const bad = await startTlsServer({ cert: impostor.certPem, key: impostor.keyPem });
    t.after(() => bad.close());
    assert.equal((await tlsRoundTrip({ host: "127.0.0.1", port: bad.port, ...noClient })).ok, false);
    const wrongName = await ca.issueServerCertificate(["other.example"]);
    const misnamed = await startTlsServer({ cert: wrongName.certPem, key: wrongName.keyPem });
    t.after(() => misnamed.close());
    const r = await tlsRoundTrip({ host: "127.0.0.1", port: misnamed.port, ...noClient });
    assert.equal(r.ok, false);
    assert.match(r.error ?? "", /ALTNAME|does not match/i);
  });

  it("insecure http: no TLS options", async () => {
    const mt = new ManagementTls(new URL("http://127.0.0.1:1"), { kind: "insecure" });
    assert.deepEqual(await mt.options(), {});
    assert.equal(mt.secure, false);
  });
});
