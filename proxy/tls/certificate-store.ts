// The certificates one HTTPS listener serves, compiled into the snapshot: a handshake picks one with
// map lookups on SecureContexts built at compile time — no SQLite, no PEM parsing, no I/O. Order
// (DESIGN.md §6): the exact name, then the wildcard for its parent (the only one a client accepts:
// RFC 6125 wildcards cover one label), then the listener's default certificate, then the fallback.
import type tls from "node:tls";
import type { OcspTarget } from "./ocsp.ts";

export interface StoredCertificate {
  readonly id: string;
  /** Lower case; `*.example.com` for wildcards. */
  readonly names: readonly string[];
  readonly context: tls.SecureContext;
  /** ms since the epoch; past it the certificate is skipped even before the next snapshot drops it. */
  readonly notAfter: number;
  /** Set when its issuer runs an OCSP responder: the data plane staples its answers. */
  readonly ocsp?: OcspTarget | undefined;
}

export type CertificateChoice =
  | { readonly kind: "stored"; readonly certificate: StoredCertificate }
  | { readonly kind: "default" };

/** Lower case, without a trailing dot: how names are keyed here and how SNI names are looked up. */
export function normalizeServerName(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith(".") ? n.slice(0, -1) : n;
}

export class CertificateStore {
  private readonly exact = new Map<string, StoredCertificate[]>();
  private readonly wildcard = new Map<string, StoredCertificate[]>();
  readonly size: number;

  /** `certificates` in order of preference per name (the compiler puts the newest first). */
  constructor(private readonly certificates: readonly StoredCertificate[]) {
    this.size = certificates.length;
    for (const c of certificates) {
      for (const raw of c.names) {
        const name = normalizeServerName(raw);
        const [map, key] = name.startsWith("*.") ? [this.wildcard, name.slice(2)] : [this.exact, name];
        const list = map.get(key);
        if (list) list.push(c);
        else map.set(key, [c]);
      }
    }
  }

  static readonly EMPTY = new CertificateStore([]);

  /** The certificate for an SNI name, or "default" (the listener's default or the fallback). */
  select(serverName: string, now: number = Date.now()): CertificateChoice {
    const name = normalizeServerName(serverName);
    const exact = firstValid(this.exact.get(name), now);
    if (exact) return { kind: "stored", certificate: exact };
    const dot = name.indexOf(".");
    if (dot > 0) {
      const wild = firstValid(this.wildcard.get(name.slice(dot + 1)), now);
      if (wild) return { kind: "stored", certificate: wild };
    }
    return DEFAULT;
  }

  /** What to fetch OCSP responses for. */
  *ocspTargets(): Iterable<OcspTarget> {
    for (const c of this.certificates) if (c.ocsp) yield c.ocsp;
  }

  /** Every name some certificate serves. */
  names(): string[] {
    return [...this.exact.keys(), ...[...this.wildcard.keys()].map((k) => `*.${k}`)];
  }
}

const DEFAULT: CertificateChoice = { kind: "default" };

function firstValid(list: StoredCertificate[] | undefined, now: number): StoredCertificate | undefined {
  if (!list) return undefined;
  for (const c of list) if (c.notAfter > now) return c;
  return undefined;
}
