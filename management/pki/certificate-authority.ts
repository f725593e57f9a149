import { X509Certificate as NodeX509Certificate, randomBytes } from "node:crypto";
import * as path from "node:path";
import { PkiError } from "./errors.ts";
import { fingerprintSha256 } from "./fingerprint.ts";
import { ensurePrivateDir, exists, readIfExists, tightenMode, withLockFile, writeFileAtomic } from "../../lib/atomic-file.ts";
import { normalizeHosts } from "./hosts.ts";
import { checkSubjectPublicKey, generateP256, importSigningKey, randomSerial, type SigningKey } from "./keys.ts";
import { certificateDer, derToPem, pemBlocks } from "./pem.ts";
import { x509 } from "./x509.ts";

export const CA_CERT_FILE = "ca.crt.pem";
export const CA_KEY_FILE = "ca.key.pem";
const CA_LOCK_FILE = ".ca.lock";

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Backdating of leaf certificates, to tolerate clock skew between management and agents. */
const LEAF_BACKDATE_MS = 5 * MINUTE;
/** Backdating of the CA certificate. */
const CA_BACKDATE_MS = 60 * MINUTE;
export const SERVER_CERT_MAX_DAYS = 397;
const CLIENT_CERT_MAX_DAYS = 3650;
const MAX_CSR_PEM_BYTES = 64 * 1024;
const CSR_HASHES = new Set(["SHA-256", "SHA-384", "SHA-512"]);

/** A CA certificate and its private key, as written to disk. */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
  /** Lower-case hex of SHA-256 over the certificate DER, colon-separated pairs ("ab:cd:…"). */
  fingerprintSha256: string;
}

export interface IssuedServerCertificate {
  certPem: string;
  keyPem: string;
  serial: string;
  notAfter: Date;
}

export interface SignedClientCertificate {
  certPem: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

export interface VerifiedClientCertificate {
  serial: string;
  uris: string[];
  notAfter: Date;
}

/** Serializes loadOrCreate() per directory inside this process (the lock file covers other processes). */
const inflight = new Map<string, Promise<unknown>>();

function addYearsUtc(d: Date, years: number): Date {
  const r = new Date(d.getTime());
  r.setUTCFullYear(r.getUTCFullYear() + years);
  return r;
}

/** Builds a DN with UTF8String values (avoids the string parser's escaping and "#hex" rules). */
function nameParams(attrs: Array<[string, string]>): x509.Name {
  return new x509.Name(attrs.map(([type, value]) => ({ [type]: [{ utf8String: value }] })));
}

function truncateCn(value: string): string {
  return value.length <= 64 ? value : value.slice(0, 64);
}

function checkDate(d: Date | undefined, what: string): Date {
  const r = d ?? new Date();
  if (!(r instanceof Date) || Number.isNaN(r.getTime())) throw new TypeError(`${what} must be a valid Date`);
  return r;
}

function parseCertificate(input: string | Buffer): { der: Buffer; cert: x509.X509Certificate; node: NodeX509Certificate } {
  const der = certificateDer(input);
  try {
    return { der, cert: new x509.X509Certificate(der), node: new NodeX509Certificate(der) };
  } catch {
    throw new PkiError("pki_bad_cert", "certificate could not be parsed");
  }
}

/**
 * Warren's private management CA (ECDSA P-256). It issues the management server
 * certificate and the agents' mTLS client certificates, and verifies the latter.
 */
export class CertificateAuthority {
  /** The CA certificate, PEM. */
  readonly certPem: string;
  /** SHA-256 fingerprint of the CA certificate ("ab:cd:…"); agents pin it. */
  readonly fingerprintSha256: string;
  /** Subject DN of the CA, for display. */
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;

  readonly #cert: x509.X509Certificate;
  readonly #node: NodeX509Certificate;
  readonly #key: SigningKey;
  /** Subject key identifier (hex), used as the authority key identifier of issued certificates. */
  readonly #keyId: string;

  private constructor(cert: x509.X509Certificate, node: NodeX509Certificate, der: Buffer, key: SigningKey, keyId: string) {
    this.#cert = cert;
    this.#node = node;
    this.#key = key;
    this.#keyId = keyId;
    this.certPem = derToPem(der, "CERTIFICATE");
    this.fingerprintSha256 = fingerprintSha256(der);
    this.subject = cert.subject;
    this.notBefore = cert.notBefore;
    this.notAfter = cert.notAfter;
  }

