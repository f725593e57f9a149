// The ACME engine with the real in-process DataPlane answering Pebble: HTTP-01 by the reserved-paths
// stage of an HTTP listener, TLS-ALPN-01 by an HTTPS listener's ALPN/SNI callbacks — both reading the
// plane's own acmeChallenges. The issued certificate is then put into the HTTPS listener's store and a
// real TLS client verifies what the data plane serves against Pebble's root.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { once } from "node:events";
import { X509Certificate } from "node:crypto";
import { Harness, silent, type HarnessOptions, type CertificateInit } from "../pipeline/harness.ts";
import { generateSelfSigned } from "../../management/tls/self-signed.ts";
import { issueAcmeCertificate, registerAcmeAccount, AcmeError, type AcmeAccount } from "../../management/tls/acme/client.ts";
import { Pebble, pebbleMissing } from "../helpers/pebble.ts";

async function servedBy(port: number, servername: string, ca: string): Promise<X509Certificate> {
  const socket = tls.connect({ host: "127.0.0.1", port, servername, ca });
  try {
    await once(socket, "secureConnect");
    assert.equal(socket.authorized, true, String(socket.authorizationError));
    return new X509Certificate(socket.getPeerX509Certificate()!.raw);
  } finally {
    socket.destroy();
  }
}

describe("ACME engine through the real data plane, against Pebble", { skip: pebbleMissing, timeout: 120_000 }, () => {
  let h: Harness;
  let pebble: Pebble;
  let account: AcmeAccount;
  let rootPem: string;
  let options: (certificates: CertificateInit[]) => HarnessOptions;

  before(async () => {
    const fallback = await generateSelfSigned(["fallback.invalid"], 1);
    options = (certificates) => ({
      fallbackCertificate: async () => ({ cert: fallback.certPem, key: fallback.keyPem }),
      listeners: [
        { protocol: "http", routes: [] },
        { protocol: "https", routes: [], tls: { certificates } },
      ],
    });
    h = await Harness.start(options([]));
    pebble = await Pebble.start({ httpPort: h.port(0), tlsPort: h.port(1) });
    rootPem = await pebble.rootPem();
    const reg = await registerAcmeAccount({ directoryUrl: pebble.directoryUrl, email: "ops@warren.test", caCertificates: pebble.caCertPem });
    account = { directoryUrl: pebble.directoryUrl, email: "ops@warren.test", ...reg };
  });

  after(async () => {
    await pebble?.stop();
    await h?.close();
  });

  it("HTTP-01 answered by an HTTP listener, TLS-ALPN-01 by an HTTPS listener; the data plane then serves both certificates", async () => {
    const viaHttp = await issueAcmeCertificate({ account, names: ["dp-http.warren.test"], challenge: "http-01", challenges: h.plane.acmeChallenges, caCertificates: pebble.caCertPem, log: silent });
    const viaAlpn = await issueAcmeCertificate({ account, names: ["dp-alpn.warren.test"], challenge: "tls-alpn-01", challenges: h.plane.acmeChallenges, caCertificates: pebble.caCertPem, log: silent });
    assert.equal(h.plane.acmeChallenges.hasTlsAlpn01("dp-alpn.warren.test"), false);

    await h.reconfigure(
      options([
        { names: ["dp-http.warren.test"], certPem: viaHttp.certPem, keyPem: viaHttp.keyPem },
        { names: ["dp-alpn.warren.test"], certPem: viaAlpn.certPem, keyPem: viaAlpn.keyPem },
      ]),
    );
    const a = await servedBy(h.port(1), "dp-http.warren.test", rootPem);
    assert.match(a.subjectAltName ?? "", /DNS:dp-http\.warren\.test/);
    const b = await servedBy(h.port(1), "dp-alpn.warren.test", rootPem);
    assert.match(b.subjectAltName ?? "", /DNS:dp-alpn\.warren\.test/);
  });

  it("an answer set in another AcmeChallenges (not the plane's) is not served: Pebble rejects it", async () => {
    const { AcmeChallenges } = await import("../../proxy/tls/acme-challenges.ts");
    await assert.rejects(
      issueAcmeCertificate({ account, names: ["dp-none.warren.test"], challenge: "tls-alpn-01", challenges: new AcmeChallenges(), caCertificates: pebble.caCertPem, log: silent }),
      (e: Error) => (console.log(`# ${e.message}`), e instanceof AcmeError) && /^dp-none\.warren\.test: tls-alpn-01 validation failed: /.test(e.message),
    );
  });
});
