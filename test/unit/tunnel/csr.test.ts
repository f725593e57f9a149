import { it } from "node:test"; import assert from "node:assert/strict";
import { createCsrForKey, createKeyAndCsr } from "../../../tunnel/csr.ts";
import { CertificateAuthority } from "../../../management/pki/index.ts";
import { mkdtempSync } from "node:fs"; import { tmpdir } from "node:os"; import { join } from "node:path";
it("signs a renewal CSR made for an existing agent key", async () => {
  const { keyPem } = await createKeyAndCsr({ commonName: "a" });
  const csr = await createCsrForKey(keyPem, "a");
  const { ca } = await CertificateAuthority.loadOrCreate(join(mkdtempSync(join(tmpdir(), "x")), "ca"));
  const c = await ca.signClientCsr({ csrPem: csr, uriSan: "spiffe://warren/agent/agt_x", validityDays: 90 });
  assert.match(c.certPem, /BEGIN CERT/);
});

it("encodes a PKCS#10 request an X.509 library reads back: CN, P-256 key, ECDSA-SHA256, a valid signature", async () => {
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  const { webcrypto } = await import("node:crypto");
  x509.cryptoProvider.set(webcrypto);
  for (const cn of ["agt_abcdefghijklmnop", "ü".repeat(64)]) {
    const { csrPem } = await createKeyAndCsr({ commonName: cn });
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    assert.equal(csr.subject, `CN=${cn}`);
    assert.equal((csr.publicKey.algorithm as { namedCurve?: string }).namedCurve, "P-256");
    assert.equal(csr.signatureAlgorithm.hash.name, "SHA-256");
    assert.equal(await csr.verify(), true);
    // One flipped bit in the signed part breaks the signature.
    const raw = Buffer.from(csr.rawData);
    raw[raw.length - 80]! ^= 1;
    assert.equal(await new x509.Pkcs10CertificateRequest(raw).verify().catch(() => false), false);
  }
  await assert.rejects(createKeyAndCsr({ commonName: "" }), TypeError);
});
