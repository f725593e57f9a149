// Key and CSR generation for agent enrollment. Lives in tunnel/ because the agent needs it and the
// agent must not import management/. @peculiar/x509 needs reflect-metadata loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createPrivateKey, webcrypto } from "node:crypto";

x509.cryptoProvider.set(webcrypto);

/**
 * Generates an ECDSA P-256 key and a PKCS#10 CSR (SHA-256) for it. The CSR subject is
 * CN=<commonName>; the CA ignores it and sets the identity through the URI SAN.
 * The key is returned as PKCS#8 PEM.
 */
export async function createKeyAndCsr(opts: { commonName: string }): Promise<{ keyPem: string; csrPem: string }> {
  const cn = opts.commonName;
  if (typeof cn !== "string" || cn.length === 0 || cn.length > 64) {
    throw new TypeError("commonName must be a string of 1–64 characters");
  }
  const keys = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  return { keyPem: await exportKeyPem(keys.privateKey), csrPem: await csrFor(keys, cn) };
}

/** A CSR for an existing PKCS#8 PEM key (renewal keeps the agent's key). */
export async function createCsrForKey(keyPem: string, commonName: string): Promise<string> {
  const priv = createPrivateKey(keyPem);
  const pub = priv.export({ format: "jwk" });
  const privateKey = await webcrypto.subtle.importKey("jwk", pub, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
  const { d: _d, ...pubJwk } = pub;
  const publicKey = await webcrypto.subtle.importKey("jwk", { ...pubJwk, key_ops: ["verify"] }, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  return csrFor({ privateKey, publicKey } as webcrypto.CryptoKeyPair, commonName);
}

async function csrFor(keys: webcrypto.CryptoKeyPair, cn: string): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: new x509.Name([{ CN: [{ utf8String: cn }] }]),
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
  });
  return csr.toString("pem");
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString();
}
