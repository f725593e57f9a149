// fetchRenewalInfo (RFC 9773) against a tiny local ACME directory that offers renewalInfo: the
// certificate identifier is RFC 9773's own example (AKI 69:88:5B:…:D4, serial 00:87:65:43:21 →
// "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"), the window and Retry-After come back parsed.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { x509 } from "../../../management/pki/x509.ts";
import { generateP256 } from "../../../management/pki/keys.ts";
import { ariCertId, fetchRenewalInfo } from "../../../management/tls/acme/renewal-info.ts";

async function certificate(serialNumber: string, aki?: string): Promise<string> {
  const key = await generateP256();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber,
    name: "CN=ari.warren.test",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: aki ? [new x509.AuthorityKeyIdentifierExtension(aki)] : [],
  });
  return cert.toString("pem");
}

const RFC_AKI = "69885b6b87464041e1b37b847ba0ae2cde01c8d4";
const RFC_CERT_ID = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";

describe("fetchRenewalInfo", { timeout: 30_000 }, () => {
  const requests: string[] = [];
  let withAri = true;
  let status = 200;
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url === "/dir") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ newNonce: `${base}/nonce`, ...(withAri ? { renewalInfo: `${base}/renewal-info/` } : {}) }));
    }
    if (req.url?.startsWith("/renewal-info/")) {
      if (status !== 200) {
        res.writeHead(status, { "content-type": "application/problem+json" });
        return res.end(JSON.stringify({ type: "urn:ietf:params:acme:error:malformed", detail: "no such certificate" }));
      }
      res.writeHead(200, { "content-type": "application/json", "retry-after": "21600" });
      return res.end(JSON.stringify({ suggestedWindow: { start: "2026-01-03T00:00:00Z", end: "2026-01-04T00:00:00Z" }, explanationURL: "https://ca.example/why" }));
    }
    res.writeHead(404).end();
  });
  let directoryUrl = "";

  before(async () => {
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    directoryUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dir`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("builds RFC 9773's example identifier (serial with its DER leading zero)", async () => {
    assert.equal(ariCertId(await certificate("0087654321", RFC_AKI)), RFC_CERT_ID);
    // A serial without the top bit set gets no padding.
    assert.match(ariCertId(await certificate("12", RFC_AKI)), /\.Eg$/);
  });

  it("GETs <renewalInfo>/<certID> and returns the window, Retry-After and explanation", async () => {
    requests.length = 0;
    const info = await fetchRenewalInfo({ directoryUrl, certPem: await certificate("0087654321", RFC_AKI) });
    assert.deepEqual(requests, ["/dir", `/renewal-info/${RFC_CERT_ID}`]);
    assert.equal(info?.start.toISOString(), "2026-01-03T00:00:00.000Z");
    assert.equal(info?.end.toISOString(), "2026-01-04T00:00:00.000Z");
    assert.equal(info?.retryAfterMs, 21_600_000);
    assert.equal(info?.explanationUrl, "https://ca.example/why");
  });

  it("a directory without renewalInfo gives undefined", async () => {
    withAri = false;
    try {
      assert.equal(await fetchRenewalInfo({ directoryUrl, certPem: await certificate("0087654321", RFC_AKI) }), undefined);
    } finally {
      withAri = true;
    }
  });

  it("a CA error and a certificate without AKI are reported clearly", async () => {
    status = 404;
    try {
      await assert.rejects(fetchRenewalInfo({ directoryUrl, certPem: await certificate("0087654321", RFC_AKI) }), /renewal-info\/aYhba4dGQEHhs3uEe6CuLN4ByNQ\.AIdlQyE: HTTP 404: no such certificate/);
    } finally {
      status = 200;
    }
    await assert.rejects(fetchRenewalInfo({ directoryUrl, certPem: await certificate("01") }), /no Authority Key Identifier/);
  });
});
