// The fallback certificate HTTPS listeners serve for names no certificate covers (DESIGN.md §6). Its
// issuer is a self-signed CA of its own under $CONFIG_DIR/certs/public-fallback — never the management
// CA that agents pin, so nothing a public client is shown chains to a key agents trust.
import path from "node:path";
import { CertificateAuthority } from "../pki/index.ts";

/** The name the fallback leaf carries: no client asks for it, so no client trusts it by accident. */
export const FALLBACK_NAME = "warren-fallback.invalid";

export interface FallbackIssuer {
  /** The fallback issuer's certificate, PEM (to inspect, never to trust). */
  readonly issuerPem: string;
  /** The leaf (chain: leaf, issuer) and its key; reissued before it expires. */
  certificate(): Promise<{ cert: string; key: string }>;
}

export async function openFallbackIssuer(configDir: string): Promise<FallbackIssuer> {
  const { ca } = await CertificateAuthority.loadOrCreate(path.join(configDir, "certs", "public-fallback"), { commonName: "Warren Public Fallback Issuer" });
  let current: { pair: { cert: string; key: string }; notAfter: number } | undefined;
  return {
    issuerPem: ca.certPem,
    async certificate() {
      // Reissued in memory at start and a day before it runs out (397 days): nothing to store.
      if (!current || current.notAfter - Date.now() < 86_400_000) {
        const leaf = await ca.issueServerCertificate([FALLBACK_NAME]);
        current = { pair: { cert: `${leaf.certPem.trimEnd()}\n${ca.certPem}`, key: leaf.keyPem }, notAfter: leaf.notAfter.getTime() };
      }
      return current.pair;
    },
  };
}
