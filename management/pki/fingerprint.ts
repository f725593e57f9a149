import { createHash } from "node:crypto";
import { certificateDer } from "./pem.ts";

/**
 * SHA-256 over the certificate DER, as lower-case hex pairs joined by ":"
 * (e.g. "ab:cd:…"). Accepts PEM text, a DER Buffer, or a Buffer holding PEM.
 */
export function fingerprintSha256(certPemOrDer: string | Buffer): string {
  const digest = createHash("sha256").update(certificateDer(certPemOrDer)).digest("hex");
  return digest.match(/../g)!.join(":");
}

/** Normalizes a user-supplied fingerprint ("AB:CD…", "abcd…", "sha256:…") to our format, or null if malformed. */
export function normalizeFingerprint(input: string): string | null {
  const hex = input.trim().toLowerCase().replace(/^sha-?256[:=]/, "").replace(/[:\s-]/g, "");
  if (!/^[0-9a-f]{64}$/.test(hex)) return null;
  return hex.match(/../g)!.join(":");
}
