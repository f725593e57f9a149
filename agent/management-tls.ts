// TLS to management (DESIGN.md §4 step 1). With MANAGEMENT_CA_FILE the agent verifies normally against
// that CA. With MANAGEMENT_CA_SHA256 it first fetches the server's chain once (a handshake that sends
// nothing), checks that a certificate in it has the pinned fingerprint, is a CA, signed the leaf, and that
// the leaf is valid for the host; from then on that CA certificate is the `ca` of every connection, so
// Node/OpenSSL verify chain and host name as usual and the token is never sent before verification.
import { X509Certificate } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { certSha256, managementEndpoint, type ManagementTrust } from "./settings.ts";

export class ManagementTlsError extends Error {
  override name = "ManagementTlsError";
  constructor(
    readonly code: "PIN_MISMATCH" | "PIN_NOT_CA" | "CHAIN_BROKEN" | "CERT_EXPIRED" | "HOST_MISMATCH" | "NO_CERTIFICATE",
    message: string,
  ) {
    super(message);
  }
}

function short(fp: string): string {
  return fp.match(/../g)!.join(":").toUpperCase();
}

function checkDates(cert: X509Certificate, now: Date, what: string): void {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now < from || now > to) {
    throw new ManagementTlsError("CERT_EXPIRED", `${what} (${cert.subject.replace(/\n/g, ", ")}) is not valid now (valid ${cert.validFrom} – ${cert.validTo})`);
  }
}

function hostMatches(leaf: X509Certificate, host: string): boolean {
  return net.isIP(host) ? leaf.checkIP(host) !== undefined : leaf.checkHost(host) !== undefined;
}

/**
 * Checks a chain as presented by management (leaf first) against the pin: some certificate in it has SHA-256
 * `pinSha256` (hex, no colons), every certificate from the leaf up to it is signed by the next, the pinned one
 * is a CA (or is the leaf itself, self-signed), all are valid at `now`, and the leaf is valid for `host`.
 * Returns the pinned certificate; throws ManagementTlsError saying what is wrong.
 */
export function verifyPinnedChain(host: string, chain: readonly X509Certificate[], pinSha256: string, now: Date = new Date()): X509Certificate {
  const leaf = chain[0];
  if (leaf === undefined) throw new ManagementTlsError("NO_CERTIFICATE", "management presented no certificate");
  const index = chain.findIndex((c) => certSha256(c) === pinSha256);
  if (index < 0) {
    const seen = chain.map((c) => `${c.subject.replace(/\n/g, ", ")} (${short(certSha256(c))})`).join("; ");
    const hint = chain.length === 1 ? "; it sent only its own certificate, not the CA chain, so a CA pin cannot be checked (use MANAGEMENT_CA_FILE)" : "";
    throw new ManagementTlsError("PIN_MISMATCH", `no certificate from management matches MANAGEMENT_CA_SHA256 ${short(pinSha256)}: got ${seen}${hint}`);
  }
  const pinned = chain[index]!;
  if (index === 0) {
    // Pinning a self-signed server certificate directly is accepted; pinning someone else's leaf is not.
    if (!(leaf.checkIssued(leaf) && leaf.verify(leaf.publicKey))) {
      throw new ManagementTlsError("PIN_NOT_CA", "MANAGEMENT_CA_SHA256 is the fingerprint of management's own certificate, not of its CA; pin the CA certificate");
    }
  } else {
    if (!pinned.ca) throw new ManagementTlsError("PIN_NOT_CA", "the certificate matching MANAGEMENT_CA_SHA256 is not a CA certificate");
    for (let i = 0; i < index; i++) {
      const child = chain[i]!;
      const parent = chain[i + 1]!;
      if (i > 0 && !child.ca) throw new ManagementTlsError("CHAIN_BROKEN", `certificate ${i} in management's chain is not a CA but issued the one below it`);
      if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
        throw new ManagementTlsError("CHAIN_BROKEN", `management's certificate chain is not signed by the pinned CA (link ${i} → ${i + 1} does not verify)`);
      }
    }
  }
  for (let i = 0; i <= index; i++) checkDates(chain[i]!, now, i === 0 ? "management's certificate" : "a CA certificate in management's chain");
  if (!hostMatches(leaf, host)) {
    throw new ManagementTlsError("HOST_MISMATCH", `management's certificate is not valid for "${host}" (its names: ${leaf.subjectAltName ?? leaf.subject.replace(/\n/g, ", ")})`);
  }
  return pinned;
}

