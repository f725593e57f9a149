import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import { SettingsError, readList, readString, type Env } from "../../lib/env.ts";
import { writeFileAtomic } from "../../lib/atomic-file.ts";
import { Keyring } from "./keyring.ts";

export const KEY_FILE_VAR = "SECRETS_ENCRYPTION_KEY_FILE";
export const PREVIOUS_KEYS_VAR = "SECRETS_ENCRYPTION_PREVIOUS_KEYS";
/** Where the key lives when SECRETS_ENCRYPTION_KEY_FILE is unset: generated there on first start. */
export const GENERATED_KEY_FILE = "secrets.key";

const KEY_BYTES = 32;
const B64_RE = /^[A-Za-z0-9+/_-]{43}=?$/;

export interface SecretsSettings {
  /** SECRETS_ENCRYPTION_KEY_FILE, resolved, with its key; undefined means `$CONFIG_DIR/secrets.key`. */
  readonly keyFile: string | undefined;
  readonly key: Buffer | undefined;
  /** SECRETS_ENCRYPTION_PREVIOUS_KEYS: keys that only open old envelopes (rotation). */
  readonly previousKeys: readonly Buffer[];
}

/** A key as text: base64 (or base64url) of exactly 32 bytes; undefined when it is not one. */
export function parseKey(text: string): Buffer | undefined {
  const t = text.trim();
  if (!B64_RE.test(t)) return undefined;
  const key = Buffer.from(t.replace(/-/g, "+").replace(/_/g, "/"), "base64");
  return key.length === KEY_BYTES ? key : undefined;
}

/** A new random key as base64: what `warren secrets generate-key` prints. */
export function generateKeyText(): string {
  return randomBytes(KEY_BYTES).toString("base64");
}

/** Reads a key file: a regular file (symlinks followed) with no group/other bits, holding base64 of 32 bytes. */
export function readKeyFile(file: string, variable: string): Buffer {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new SettingsError(variable, `"${file}" is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      throw new SettingsError(variable, `"${file}" is open to group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (e instanceof SettingsError) throw e;
    throw new SettingsError(variable, `cannot read "${file}": ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
  const key = parseKey(text);
  if (!key) throw new SettingsError(variable, `"${file}" must hold base64 of exactly 32 bytes (make one with: warren secrets generate-key)`);
  return key;
}

/**
 * Reads SECRETS_ENCRYPTION_KEY_FILE and SECRETS_ENCRYPTION_PREVIOUS_KEYS. Each previous-key entry
 * (comma-separated) is a key itself when it is base64 of 32 bytes, else the path of a key file.
 */
export function loadSecretsSettings(env: Env, cwd: string = process.cwd()): SecretsSettings {
  const raw = readString(env, KEY_FILE_VAR);
  const keyFile = raw === undefined ? undefined : resolve(cwd, raw);
  const key = keyFile === undefined ? undefined : readKeyFile(keyFile, KEY_FILE_VAR);
  const previousKeys = readList(env, PREVIOUS_KEYS_VAR).map((entry) => parseKey(entry) ?? readKeyFile(resolve(cwd, entry), PREVIOUS_KEYS_VAR));
  return { keyFile, key, previousKeys };
}

/**
 * The keyring `warren serve` and the CLI use: the configured key, else `$CONFIG_DIR/secrets.key`,
 * which `serve` (create = true) generates 0600 on first start and logs once (never the key).
 */
export async function openKeyring(s: SecretsSettings, configDir: string, opts: { create: boolean; log?: Logger }): Promise<{ keyring: Keyring; keyFile: string; generated: boolean }> {
  if (s.key && s.keyFile) return { keyring: new Keyring(s.key, s.previousKeys), keyFile: s.keyFile, generated: false };
  const keyFile = join(configDir, GENERATED_KEY_FILE);
  if (existsSync(keyFile)) return { keyring: new Keyring(readKeyFile(keyFile, KEY_FILE_VAR), s.previousKeys), keyFile, generated: false };
  if (!opts.create) throw new SettingsError(KEY_FILE_VAR, `unset, and there is no generated key at "${keyFile}" (start warren serve once, or set ${KEY_FILE_VAR})`);
  await writeFileAtomic(keyFile, `${generateKeyText()}\n`, 0o600);
  const keyring = new Keyring(readKeyFile(keyFile, KEY_FILE_VAR), s.previousKeys);
  opts.log?.warn({ keyFile, keyId: keyring.currentKeyId }, "generated a secrets key: back it up with the database (a copy of the database without it reveals no secret, and cannot be used either)");
  return { keyring, keyFile, generated: true };
}
