// Checks a certificate chain and key before it is stored (upload, files, a listener's default): the
// key matches the leaf, each certificate is signed by the next, the leaf is valid now, and it names
// at least one DNS name — the names SNI selects it by.
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { fieldError } from "../errors.ts";

export interface ValidCertificate {
  /** The chain as given (leaf first), normalized to PEM blocks joined by newlines. */
  chainPem: string;
  keyPem: string;
  /** The leaf's DNS names, lower case (wildcards as `*.example.com`). */
  names: string[];
  notBefore: number;
  notAfter: number;
  issuer: string;
  fingerprint256: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** DNS names from a leaf's subjectAltName ("DNS:a.example, DNS:*.b.example, IP Address:…"). */
export function dnsNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName ?? "";
  const names: string[] = [];
  for (const part of san.split(/,\s*/)) if (part.startsWith("DNS:")) names.push(part.slice(4).toLowerCase());
  return [...new Set(names)];
}

/**
 * `fields.cert` / `fields.key` name the request fields in errors (e.g. "certificate_pem").
 * Throws invalid_argument naming the field.
 */
export function validateCertificate(certPem: string, keyPem: string, fields: { cert: string; key: string }, now: number = Date.now()): ValidCertificate {
  const blocks = certPem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw fieldError(fields.cert, "is not a PEM certificate chain (no BEGIN CERTIFICATE block)");
  const chain: X509Certificate[] = [];
  for (const [i, b] of blocks.entries()) {
    try {
      chain.push(new X509Certificate(b));
    } catch {
      throw fieldError(fields.cert, `certificate ${i + 1} of the chain does not parse`);
    }
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw fieldError(fields.key, "is not a PEM private key (or is encrypted)");
  }
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) throw fieldError(fields.key, "does not match the certificate (the first in the chain)");
  for (let i = 0; i + 1 < chain.length; i++) {
    const c = chain[i]!;
    const next = chain[i + 1]!;
    if (!c.checkIssued(next) || !c.verify(next.publicKey)) {
      throw fieldError(fields.cert, `wrong chain order: certificate ${i + 1} (${c.subject.replace(/\n/g, ", ")}) is not signed by certificate ${i + 2}; give the leaf first, then each issuer`);
    }
  }
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  if (notAfter <= now) throw fieldError(fields.cert, `has expired (not after ${new Date(notAfter).toISOString()})`);
  if (notBefore > now) throw fieldError(fields.cert, `is not valid yet (not before ${new Date(notBefore).toISOString()})`);
  const names = dnsNames(leaf);
  if (names.length === 0) throw fieldError(fields.cert, "names no DNS name in its subjectAltName, so no client would accept it for a host name");
  return {
    chainPem: `${blocks.join("\n")}\n`,
    keyPem: `${keyPem.trim()}\n`,
    names,
    notBefore,
    notAfter,
    issuer: leaf.issuer.replace(/\n/g, ", "),
    fingerprint256: leaf.fingerprint256,
  };
}