  /**
   * Loads the CA from `${dir}/ca.crt.pem` + `${dir}/ca.key.pem`, or creates a new one
   * when neither exists. The directory is created 0700 (tightened if looser), the key
   * is kept at 0600. If only one of the two files exists this throws io_error rather
   * than minting a new CA, which would orphan every agent's pinned fingerprint.
   */
  static async loadOrCreate(
    dir: string,
    opts: { now?: Date; commonName?: string } = {},
  ): Promise<{ ca: CertificateAuthority; created: boolean }> {
    const abs = path.resolve(dir);
    const prev = inflight.get(abs) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(() => loadOrCreateSerialized(abs, opts));
    inflight.set(abs, run);
    try {
      return await run;
    } finally {
      if (inflight.get(abs) === run) inflight.delete(abs);
    }
  }

  /** Generates new CA material in memory (ECDSA P-256, 10 years, pathLen 0). Nothing is written. */
  static async generate(opts: { now?: Date; commonName?: string } = {}): Promise<CaMaterial> {
    const now = checkDate(opts.now, "now");
    const cn = truncateCn(opts.commonName?.trim() || `Warren Management CA ${randomBytes(4).toString("hex")}`);
    const keys = await generateP256();
    const name = nameParams([
      ["O", "Warren"],
      ["CN", cn],
    ]);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: name,
      issuer: name,
      notBefore: new Date(now.getTime() - CA_BACKDATE_MS),
      notAfter: addYearsUtc(now, 10),
      publicKey: keys.publicKey,
      signingKey: keys.privateKey,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const der = Buffer.from(cert.rawData);
    return { certPem: derToPem(der, "CERTIFICATE"), keyPem: keys.keyPem, fingerprintSha256: fingerprintSha256(der) };
  }

  /** Builds a CA from PEM text. The certificate must be a CA certificate and match the key. */
  static async fromPem(certPem: string, keyPem: string): Promise<CertificateAuthority> {
    const { der, cert, node } = parseCertificate(certPem);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    if (!bc?.ca) throw new PkiError("pki_bad_cert", "CA certificate lacks basicConstraints CA:true");
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    if (ku && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
      throw new PkiError("pki_bad_cert", "CA certificate keyUsage does not allow keyCertSign");
    }
    const key = await importSigningKey(keyPem, "CA private key");
    if (!node.checkPrivateKey(key.keyObject)) {
      throw new PkiError("pki_bad_cert", "CA private key does not match the CA certificate");
    }
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    const keyId = ski?.keyId ?? (await x509.SubjectKeyIdentifierExtension.create(cert.publicKey)).keyId;
    return new CertificateAuthority(cert, node, der, key, keyId);
  }

