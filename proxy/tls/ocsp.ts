// OCSP stapling (RFC 6960, RFC 6066 §8): for every served certificate whose issuer runs an OCSP
// responder (the leaf's Authority Information Access), Warren fetches a response in the background,
// keeps it until half its validity has passed, and hands it to clients that ask in the handshake —
// so a client learns the certificate is good without asking the CA itself. Only "good" answers for
// the right serial are stapled; a revoked or unreadable one is logged and not sent.
import { X509Certificate, createHash } from "node:crypto";
import type { Logger } from "pino";
import { TAG, child, children, generalizedTime, readTlv, tlv, type Tlv } from "../../lib/der.ts";

/** What the stapler fetches for one certificate, worked out once when the snapshot is compiled. */
export interface OcspTarget {
  /** SHA-256 of the leaf's DER, hex: how a handshake finds the response. */
  readonly key: string;
  readonly url: string;
  /** The DER OCSPRequest for this leaf. */
  readonly request: Buffer;
  /** The leaf's serial number (DER INTEGER contents). */
  readonly serial: Buffer;
  /** For logs: the leaf's first name. */
  readonly name: string;
}

const SHA1_ALGORITHM = tlv(TAG.SEQUENCE, tlv(TAG.OID, Buffer.from([0x2b, 0x0e, 0x03, 0x02, 0x1a])), tlv(TAG.NULL));
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export const leafKey = (der: Buffer): string => createHash("sha256").update(der).digest("hex");

/** tbsCertificate's fields: [0] version?, serial, signature, issuer, validity, subject, spki, … */
function tbsFields(certDer: Buffer): Tlv[] {
  const tbs = child(readTlv(certDer), 0, TAG.SEQUENCE);
  const fields = children(tbs);
  return fields[0]?.tag === 0xa0 ? fields.slice(1) : fields;
}

