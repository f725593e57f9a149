import { createPrivateKey, webcrypto } from "node:crypto";
import { derToPem } from "./pem.ts";
import { x509 } from "./x509.ts";

/**
 * Generates an ECDSA P-256 key and a PKCS#10 CSR (SHA-256) for it, for agent
 * enrollment. The CSR subject is CN=<commonName>; the CA ignores it and sets the
 * identity through the URI SAN. The key is returned as PKCS#8 PEM.
 */
export async function createKeyAndCsr(opts: { commonName: string }): Promise<{ keyPem: string; csrPem: string }> {
  const cn = opts.commonName;
  if (typeof cn !== "string" || cn.length === 0 || cn.length > 64) {
    throw new TypeError("commonName must be a string of 1–64 characters");
  }
  const keys = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: new x509.Name([{ CN: [{ utf8String: cn }] }]),
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString();
  return { keyPem, csrPem: derToPem(new Uint8Array(csr.rawData), "CERTIFICATE REQUEST") };
}
