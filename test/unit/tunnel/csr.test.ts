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
