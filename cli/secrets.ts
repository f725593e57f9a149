import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { resolveStatePaths } from "../management/settings/management-settings.ts";
import { openStore } from "../management/store/index.ts";
import { generateKeyText, loadSecretsSettings, openKeyring } from "../management/secrets/key-files.ts";
import { reconcileSecrets } from "../management/secrets/reconcile.ts";
import { writeFileAtomic } from "../lib/atomic-file.ts";
import { CliError } from "./password-input.ts";

/**
 * `warren secrets generate-key [--out FILE]`: a new key, base64 of 32 random bytes, printed or
 * written 0600 to a file that must not exist yet (so a key in use is never overwritten).
 */
export async function generateKey(opts: { out?: string }): Promise<string> {
  const key = generateKeyText();
  if (!opts.out) return key;
  const file = resolve(opts.out);
  if (existsSync(file)) throw new CliError(`${file} exists; refusing to overwrite a key (choose another --out)`);
  await writeFileAtomic(file, `${key}\n`, 0o600);
  return `wrote a new secrets key to ${file} (mode 600)`;
}

/**
 * `warren secrets rotate`: with the new key in SECRETS_ENCRYPTION_KEY_FILE and the old one in
 * SECRETS_ENCRYPTION_PREVIOUS_KEYS, opens every stored secret and reseals what the current key did
 * not seal, in one transaction. Run it with the server stopped (or just restart the server with the
 * new settings: start-up does the same), since a running server keeps reading with its old keys.
 */
export async function rotateSecrets(): Promise<string> {
  const { configDir, databasePath } = resolveStatePaths(process.env);
  if (!existsSync(databasePath)) throw new CliError(`no database at ${databasePath} (set CONFIG_DIR or DATABASE_PATH)`);
  const { keyring, keyFile } = await openKeyring(loadSecretsSettings(process.env), configDir, { create: false });
  const store = openStore(databasePath, keyring);
  try {
    const c = reconcileSecrets(store.db, keyring);
    store.audit.insert({
      at: Date.now(),
      actor_kind: "cli",
      actor_id: "",
      actor_name: process.env.USER ?? "",
      method: "cli/secrets rotate",
      target_id: keyring.currentKeyId,
      outcome: "ok",
      peer_ip: "",
      detail: `rewrapped ${c.rewrapped}, encrypted ${c.encrypted}, checked ${c.checked}`,
    });
    return `rewrapped ${c.rewrapped} secret(s) with key ${keyring.currentKeyId} (${keyFile}); encrypted ${c.encrypted} stored in clear; ${c.checked} checked`;
  } finally {
    store.close();
  }
}
