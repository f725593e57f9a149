// The few DER (X.690) pieces OCSP stapling needs: walk the TLVs of a certificate or a response, and
// write the small request. Not a general ASN.1 library: definite lengths only, no indefinite forms
// (DER has none), and every read is bounds-checked so a hostile responder's bytes throw, never overrun.

export interface Tlv {
  /** The whole identifier octet (class, constructed bit, tag number < 31). */
  readonly tag: number;
  /** The encoding, identifier and length included. */
  readonly raw: Buffer;
  /** The contents octets. */
  readonly value: Buffer;
}

export class DerError extends Error {
  override name = "DerError";
}

/** Reads the TLV at `offset` of `buf`. */
export function readTlv(buf: Buffer, offset = 0): Tlv {
  if (offset + 2 > buf.length) throw new DerError("truncated TLV");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not used here");
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > buf.length) throw new DerError("bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > buf.length) throw new DerError("TLV runs past its container");
  return { tag, raw: buf.subarray(offset, p + len), value: buf.subarray(p, p + len) };
}

/** The TLVs inside a constructed value, in order. */
export function children(tlv: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = 0;
  while (p < tlv.value.length) {
    const c = readTlv(tlv.value, p);
    out.push(c);
    p += c.raw.length;
  }
  return out;
}

export function child(tlv: Tlv, i: number, tag?: number): Tlv {
  const c = children(tlv)[i];
  if (!c) throw new DerError(`missing element ${i}`);
  if (tag !== undefined && c.tag !== tag) throw new DerError(`element ${i}: tag 0x${c.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return c;
}

function lengthOctets(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one TLV. */
export function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const value = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), lengthOctets(value.length), value]);
}

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
} as const;

/** GeneralizedTime "YYYYMMDDHHMMSS[.fff]Z" → ms since the epoch. */
export function generalizedTime(t: Tlv): number {
  const s = t.value.toString("latin1");
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/.exec(s);
  if (t.tag !== TAG.GENERALIZED_TIME || !m) throw new DerError(`not a GeneralizedTime: ${JSON.stringify(s.slice(0, 32))}`);
  const ms = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) + Math.floor(ms);
}
