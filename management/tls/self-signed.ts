// Self-signed certificates for public listeners: generated on request through TlsService (for a test
// domain, or an origin-facing listener behind another proxy). Signed by nothing but their own key —
// never by the management CA, which agents pin.
import { randomBytes } from "node:crypto";
import { generateP256, randomSerial } from "../pki/keys.ts";
import { derToPem } from "../pki/pem.ts";
import { x509 } from "../pki/x509.ts";

const DAY = 86_400_000;

export async function generateSelfSigned(names: readonly string[], validDays: number, now: Date = new Date()): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateP256();
  const cn = (names[0] ?? `warren-${randomBytes(4).toString("hex")}`).slice(0, 64);
  const subject = new x509.Name([{ CN: [{ utf8String: cn }] }, { O: [{ utf8String: "Warren (self-signed)" }] }]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: subject,
    // Backdated a little: a client whose clock runs behind still accepts it.
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + validDays * DAY),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: "dns" as const, value })), false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: derToPem(new Uint8Array(cert.rawData), "CERTIFICATE"), keyPem: keys.keyPem };
}
