import { PkiError } from "./errors.ts";

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n?-----END \1-----/g;

/** Returns the DER of every PEM block with the given label, in file order. */
export function pemBlocks(text: string, label: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    if (m[1] !== label) continue;
    const body = (m[2] ?? "").replace(/[\s]+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length === 0) continue;
    out.push(Buffer.from(body, "base64"));
  }
  return out;
}

/** DER of the first CERTIFICATE block, or the input itself when it is already DER. */
export function certificateDer(input: string | Buffer | Uint8Array): Buffer {
  if (typeof input !== "string") {
    const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    // A Buffer holding PEM text is accepted too.
    if (buf.length > 0 && buf[0] === 0x2d /* '-' */) return certificateDer(buf.toString("latin1"));
    if (buf.length < 2 || buf[0] !== 0x30) throw new PkiError("pki_bad_cert", "certificate is neither DER nor PEM");
    return buf;
  }
  const der = pemBlocks(input, "CERTIFICATE")[0];
  if (!der) throw new PkiError("pki_bad_cert", "no PEM CERTIFICATE block found");
  return der;
}

export function derToPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
