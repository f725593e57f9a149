// The TLS-ALPN-01 challenge certificate (RFC 8737 §3): self-signed, exactly one dNSName SAN (the
// identifier), and the critical id-pe-acmeIdentifier extension holding SHA-256(key authorization).
// Built here rather than with acme-client's crypto.createAlpnCertificate, which makes a CA certificate
// (basicConstraints CA, keyCertSign) valid for zero seconds (notBefore = notAfter = now) on an RSA key
// by default — accepted by Boulder and Pebble, which skip date checks, but not what RFC 8737 describes.
import { createHash } from "node:crypto";
import { x509 } from "../../pki/x509.ts";
import { generateP256, randomSerial } from "../../pki/keys.ts";

/** id-pe-acmeIdentifier (RFC 8737 §6.1). */
export const ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31";

export async function createAlpnChallengeCertificate(name: string, keyAuthorization: string): Promise<{ certPem: string; keyPem: string }> {
  const key = await generateP256();
  const digest = createHash("sha256").update(keyAuthorization).digest();
  // extnValue is the DER of an OCTET STRING wrapping the 32-byte digest.
  const extnValue = Buffer.concat([Buffer.from([0x04, digest.length]), digest]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=ACME TLS-ALPN-01 challenge",
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + 24 * 3_600_000),
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: name }]),
      new x509.Extension(ACME_IDENTIFIER_OID, true, extnValue),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: key.keyPem };
}
