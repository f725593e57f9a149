import type { Db } from "../store/index.ts";
import {
  SECRET_META_KEYS,
  acmeAccountKeyAad,
  captchaSecretAad,
  dnsCredentialSecretAad,
  listenerKeyAad,
  mapRouteSecrets,
  metaAad,
  tlsCertificateKeyAad,
} from "../store/secret-columns.ts";
import { isEnvelope, type Keyring } from "./keyring.ts";

export interface ReconcileCounts {
  /** Every stored secret, opened (and so verified) with the keyring. */
  checked: number;
  /** Plaintext (from before encryption at rest) now sealed. */
  encrypted: number;
  /** Sealed with a previous key, now sealed with the current one. */
  rewrapped: number;
}

/**
 * Opens every stored secret and rewrites, in one transaction, those that are plaintext or sealed
 * with a previous key. Any value that does not open throws a SecretError naming its row (the AAD),
 * never its value, and nothing is written. Runs at start-up and in `warren secrets rotate`.
 */
export function reconcileSecrets(db: Db, keyring: Keyring): ReconcileCounts {
  const counts: ReconcileCounts = { checked: 0, encrypted: 0, rewrapped: 0 };
  const visit = (value: string, aad: string): string => {
    if (value === "") return value;
    counts.checked++;
    const plain = keyring.open(value, aad);
    if (!keyring.needsRewrap(value)) return value;
    if (isEnvelope(value)) counts.rewrapped++;
    else counts.encrypted++;
    return keyring.seal(plain, aad);
  };
  const column = (table: string, column: string, aad: (id: string) => string) => {
    const update = db.prepare(`UPDATE ${table} SET ${column} = ? WHERE id = ?`);
    for (const row of db.prepare<[], { id: string; v: string }>(`SELECT id, ${column} AS v FROM ${table}`).all()) {
      const next = visit(row.v, aad(row.id));
      if (next !== row.v) update.run(next, row.id);
    }
  };
  db.transaction(() => {
    column("captcha_providers", "secret_key", captchaSecretAad);
    column("listeners", "tls_key_pem", listenerKeyAad);
    column("tls_certificates", "key_pem", tlsCertificateKeyAad);
    column("acme_accounts", "key_pem", acmeAccountKeyAad);
    column("dns_credentials", "secret", dnsCredentialSecretAad);
    const updateRoute = db.prepare("UPDATE routes SET spec = ? WHERE id = ?");
    for (const row of db.prepare<[], { id: string; spec: string }>("SELECT id, spec FROM routes").all()) {
      const next = mapRouteSecrets(row.id, row.spec, visit);
      if (next !== row.spec) updateRoute.run(next, row.id);
    }
    const setMeta = db.prepare("UPDATE meta SET value = ? WHERE key = ?");
    for (const key of SECRET_META_KEYS) {
      const row = db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?").get(key);
      if (!row) continue;
      const next = visit(row.value, metaAad(key));
      if (next !== row.value) setMeta.run(next, key);
    }
  }).immediate();
  return counts;
}
