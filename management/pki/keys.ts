import { createPrivateKey, createPublicKey, randomBytes, webcrypto, type KeyObject } from "node:crypto";
import { PkiError } from "./errors.ts";

type CryptoKey = webcrypto.CryptoKey;

export interface SigningKey {
  /** WebCrypto key used by @peculiar/x509 to sign. */
  privateKey: CryptoKey;
  /** Node KeyObject of the same key (for matching against a certificate). */
  keyObject: KeyObject;
  /** Signature algorithm for certificates signed with this key. */
  signingAlgorithm: { name: string; hash: string };
}

const EC_CURVES: Record<string, { webName: string; hash: string }> = {
  prime256v1: { webName: "P-256", hash: "SHA-256" },
  secp384r1: { webName: "P-384", hash: "SHA-384" },
};

/** Generates an ECDSA P-256 key pair; returns the WebCrypto keys and the private key as PKCS#8 PEM. */
export async function generateP256(): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey; keyPem: string; spkiDer: Buffer }> {
  const pair = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", pair.privateKey));
  const spkiDer = Buffer.from(await webcrypto.subtle.exportKey("spki", pair.publicKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" })
    .export({ format: "pem", type: "pkcs8" })
    .toString();
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, keyPem, spkiDer };
}

/**
 * Loads a PEM private key (PKCS#8, SEC1 or PKCS#1; unencrypted) as a signing key.
 * Supports EC P-256/P-384 and RSA >= 2048. Errors never echo the key.
 */
export async function importSigningKey(keyPem: string, what: string): Promise<SigningKey> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: keyPem, format: "pem" });
  } catch {
    throw new PkiError("pki_bad_cert", `${what} is not a readable unencrypted PEM private key`);
  }
  const pkcs8 = keyObject.export({ format: "der", type: "pkcs8" });
  const type = keyObject.asymmetricKeyType;
  const details = keyObject.asymmetricKeyDetails ?? {};
  if (type === "ec") {
    const curve = EC_CURVES[details.namedCurve ?? ""];
    if (!curve) throw new PkiError("pki_unsupported_key", `${what}: unsupported EC curve ${details.namedCurve ?? "?"}`);
    const privateKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, { name: "ECDSA", namedCurve: curve.webName }, false, [
      "sign",
    ]);
    return { privateKey, keyObject, signingAlgorithm: { name: "ECDSA", hash: curve.hash } };
  }
  if (type === "rsa") {
    if ((details.modulusLength ?? 0) < 2048) throw new PkiError("pki_unsupported_key", `${what}: RSA key shorter than 2048 bits`);
    const privateKey = await webcrypto.subtle.importKey(
      "pkcs8",
      pkcs8,
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      false,
      ["sign"],
    );
    return { privateKey, keyObject, signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } };
  }
  throw new PkiError("pki_unsupported_key", `${what}: unsupported key type ${type ?? "?"}`);
}

/** Describes a subject public key (SPKI DER) and rejects anything but EC P-256/P-384 or RSA 2048–8192. */
export function checkSubjectPublicKey(spkiDer: Uint8Array): { type: "ec" | "rsa"; detail: string } {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spkiDer), format: "der", type: "spki" });
  } catch {
    throw new PkiError("pki_unsupported_key", "public key is malformed or of an unsupported type");
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === "ec") {
    const curve = EC_CURVES[details.namedCurve ?? ""];
    if (!curve) throw new PkiError("pki_unsupported_key", `unsupported EC curve ${details.namedCurve ?? "?"} (P-256 or P-384 required)`);
    return { type, detail: curve.webName };
  }
  if (type === "rsa") {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048) throw new PkiError("pki_unsupported_key", `RSA key of ${bits} bits is too short (>= 2048 required)`);
    if (bits > 8192) throw new PkiError("pki_unsupported_key", `RSA key of ${bits} bits is too long (<= 8192 accepted)`);
    return { type, detail: `RSA-${bits}` };
  }
  throw new PkiError("pki_unsupported_key", `unsupported key type ${type ?? "?"} (EC P-256/P-384 or RSA >= 2048 required)`);
}

/** Random 16-byte positive certificate serial as 32 lower-case hex digits (first byte 0x01–0x7f, so DER keeps all 16 bytes). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  if (b[0] === 0) b[0] = 0x01;
  return b.toString("hex");
}
