import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { ENVELOPE_PREFIX, Keyring, envelopeKeyId, keyIdOf, secretAad } from "../../../management/secrets/keyring.ts";
import { SecretError } from "../../../management/secrets/errors.ts";

const AAD = secretAad("captcha_providers", "cap_x", "secret_key");
const failsWith = (fn: () => unknown, code: string, pattern?: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof SecretError && e.code === code && (!pattern || pattern.test(e.message)));

describe("secrets keyring", () => {
  it("round-trips and names the key in the envelope", () => {
    const key = randomBytes(32);
    const ring = new Keyring(key);
    const env = ring.encrypt("hunter2-secret", AAD);
    assert.ok(env.startsWith(`${ENVELOPE_PREFIX}${keyIdOf(key)}:`));
    assert.equal(keyIdOf(key), createHash("sha256").update(key).digest("hex").slice(0, 8));
    assert.equal(envelopeKeyId(env), ring.currentKeyId);
    assert.ok(!env.includes("hunter2"));
    assert.equal(ring.decrypt(env, AAD), "hunter2-secret");
    assert.notEqual(ring.encrypt("hunter2-secret", AAD), env, "a fresh nonce every time");
    assert.equal(ring.decrypt(ring.encrypt("", AAD), AAD), "");
    assert.equal(ring.decrypt(ring.encrypt("ünïcødé ✓", AAD), AAD), "ünïcødé ✓");
  });

  it("fails with another row's or purpose's AAD", () => {
    const ring = new Keyring(randomBytes(32));
    const env = ring.encrypt("s3cret", AAD);
    failsWith(() => ring.decrypt(env, secretAad("captcha_providers", "cap_y", "secret_key")), "secret_decrypt_failed", /^captcha_providers:cap_y:secret_key: /);
    failsWith(() => ring.decrypt(env, secretAad("listeners", "cap_x", "tls_key_pem")), "secret_decrypt_failed");
  });

  it("fails on a tampered ciphertext, nonce or tag", () => {
    const ring = new Keyring(randomBytes(32));
    const env = ring.encrypt("s3cret value", AAD);
    const [prefix, body] = [env.slice(0, env.lastIndexOf(":") + 1), env.slice(env.lastIndexOf(":") + 1)];
    const bytes = Buffer.from(body, "base64url");
    for (const i of [0, bytes.length - 1]) {
      const t = Buffer.from(bytes);
      t[i]! ^= 1;
      failsWith(() => ring.decrypt(prefix + t.toString("base64url"), AAD), "secret_decrypt_failed");
    }
    const parts = env.split(":");
    const nonce = Buffer.from(parts[4]!, "base64url");
    nonce[0]! ^= 1;
    parts[4] = nonce.toString("base64url");
    failsWith(() => ring.decrypt(parts.join(":"), AAD), "secret_decrypt_failed");
    failsWith(() => ring.decrypt(`${ENVELOPE_PREFIX}${ring.currentKeyId}:abc`, AAD), "secret_malformed");
    failsWith(() => ring.decrypt("plain", AAD), "secret_malformed");
  });

  it("opens envelopes of a previous key and seals with the current one", () => {
    const oldKey = randomBytes(32);
    const old = new Keyring(oldKey);
    const env = old.encrypt("rotate me", AAD);
    const ring = new Keyring(randomBytes(32), [oldKey]);
    assert.equal(ring.decrypt(env, AAD), "rotate me");
    assert.equal(ring.needsRewrap(env), true);
    const again = ring.seal(ring.open(env, AAD), AAD);
    assert.equal(envelopeKeyId(again), ring.currentKeyId);
    assert.equal(ring.needsRewrap(again), false);
    assert.equal(ring.needsRewrap("plaintext"), true);
    assert.equal(ring.needsRewrap(""), false);
    assert.equal(ring.open("plaintext", AAD), "plaintext", "rows from before encryption read as they are");
    assert.equal(ring.seal("", AAD), "", "an unset secret stays empty");
  });

  it("names an unknown key id clearly", () => {
    const other = new Keyring(randomBytes(32));
    const env = other.encrypt("x", AAD);
    const ring = new Keyring(randomBytes(32));
    failsWith(() => ring.decrypt(env, AAD), "secret_unknown_key", new RegExp(`${AAD}: encrypted with key ${other.currentKeyId}, .*SECRETS_ENCRYPTION_PREVIOUS_KEYS`));
  });

  it("refuses keys that are not 32 bytes", () => {
    assert.throws(() => new Keyring(randomBytes(16)), RangeError);
    assert.throws(() => new Keyring(randomBytes(32), [randomBytes(31)]), RangeError);
  });
});
