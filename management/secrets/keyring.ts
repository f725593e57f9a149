import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { SecretError } from "./errors.ts";

/** Every encrypted value starts with this; anything else in a secret column is plaintext. */
export const ENVELOPE_PREFIX = "warren:enc:v1:";

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** First 8 hex digits of SHA-256 of the key: names the key in envelopes without revealing it. */
export function keyIdOf(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

/**
 * The additional authenticated data that binds an envelope to one row and purpose, so a
 * ciphertext copied into another row (or column) fails to open: `table:rowId:purpose`, or
 * `table:purpose` for singletons such as a meta key.
 */
export function secretAad(table: string, rowId: string, purpose?: string): string {
  return purpose === undefined ? `${table}:${rowId}` : `${table}:${rowId}:${purpose}`;
}

export function isEnvelope(value: string): boolean {
  return value.startsWith(ENVELOPE_PREFIX);
}

/** The key id an envelope names, or undefined for plaintext. */
export function envelopeKeyId(value: string): string | undefined {
  if (!isEnvelope(value)) return undefined;
  return value.slice(ENVELOPE_PREFIX.length).split(":", 1)[0];
}

/** What the store needs: seal on write, open on read. */
export interface SecretBox {
  seal(value: string, aad: string): string;
  open(value: string, aad: string): string;
}

/** For stores opened without a key (tools that touch no secret): plaintext reads pass, the rest fails loudly. */
export const NO_KEYRING: SecretBox = {
  seal(value, aad) {
    if (value === "") return "";
    throw new SecretError("secret_unknown_key", `${aad}: no secrets key is loaded, so a secret cannot be written`);
  },
  open(value, aad) {
    if (!isEnvelope(value)) return value;
    throw new SecretError("secret_unknown_key", `${aad}: no secrets key is loaded, so this secret cannot be read`);
  },
};

/**
 * AES-256-GCM with the current key; older keys only open. Envelope:
 * `warren:enc:v1:<keyId>:<nonce b64url>:<ciphertext+tag b64url>`.
 */
export class Keyring implements SecretBox {
  readonly currentKeyId: string;
  private readonly current: Buffer;
  private readonly keys = new Map<string, Buffer>();

  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    if (current.length !== KEY_BYTES) throw new RangeError(`a secrets key is ${KEY_BYTES} bytes, got ${current.length}`);
    this.current = current;
    this.currentKeyId = keyIdOf(current);
    for (const k of previous) {
      if (k.length !== KEY_BYTES) throw new RangeError(`a secrets key is ${KEY_BYTES} bytes, got ${k.length}`);
      this.keys.set(keyIdOf(k), k);
    }
    this.keys.set(this.currentKeyId, current);
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  encrypt(plaintext: string, aad: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.current, nonce);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `${ENVELOPE_PREFIX}${this.currentKeyId}:${nonce.toString("base64url")}:${body.toString("base64url")}`;
  }

  /** Opens an envelope; throws SecretError naming the AAD (the row), never the value. */
  decrypt(envelope: string, aad: string): string {
    if (!isEnvelope(envelope)) throw new SecretError("secret_malformed", `${aad}: not an encrypted value`);
    const parts = envelope.slice(ENVELOPE_PREFIX.length).split(":");
    const [keyId, nonceB64, bodyB64] = parts;
    if (parts.length !== 3 || !keyId || !nonceB64 || !bodyB64) throw new SecretError("secret_malformed", `${aad}: malformed envelope`);
    const key = this.keys.get(keyId);
    if (!key) {
      throw new SecretError(
        "secret_unknown_key",
        `${aad}: encrypted with key ${keyId}, which is neither the current key (${this.currentKeyId}) nor in SECRETS_ENCRYPTION_PREVIOUS_KEYS`,
      );
    }
    const nonce = Buffer.from(nonceB64, "base64url");
    const body = Buffer.from(bodyB64, "base64url");
    if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw new SecretError("secret_malformed", `${aad}: malformed envelope`);
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, nonce);
      decipher.setAAD(Buffer.from(aad, "utf8"));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch (e) {
      throw new SecretError("secret_decrypt_failed", `${aad}: authentication failed with key ${keyId} (tampered, or copied from another row)`, { cause: e });
    }
  }

  /** Opens plaintext as is (rows written before encryption); envelopes are decrypted. */
  open(value: string, aad: string): string {
    return isEnvelope(value) ? this.decrypt(value, aad) : value;
  }

  /** Empty stays empty (an unset secret); anything else is sealed with the current key. */
  seal(value: string, aad: string): string {
    return value === "" ? "" : this.encrypt(value, aad);
  }

  /** True when a stored value must be rewritten: plaintext, or sealed with a previous key. */
  needsRewrap(value: string): boolean {
    if (value === "") return false;
    return envelopeKeyId(value) !== this.currentKeyId;
  }
}