/** The OCSP target of a PEM chain (leaf first, its issuer second), or undefined without a responder or an issuer. */
export function ocspTarget(chainPem: string): OcspTarget | undefined {
  const blocks = chainPem.match(PEM_CERT) ?? [];
  if (blocks.length < 2) return undefined;
  const leaf = new X509Certificate(blocks[0]!);
  const url = /OCSP - URI:(\S+)/.exec(leaf.infoAccess ?? "")?.[1];
  if (!url || !/^https?:\/\//.test(url)) return undefined;
  const issuerDer = new X509Certificate(blocks[1]!).raw;
  const issuer = tbsFields(issuerDer);
  const subject = issuer[4]!;
  const spki = issuer[5]!;
  // issuerKeyHash covers the subjectPublicKey BIT STRING's value, without its unused-bits octet.
  const publicKey = child(spki, 1, TAG.BIT_STRING).value.subarray(1);
  const serial = tbsFields(leaf.raw)[0]!;
  const certId = tlv(
    TAG.SEQUENCE,
    SHA1_ALGORITHM,
    tlv(TAG.OCTET_STRING, createHash("sha1").update(subject.raw).digest()),
    tlv(TAG.OCTET_STRING, createHash("sha1").update(publicKey).digest()),
    serial.raw,
  );
  // OCSPRequest { TBSRequest { requestList { Request { reqCert } } } }
  const request = tlv(TAG.SEQUENCE, tlv(TAG.SEQUENCE, tlv(TAG.SEQUENCE, tlv(TAG.SEQUENCE, certId))));
  const name = /DNS:([^,\s]+)/.exec(leaf.subjectAltName ?? "")?.[1] ?? leaf.subject;
  return { key: leafKey(leaf.raw), url, request, serial: serial.value, name };
}

export interface OcspAnswer {
  readonly status: "good" | "revoked" | "unknown";
  readonly thisUpdate: number;
  /** Absent when the responder gives none (then it is refreshed hourly). */
  readonly nextUpdate: number | undefined;
}

const BASIC_OCSP = Buffer.from([0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01]);

/** Reads an OCSPResponse for `serial`; throws on anything that is not a well-formed successful answer about it. */
export function parseOcspResponse(der: Buffer, serial: Buffer): OcspAnswer {
  const top = readTlv(der);
  if (top.tag !== TAG.SEQUENCE || top.raw.length !== der.length) throw new Error("not an OCSP response");
  const status = child(top, 0, TAG.ENUMERATED).value[0];
  if (status !== 0) throw new Error(`the responder answered status ${status} (${["successful", "malformedRequest", "internalError", "tryLater", "", "sigRequired", "unauthorized"][status ?? 4] ?? "?"})`);
  const bytes = child(child(top, 1, 0xa0), 0, TAG.SEQUENCE);
  if (!child(bytes, 0, TAG.OID).value.equals(BASIC_OCSP)) throw new Error("not a basic OCSP response");
  const basic = readTlv(child(bytes, 1, TAG.OCTET_STRING).value);
  const data = child(basic, 0, TAG.SEQUENCE);
  const fields = children(data);
  // [0] version?, responderID ([1] or [2]), producedAt, responses, [1] extensions?
  const rest = fields[0]?.tag === 0xa0 ? fields.slice(1) : fields;
  const responses = rest[2];
  if (!responses || responses.tag !== TAG.SEQUENCE) throw new Error("no responses in the OCSP answer");
  for (const single of children(responses)) {
    const parts = children(single);
    const certId = parts[0]!;
    if (!child(certId, 3, TAG.INTEGER).value.equals(serial)) continue;
    const statusTag = parts[1]!.tag;
    const thisUpdate = generalizedTime(parts[2]!);
    const next = parts.slice(3).find((p) => p.tag === 0xa0);
    return {
      status: statusTag === 0x80 ? "good" : statusTag === 0xa1 ? "revoked" : "unknown",
      thisUpdate,
      nextUpdate: next ? generalizedTime(child(next, 0)) : undefined,
    };
  }
  throw new Error("the OCSP answer is about another certificate");
}

interface Entry {
  target: OcspTarget;
  response: Buffer | undefined;
  /** When the stapled response stops being valid (its nextUpdate). */
  validUntil: number;
  timer: NodeJS.Timeout | undefined;
  failures: number;
}

const MIN_REFRESH_MS = 60_000;
const MAX_REFRESH_MS = 24 * 3_600_000;
const NO_NEXT_UPDATE_REFRESH_MS = 3_600_000;
const FETCH_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

export class OcspStapler {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The response to staple for a leaf (its DER), or undefined: a map lookup, nothing else. */
  response(leafDer: Buffer): Buffer | undefined {
    const e = this.entries.get(leafKey(leafDer));
    if (!e?.response) return undefined;
    if (e.validUntil <= this.now()) return undefined;
    return e.response;
  }

  /** Starts fetching for new targets and forgets those no longer served. */
  update(targets: Iterable<OcspTarget>): void {
    if (this.closed) return;
    const seen = new Set<string>();
    for (const t of targets) {
      seen.add(t.key);
      if (this.entries.has(t.key)) continue;
      const e: Entry = { target: t, response: undefined, validUntil: 0, timer: undefined, failures: 0 };
      this.entries.set(t.key, e);
      void this.refresh(e);
    }
    for (const [key, e] of this.entries) {
      if (seen.has(key)) continue;
      clearTimeout(e.timer);
      this.entries.delete(key);
    }
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) clearTimeout(e.timer);
    this.entries.clear();
  }

  private schedule(e: Entry, inMs: number): void {
    if (this.closed || this.entries.get(e.target.key) !== e) return;
    clearTimeout(e.timer);
    e.timer = setTimeout(() => void this.refresh(e), Math.min(MAX_REFRESH_MS, Math.max(MIN_REFRESH_MS, inMs)));
    e.timer.unref();
  }

  private async refresh(e: Entry): Promise<void> {
    const t = e.target;
    try {
      const res = await fetch(t.url, {
        method: "POST",
        headers: { "content-type": "application/ocsp-request", accept: "application/ocsp-response" },
        body: t.request,
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const der = Buffer.from(await res.arrayBuffer());
      if (der.length > MAX_RESPONSE_BYTES) throw new Error(`a ${der.length}-byte answer`);
      const answer = parseOcspResponse(der, t.serial);
      const now = this.now();
      if (answer.status !== "good") {
        e.response = undefined;
        this.log.error({ component: "public_tls", name: t.name, url: t.url, status: answer.status }, "the OCSP responder says this certificate is not good; nothing is stapled");
        this.schedule(e, NO_NEXT_UPDATE_REFRESH_MS);
        return;
      }
      e.response = der;
      e.validUntil = answer.nextUpdate ?? now + 2 * NO_NEXT_UPDATE_REFRESH_MS;
      e.failures = 0;
      this.log.debug({ component: "public_tls", name: t.name, nextUpdate: answer.nextUpdate && new Date(answer.nextUpdate).toISOString() }, "OCSP response stapled");
      this.schedule(e, answer.nextUpdate !== undefined ? (answer.nextUpdate - Math.max(answer.thisUpdate, Math.min(now, answer.nextUpdate))) / 2 : NO_NEXT_UPDATE_REFRESH_MS);
    } catch (err) {
      if (this.closed) return;
      e.failures++;
      // The last good answer keeps being stapled until its nextUpdate.
      this.log.warn({ component: "public_tls", name: t.name, url: t.url, err: (err as Error).message, failures: e.failures }, "OCSP response could not be fetched");
      this.schedule(e, 5 * 60_000 * 2 ** Math.min(e.failures - 1, 4));
    }
  }
}
