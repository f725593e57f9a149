import { join } from "node:path";
import { openStore, type Store } from "../../management/store/index.ts";
import { Keyring } from "../../management/secrets/keyring.ts";
import { readKeyFile } from "../../management/secrets/key-files.ts";

/** The keyring a test server generated into its CONFIG_DIR on first start. */
export function serverKeyring(configDir: string): Keyring {
  return new Keyring(readKeyFile(join(configDir, "secrets.key"), "SECRETS_ENCRYPTION_KEY_FILE"));
}

/** Opens a test server's database with its secrets key, as `warren serve` does. */
export function openServerStore(configDir: string): Store {
  return openStore(join(configDir, "warren.db"), serverKeyring(configDir));
}