/** The certificate chain a TLS peer presented, leaf first (without verifying anything). */
export function presentedChain(socket: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let cur: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cur && cur.raw && cur.raw.length > 0) {
    const key = cur.raw.toString("base64");
    if (seen.has(key)) break;
    seen.add(key);
    out.push(new X509Certificate(cur.raw));
    cur = cur.issuerCertificate;
  }
  return out;
}

/** Opens a TLS connection without verification, returns the presented chain and closes. Sends no data. */
export function fetchPresentedChain(host: string, port: number, timeoutMs = 10_000): Promise<X509Certificate[]> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      ...(net.isIP(host) ? {} : { servername: host }),
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
    });
    const timer = setTimeout(() => socket.destroy(new Error(`TLS handshake with ${host}:${port} timed out after ${timeoutMs} ms`)), timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      try {
        resolve(presentedChain(socket));
      } catch (e) {
        reject(e as Error);
      } finally {
        socket.destroy();
      }
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export interface ClientCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Error codes of a failed certificate verification: after one, a pinned CA is fetched again. */
const CERT_ERROR_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

export function isCertificateError(err: unknown): boolean {
  return err instanceof ManagementTlsError || CERT_ERROR_CODES.has((err as NodeJS.ErrnoException | undefined)?.code ?? "");
}

/** TLS options for connections to management, per the configured trust. */
export class ManagementTls {
  private readonly host: string;
  private readonly port: number;
  private pinnedCaPem: string | undefined;
  private pinning: Promise<string> | undefined;
  private readonly fetchChain: (host: string, port: number) => Promise<X509Certificate[]>;

  constructor(
    url: URL,
    private readonly trust: ManagementTrust,
    opts: { fetchChain?: (host: string, port: number) => Promise<X509Certificate[]> } = {},
  ) {
    ({ host: this.host, port: this.port } = managementEndpoint(url));
    this.fetchChain = opts.fetchChain ?? ((h, p) => fetchPresentedChain(h, p));
  }

  get secure(): boolean {
    return this.trust.kind !== "insecure";
  }

  /** The CA certificate(s) PEM management is verified against, once known (undefined over http or before the pin was resolved). */
  get caPem(): string | undefined {
    return this.trust.kind === "ca" ? this.trust.caPem : this.pinnedCaPem;
  }

  /**
   * Options to spread into tls.connect / https.request: `ca`, `servername`, `rejectUnauthorized: true`, plus
   * the client certificate if given. Empty over http. With a pin, the first call fetches and checks the chain
   * (and throws ManagementTlsError or a socket error if that fails).
   */
  async options(client?: ClientCertificate): Promise<tls.ConnectionOptions> {
    if (this.trust.kind === "insecure") return {};
    const ca = this.trust.kind === "ca" ? this.trust.caPem : await this.resolvePin(this.trust.sha256);
    return {
      ca,
      ...(net.isIP(this.host) ? {} : { servername: this.host }),
      rejectUnauthorized: true,
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
    };
  }

  /** Forget a pinned CA after a certificate error, so the next connection checks the pin again. */
  invalidate(): void {
    if (this.trust.kind === "pin") this.pinnedCaPem = undefined;
  }

  private resolvePin(pin: string): Promise<string> {
    if (this.pinnedCaPem !== undefined) return Promise.resolve(this.pinnedCaPem);
    this.pinning ??= (async () => {
      try {
        const chain = await this.fetchChain(this.host, this.port);
        const ca = verifyPinnedChain(this.host, chain, pin);
        this.pinnedCaPem = ca.toString();
        return this.pinnedCaPem;
      } finally {
        this.pinning = undefined;
      }
    })();
    return this.pinning;
  }
}
