// Compiles the stored certificates into each HTTPS listener's CertificateStore (proxy/tls/), so a
// handshake never reads SQLite or parses PEM. SecureContexts are kept across compiles by content:
// a write elsewhere in the config does not rebuild hundreds of them.
import { createHash } from "node:crypto";
import tls from "node:tls";
import { LRUCache } from "lru-cache";
import { CertificateStore, ocspTarget, type OcspTarget, type StoredCertificate } from "../../proxy/index.ts";
import type { TlsCertificateRow } from "../store/index.ts";

const contexts = new LRUCache<string, tls.SecureContext>({ max: 4096 });

function secureContext(certPem: string, keyPem: string): tls.SecureContext {
  const key = createHash("sha256").update(certPem).update("\0").update(keyPem).digest("hex");
  let ctx = contexts.get(key);
  if (!ctx) {
    ctx = tls.createSecureContext({ cert: certPem, key: keyPem });
    contexts.set(key, ctx);
  }
  return ctx;
}

const targets = new LRUCache<string, { target: OcspTarget | undefined }>({ max: 4096 });

/** The chain's OCSP target (cached by content like the contexts); undefined when it has no responder. */
export function ocspTargetOf(chainPem: string): OcspTarget | undefined {
  let hit = targets.get(chainPem);
  if (!hit) {
    let target: OcspTarget | undefined;
    try {
      target = ocspTarget(chainPem);
    } catch {
      target = undefined;
    }
    hit = { target };
    targets.set(chainPem, hit);
  }
  return hit.target;
}

/** True when the row has a certificate that can be served now (pending ACME ones have none yet). */
export function servable(row: TlsCertificateRow, now: number): boolean {
  return row.cert_pem !== "" && row.key_pem !== "" && row.not_after > now && row.not_before <= now;
}

/** Per listener id: its certificate store. Listeners without certificates are absent (CertificateStore.EMPTY). */
export function compileCertificateStores(rows: readonly TlsCertificateRow[], now: number = Date.now()): Map<string, CertificateStore> {
  const byListener = new Map<string, StoredCertificate[]>();
  // The newest first — issued last, then stored last: after an upload, the new certificate wins over
  // the one it replaces, even one that would have lasted longer (another CA, shorter lifetimes).
  const ordered = [...rows].sort((a, b) => b.not_before - a.not_before || b.updated_at - a.updated_at);
  for (const row of ordered) {
    if (!servable(row, now)) continue;
    let context: tls.SecureContext;
    try {
      context = secureContext(row.cert_pem, row.key_pem);
    } catch {
      // Validated on write; a row that still fails (a file replaced by garbage) is not served.
      continue;
    }
    const list = byListener.get(row.listener_id) ?? [];
    list.push({ id: row.id, names: JSON.parse(row.names) as string[], context, notAfter: row.not_after, ocsp: ocspTargetOf(row.cert_pem) });
    byListener.set(row.listener_id, list);
  }
  const stores = new Map<string, CertificateStore>();
  for (const [id, list] of byListener) stores.set(id, new CertificateStore(list));
  return stores;
}