  /**
   * Issues a TLS server certificate (ECDSA P-256, EKU serverAuth) for the given DNS
   * names and IP literals (IPv4/IPv6, brackets allowed). Validity is capped at 397
   * days and at the CA's own expiry.
   */
  async issueServerCertificate(
    hosts: string[],
    opts: { now?: Date; validityDays?: number } = {},
  ): Promise<IssuedServerCertificate> {
    const names = normalizeHosts(hosts);
    const now = checkDate(opts.now, "now");
    const days = opts.validityDays ?? SERVER_CERT_MAX_DAYS;
    if (typeof days !== "number" || !Number.isFinite(days) || days <= 0) {
      throw new RangeError("validityDays must be a positive number");
    }
    const keys = await generateP256();
    const serial = randomSerial();
    const firstDns = names.find((n) => n.kind === "dns") ?? names[0]!;
    const cert = await this.#sign({
      serial,
      subject: nameParams([
        ["O", "Warren"],
        ["CN", truncateCn(firstDns.value)],
      ]),
      publicKey: keys.publicKey,
      notBefore: new Date(now.getTime() - LEAF_BACKDATE_MS),
      notAfter: new Date(now.getTime() + Math.min(days, SERVER_CERT_MAX_DAYS) * DAY),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(
          names.map((n) => ({ type: n.kind, value: n.value })),
          false,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return { certPem: derToPem(new Uint8Array(cert.rawData), "CERTIFICATE"), keyPem: keys.keyPem, serial, notAfter: cert.notAfter };
  }

  /**
   * Verifies a PKCS#10 CSR (self-signature, SHA-2 signature hash, key type) and signs a
   * client certificate carrying exactly `uriSan` as its only SAN, EKU clientAuth and
   * keyUsage digitalSignature. Nothing else from the CSR (subject, requested
   * extensions) is copied. notBefore = now − 5 min, notAfter = now + validityDays
   * (capped at the CA's expiry).
   */
  async signClientCsr(input: {
    csrPem: string;
    uriSan: string;
    validityDays: number;
    now?: Date;
  }): Promise<SignedClientCertificate> {
    const { csrPem, uriSan, validityDays } = input;
    const now = checkDate(input.now, "now");
    const uri = checkUriSan(uriSan);
    if (typeof validityDays !== "number" || !Number.isFinite(validityDays) || validityDays <= 0 || validityDays > CLIENT_CERT_MAX_DAYS) {
      throw new RangeError(`validityDays must be a number in (0, ${CLIENT_CERT_MAX_DAYS}]`);
    }
    const csr = parseCsr(csrPem);
    checkSubjectPublicKey(new Uint8Array(csr.publicKey.rawData));
    const hash = csr.signatureAlgorithm?.hash?.name?.toUpperCase();
    if (!hash || !CSR_HASHES.has(hash)) {
      throw new PkiError("pki_bad_csr", `CSR signature hash ${hash ?? "?"} is not accepted (SHA-256/384/512 required)`);
    }
    let ok = false;
    try {
      ok = await csr.verify();
    } catch {
      ok = false;
    }
    if (!ok) throw new PkiError("pki_bad_csr", "CSR signature does not verify");

    const serial = randomSerial();
    const cert = await this.#sign({
      serial,
      subject: nameParams([
        ["O", "Warren"],
        ["CN", truncateCn(uriDisplayName(uri))],
      ]),
      publicKey: csr.publicKey,
      notBefore: new Date(now.getTime() - LEAF_BACKDATE_MS),
      notAfter: new Date(now.getTime() + validityDays * DAY),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: uriSan }], false),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      ],
    });
    return { certPem: derToPem(new Uint8Array(cert.rawData), "CERTIFICATE"), serial, notBefore: cert.notBefore, notAfter: cert.notAfter };
  }

  /**
   * Verifies that a client certificate (DER Buffer, or PEM) was issued by this CA
   * (issuer/AKI match and signature), is valid at `now`, is not a CA and carries
   * EKU clientAuth. Returns its serial (lower-case hex) and URI SANs.
   * Errors: pki_bad_cert (unparsable, wrong usage), pki_untrusted (other issuer),
   * pki_expired (outside its validity window, including not yet valid).
   */
  async verifyClientCertificate(certDerOrPem: Buffer | string, now?: Date): Promise<VerifiedClientCertificate> {
    const at = checkDate(now, "now");
    const { cert } = parseCertificate(certDerOrPem);
    if (!this.isIssuerOf(certDerOrPem)) {
      throw new PkiError("pki_untrusted", "client certificate was not issued by this CA");
    }
    const t = at.getTime();
    if (t < cert.notBefore.getTime()) throw new PkiError("pki_expired", "client certificate is not yet valid");
    if (t > cert.notAfter.getTime()) throw new PkiError("pki_expired", "client certificate has expired");
    if (cert.getExtension(x509.BasicConstraintsExtension)?.ca) {
      throw new PkiError("pki_bad_cert", "a CA certificate cannot be used as a client certificate");
    }
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    if (!eku || !eku.usages.map(String).includes(x509.ExtendedKeyUsage.clientAuth)) {
      throw new PkiError("pki_bad_cert", "client certificate lacks extended key usage clientAuth");
    }
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    if (ku && (ku.usages & x509.KeyUsageFlags.digitalSignature) === 0) {
      throw new PkiError("pki_bad_cert", "client certificate keyUsage lacks digitalSignature");
    }
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const uris = san ? san.names.items.filter((n) => n.type === "url").map((n) => n.value) : [];
    return { serial: cert.serialNumber.toLowerCase(), uris, notAfter: cert.notAfter };
  }

  /**
   * True when `cert` names this CA as issuer (subject/AKI match) and its signature
   * verifies with the CA key. Validity dates are not checked. False for unparsable input.
   */
  isIssuerOf(cert: Buffer | string): boolean {
    let node: NodeX509Certificate;
    try {
      node = new NodeX509Certificate(certificateDer(cert));
    } catch {
      return false;
    }
    try {
      return node.checkIssued(this.#node) && node.verify(this.#node.publicKey);
    } catch {
      return false;
    }
  }

  async #sign(p: {
    serial: string;
    subject: x509.Name;
    publicKey: x509.PublicKeyType;
    notBefore: Date;
    notAfter: Date;
    extensions: x509.Extension[];
  }): Promise<x509.X509Certificate> {
    const notAfter = p.notAfter.getTime() > this.notAfter.getTime() ? this.notAfter : p.notAfter;
    return x509.X509CertificateGenerator.create({
      serialNumber: p.serial,
      subject: p.subject,
      issuer: this.#cert.subjectName,
      notBefore: p.notBefore,
      notAfter,
      publicKey: p.publicKey,
      signingKey: this.#key.privateKey,
      signingAlgorithm: this.#key.signingAlgorithm,
      extensions: [...p.extensions, new x509.AuthorityKeyIdentifierExtension(this.#keyId, false)],
    });
  }
}

function checkUriSan(uriSan: unknown): URL {
  if (typeof uriSan !== "string" || uriSan.length === 0 || uriSan.length > 2048 || !/^[\x21-\x7e]+$/.test(uriSan)) {
    throw new TypeError("uriSan must be a non-empty printable-ASCII URI");
  }
  let url: URL;
  try {
    url = new URL(uriSan);
  } catch {
    throw new TypeError(`uriSan is not a valid URI: ${JSON.stringify(uriSan)}`);
  }
  return url;
}

/** Short subject CN for a client certificate: the URI's last path segment, else its host, else the URI. */
function uriDisplayName(uri: URL): string {
  const seg = uri.pathname.split("/").filter(Boolean).pop();
  return seg ? decodeURIComponentSafe(seg) : uri.host || uri.href;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function parseCsr(csrPem: unknown): x509.Pkcs10CertificateRequest {
  if (typeof csrPem !== "string" || csrPem.length === 0) throw new PkiError("pki_bad_csr", "CSR must be a PEM string");
  if (csrPem.length > MAX_CSR_PEM_BYTES) throw new PkiError("pki_bad_csr", "CSR is too large");
  const der = pemBlocks(csrPem, "CERTIFICATE REQUEST")[0] ?? pemBlocks(csrPem, "NEW CERTIFICATE REQUEST")[0];
  if (!der) throw new PkiError("pki_bad_csr", "no PEM CERTIFICATE REQUEST block found");
  try {
    const csr = new x509.Pkcs10CertificateRequest(der);
    void csr.publicKey; // force lazy parsing of the parts we use
    void csr.signatureAlgorithm;
    return csr;
  } catch {
    throw new PkiError("pki_bad_csr", "CSR could not be parsed");
  }
}

type LoadResult = { state: "loaded"; ca: CertificateAuthority } | { state: "none" } | { state: "half"; missing: string };

async function tryLoad(dir: string): Promise<LoadResult> {
  const certFile = path.join(dir, CA_CERT_FILE);
  const keyFile = path.join(dir, CA_KEY_FILE);
  const [certPem, keyPem] = await Promise.all([readIfExists(certFile), readIfExists(keyFile)]);
  if (certPem === null && keyPem === null) return { state: "none" };
  if (certPem === null) return { state: "half", missing: CA_CERT_FILE };
  if (keyPem === null) return { state: "half", missing: CA_KEY_FILE };
  await tightenMode(keyFile, 0o600);
  return { state: "loaded", ca: await CertificateAuthority.fromPem(certPem, keyPem) };
}

function halfPresentError(dir: string, missing: string): PkiError {
  const present = missing === CA_CERT_FILE ? CA_KEY_FILE : CA_CERT_FILE;
  return new PkiError(
    "io_error",
    `CA directory ${dir} contains ${present} but not ${missing}; refusing to create a new CA because agents pin ` +
      `the current CA fingerprint. Restore ${missing}, or remove ${present} to start a new CA (every agent must then re-trust it).`,
  );
}

async function loadOrCreateSerialized(
  dir: string,
  opts: { now?: Date; commonName?: string },
): Promise<{ ca: CertificateAuthority; created: boolean }> {
  await ensurePrivateDir(dir);
  const lockFile = path.join(dir, CA_LOCK_FILE);
  const first = await tryLoad(dir);
  if (first.state === "loaded") return { ca: first.ca, created: false };
  // Half-present while another process holds the creation lock is a creation in progress: wait for it.
  if (first.state === "half" && !(await exists(lockFile))) throw halfPresentError(dir, first.missing);

  return withLockFile(lockFile, async () => {
    const again = await tryLoad(dir);
    if (again.state === "loaded") return { ca: again.ca, created: false };
    if (again.state === "half") throw halfPresentError(dir, again.missing);
    const material = await CertificateAuthority.generate(opts);
    const ca = await CertificateAuthority.fromPem(material.certPem, material.keyPem);
    // Key first: a crash in between leaves a key without a certificate, which loadOrCreate reports
    // (nobody can have pinned a certificate that was never written).
    await writeFileAtomic(path.join(dir, CA_KEY_FILE), material.keyPem, 0o600);
    await writeFileAtomic(path.join(dir, CA_CERT_FILE), material.certPem, 0o644);
    return { ca, created: true };
  });
}
