import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ListenerProtocol, ListenerSpecSchema } from "../../../proto/gen/warren/v1/proxy_pb.ts";
import { validateListener } from "../../../management/config/validate-listener.ts";
import { CertificateAuthority } from "../../../management/pki/index.ts";

describe("validateListener", () => {
  it("keeps the stored key byte for byte when an update sends the certificate without it", async () => {
    const mat = await CertificateAuthority.generate({ commonName: "Unit CA" });
    const ca = await CertificateAuthority.fromPem(mat.certPem, mat.keyPem);
    const leaf = await ca.issueServerCertificate(["unit.test"]);
    const base = { name: "tls", port: 8443, protocol: ListenerProtocol.HTTPS, tlsCertificatePem: leaf.certPem };
    const first = validateListener(create(ListenerSpecSchema, { ...base, tlsPrivateKeyPem: leaf.keyPem }));
    const kept = validateListener(create(ListenerSpecSchema, base), first.tlsKeyPem);
    // Equal stored PEMs keep the listener's socket key, so a rename does not restart it.
    assert.equal(kept.tlsKeyPem, first.tlsKeyPem);
    assert.equal(kept.tlsCertPem, first.tlsCertPem);
    const again = validateListener(create(ListenerSpecSchema, base), kept.tlsKeyPem);
    assert.equal(again.tlsKeyPem, first.tlsKeyPem, "stable over repeated updates");
  });

  it("takes http2 on HTTPS listeners only, off by default", () => {
    assert.equal(validateListener(create(ListenerSpecSchema, { name: "tls", port: 8443, protocol: ListenerProtocol.HTTPS })).http2, false);
    assert.equal(validateListener(create(ListenerSpecSchema, { name: "tls", port: 8443, protocol: ListenerProtocol.HTTPS, http2: true })).http2, true);
    assert.throws(() => validateListener(create(ListenerSpecSchema, { name: "web", port: 8080, protocol: ListenerProtocol.HTTP, http2: true })), /spec\.http2: only HTTPS listeners speak HTTP\/2/);
  });
});
