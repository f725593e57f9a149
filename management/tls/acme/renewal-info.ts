// ACME Renewal Information (RFC 9773): the CA's suggested renewal window for one certificate. The
// certificate is named by base64url(AKI keyIdentifier) "." base64url(serial number's DER content
// octets) (§4.1), appended to the directory's `renewalInfo` URL. A CA without ARI (Pebble 2.4, many
// others) gives undefined, and the scheduler falls back to two thirds of the lifetime.
import { x509 } from "../../pki/x509.ts";
import { AcmeTransport } from "./transport.ts";

export interface RenewalInfo {
  start: Date;
  end: Date;
  /** From the answer's Retry-After: when to ask again. */
  retryAfterMs?: number;
  explanationUrl?: string;
}

export class RenewalInfoError extends Error {
  override readonly name = "RenewalInfoError";
}

/** The RFC 9773 §4.1 certificate identifier of the leaf (first certificate) in `certPem`. */
export function ariCertId(certPem: string): string {
  const cert = new x509.X509Certificate(certPem);
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) throw new RenewalInfoError("the certificate has no Authority Key Identifier keyIdentifier (required by ACME Renewal Information)");
  // The serial's DER content octets: minimal two's complement, so a leading 0x00 when the top bit is set.
  let serial = cert.serialNumber.toLowerCase().replace(/^(00)+/, "");
  if (serial.length % 2 === 1) serial = `0${serial}`;
  if (serial === "") serial = "00";
  if (parseInt(serial.slice(0, 2), 16) >= 0x80) serial = `00${serial}`;
  return `${Buffer.from(aki.keyId, "hex").toString("base64url")}.${Buffer.from(serial, "hex").toString("base64url")}`;
}

export async function fetchRenewalInfo(input: {
  directoryUrl: string;
  certPem: string;
  caCertificates?: string | undefined;
  signal?: AbortSignal | undefined;
}): Promise<RenewalInfo | undefined> {
  const transport = new AcmeTransport({ caCertificates: input.caCertificates, signal: input.signal, retries: 1 });
  try {
    const dir = await transport.get(input.directoryUrl);
    if (dir.status !== 200 || typeof dir.data !== "object" || dir.data === null) {
      throw new RenewalInfoError(`reading the ACME directory ${input.directoryUrl} failed: HTTP ${dir.status}`);
    }
    const base = (dir.data as { renewalInfo?: unknown }).renewalInfo;
    if (typeof base !== "string" || base === "") return undefined;
    const url = `${base.replace(/\/+$/, "")}/${ariCertId(input.certPem)}`;
    const resp = await transport.get(url);
    if (resp.status !== 200) {
      const detail = typeof resp.data === "object" && resp.data !== null ? (resp.data as { detail?: unknown }).detail : undefined;
      throw new RenewalInfoError(`ACME renewal information ${url}: HTTP ${resp.status}${typeof detail === "string" ? `: ${detail}` : ""}`);
    }
    const body = resp.data as { suggestedWindow?: { start?: unknown; end?: unknown }; explanationURL?: unknown } | null;
    const start = typeof body?.suggestedWindow?.start === "string" ? new Date(body.suggestedWindow.start) : undefined;
    const end = typeof body?.suggestedWindow?.end === "string" ? new Date(body.suggestedWindow.end) : undefined;
    if (!start || !end || Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end.getTime() <= start.getTime()) {
      throw new RenewalInfoError(`ACME renewal information ${url}: no valid suggestedWindow`);
    }
    const info: RenewalInfo = { start, end };
    const retryAfter = parseRetryAfter(resp.headers["retry-after"]);
    if (retryAfter !== undefined) info.retryAfterMs = retryAfter;
    if (typeof body?.explanationURL === "string") info.explanationUrl = body.explanationURL;
    return info;
  } finally {
    transport.close();
  }
}

function parseRetryAfter(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === "") return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}
