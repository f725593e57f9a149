// Key and CSR generation for agent enrollment. Lives in tunnel/ because the agent needs it and the
// agent must not import management/. The CSR is small and fixed (CN, an EC P-256 key, ECDSA-SHA256),
// so it is encoded here in DER with node:crypto signing it: an ASN.1/X.509 library would add ~10 MB
// of resident memory to every agent (bench/agent-rss). Management parses and verifies it with
// @peculiar/x509 (management/pki), and test/unit/tunnel/csr.test.ts checks that round trip.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";

/** DER: a tag, its length, its content. */
function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OID_COMMON_NAME = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]); // 2.5.4.3
const OID_ECDSA_SHA256 = Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]); // 1.2.840.10045.4.3.2

function checkCommonName(cn: unknown): asserts cn is string {
  if (typeof cn !== "string" || cn.length === 0 || cn.length > 64) throw new TypeError("commonName must be a string of 1–64 characters");
}

/** PKCS#10 (RFC 2986) for `key`, subject CN=<cn>, no attributes, signed with ECDSA-SHA256. */
function csrFor(key: KeyObject, cn: string): string {
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  const subject = der(SEQUENCE, der(SET, der(SEQUENCE, OID_COMMON_NAME, der(0x0c, Buffer.from(cn, "utf8")))));
  const info = der(SEQUENCE, Buffer.from([0x02, 0x01, 0x00]), subject, spki, Buffer.from([0xa0, 0x00]));
  const signature = sign("sha256", info, { key, dsaEncoding: "der" });
  const csr = der(SEQUENCE, info, der(SEQUENCE, OID_ECDSA_SHA256), der(0x03, Buffer.from([0x00]), signature));
  const b64 = csr.toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END CERTIFICATE REQUEST-----\n`;
}

/**
 * Generates an ECDSA P-256 key and a PKCS#10 CSR (SHA-256) for it. The CSR subject is
 * CN=<commonName>; the CA ignores it and sets the identity through the URI SAN.
 * The key is returned as PKCS#8 PEM.
 */
export async function createKeyAndCsr(opts: { commonName: string }): Promise<{ keyPem: string; csrPem: string }> {
  checkCommonName(opts.commonName);
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { keyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(), csrPem: csrFor(privateKey, opts.commonName) };
}

/** A CSR for an existing PKCS#8 PEM key (renewal keeps the agent's key). */
export async function createCsrForKey(keyPem: string, commonName: string): Promise<string> {
  checkCommonName(commonName);
  return csrFor(createPrivateKey(keyPem), commonName);
}
