import { X509Certificate as NodeX509Certificate, createPrivateKey } from "node:crypto";
import * as path from "node:path";
import type { CertificateAuthority } from "./certificate-authority.ts";
import { ensurePrivateDir, readIfExists, tightenMode, writeFileAtomic } from "../../lib/atomic-file.ts";
import { normalizeHost, normalizeHosts, sameHostSet, type HostName } from "./hosts.ts";
import { x509 } from "./x509.ts";

export const SERVER_CERT_FILE = "server.crt.pem";
export const SERVER_KEY_FILE = "server.key.pem";

/** Re-issue when the current certificate has this little validity left. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

export type ServerCertificateReason = "created" | "hosts_changed" | "expiring" | "other_issuer" | "reused";

export interface EnsuredServerCertificate {
  certPem: string;
  keyPem: string;
  reissued: boolean;
  reason: ServerCertificateReason;
}

/** Host set covered by a certificate's SAN (DNS + IP), or null if unreadable. */
function certificateHosts(certPem: string): HostName[] | null {
  try {
    const cert = new x509.X509Certificate(certPem);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    if (!san) return [];
    const out: HostName[] = [];
    for (const n of san.names.items) {
      if (n.type !== "dns" && n.type !== "ip") continue;
      try {
        out.push(normalizeHost(n.value));
      } catch {
        out.push({ kind: n.type, value: n.value, key: `${n.type}:raw:${n.value}` }); // never equal to a wanted host
      }
    }
    return out;
  } catch {
    return null;
  }
}

/** Why the files on disk cannot be reused as they are, or "reused". */
function assess(ca: CertificateAuthority, certPem: string, keyPem: string, wanted: HostName[], now: Date): ServerCertificateReason {
  let node: NodeX509Certificate;
  try {
    node = new NodeX509Certificate(certPem);
    if (!node.checkPrivateKey(createPrivateKey({ key: keyPem, format: "pem" }))) return "created";
  } catch {
    return "created"; // unreadable or mismatched files: start over
  }
  if (!ca.isIssuerOf(certPem)) return "other_issuer";
  const have = certificateHosts(certPem);
  if (!have || !sameHostSet(have, wanted)) return "hosts_changed";
  const parsed = new x509.X509Certificate(certPem);
  const notBefore = parsed.notBefore.getTime();
  const notAfter = parsed.notAfter.getTime();
  if (now.getTime() < notBefore || notAfter - now.getTime() <= RENEW_BEFORE_MS) return "expiring";
  return "reused";
}

/**
 * Keeps the management server certificate in `${dir}/server.crt.pem` and
 * `${dir}/server.key.pem` (both 0600, written atomically, key first).
 * Reuses the pair when it was issued by `ca`, covers exactly `hosts`
 * (order- and case-insensitive, IPs compared canonically) and expires in more
 * than 30 days; otherwise issues a new one and says why:
 * "created" (missing, unreadable, or key/cert mismatch), "other_issuer",
 * "hosts_changed", "expiring" (≤ 30 days left, or not yet valid at `now`).
 */
export async function ensureServerCertificate(
  ca: CertificateAuthority,
  dir: string,
  hosts: string[],
  opts: { now?: Date } = {},
): Promise<EnsuredServerCertificate> {
  const wanted = normalizeHosts(hosts);
  const now = opts.now ?? new Date();
  await ensurePrivateDir(dir);
  const certFile = path.join(dir, SERVER_CERT_FILE);
  const keyFile = path.join(dir, SERVER_KEY_FILE);
  const [certPem, keyPem] = await Promise.all([readIfExists(certFile), readIfExists(keyFile)]);

  const reason: ServerCertificateReason =
    certPem === null || keyPem === null ? "created" : assess(ca, certPem, keyPem, wanted, now);
  if (reason === "reused" && certPem !== null && keyPem !== null) {
    await tightenMode(keyFile, 0o600);
    return { certPem, keyPem, reissued: false, reason };
  }

  const issued = await ca.issueServerCertificate(
    wanted.map((h) => h.value),
    { now },
  );
  // Key first: a crash in between leaves a mismatched pair, which the next call detects and replaces.
  await writeFileAtomic(keyFile, issued.keyPem, 0o600);
  await writeFileAtomic(certFile, issued.certPem, 0o600);
  return { certPem: issued.certPem, keyPem: issued.keyPem, reissued: true, reason };
}
