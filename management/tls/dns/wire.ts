// DNS wire format for RFC 2136 UPDATE messages signed with TSIG (RFC 8945): just what the rfc2136
// provider sends and reads — a header, the zone section, TXT add/delete RRs, the TSIG RR — and a reader
// for the answer's header and TSIG. Names are written uncompressed (always allowed); answers may
// compress, so the reader follows pointers.
import { createHmac, timingSafeEqual } from "node:crypto";

export const TYPE_SOA = 6;
export const TYPE_TXT = 16;
export const TYPE_TSIG = 250;
export const CLASS_IN = 1;
export const CLASS_NONE = 254;
export const CLASS_ANY = 255;
export const OPCODE_UPDATE = 5;

export const RCODE_NAMES: Record<number, string> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  6: "YXDOMAIN",
  7: "YXRRSET",
  8: "NXRRSET",
  9: "NOTAUTH",
  10: "NOTZONE",
  16: "BADSIG",
  17: "BADKEY",
  18: "BADTIME",
  22: "BADTRUNC",
};

/** TSIG algorithm names (RFC 8945 §6) and their Node digests. */
export const TSIG_ALGORITHMS = {
  "hmac-sha256": "sha256",
  "hmac-sha384": "sha384",
  "hmac-sha512": "sha512",
} as const;
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

export class DnsWireError extends Error {
  override readonly name = "DnsWireError";
}

/** A domain name in wire form (labels, root). Lower-cased when `canonical` (TSIG's MAC input, RFC 8945 §4.3.3). */
export function encodeName(name: string, canonical = false): Buffer {
  const trimmed = name.replace(/\.$/, "");
  const parts: Buffer[] = [];
  if (trimmed !== "") {
    for (const label of trimmed.split(".")) {
      const bytes = Buffer.from(canonical ? label.toLowerCase() : label, "ascii");
      if (bytes.length === 0 || bytes.length > 63) throw new DnsWireError(`invalid DNS name ${JSON.stringify(name)}: a label is empty or longer than 63 bytes`);
      parts.push(Buffer.from([bytes.length]), bytes);
    }
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new DnsWireError(`invalid DNS name ${JSON.stringify(name)}: longer than 255 bytes`);
  return out;
}

/** TXT RDATA: the value as <character-string>s of at most 255 bytes each. */
export function txtRdata(value: string): Buffer {
  const bytes = Buffer.from(value, "utf8");
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
    if (bytes.length === 0) break;
  }
  return Buffer.concat(parts);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

function rr(name: string, type: number, klass: number, ttl: number, rdata: Buffer): Buffer {
  return Buffer.concat([encodeName(name), u16(type), u16(klass), u32(ttl), u16(rdata.length), rdata]);
}

export interface TxtUpdate {
  action: "add" | "delete";
  name: string;
  value: string;
  ttl?: number;
}

/** An unsigned UPDATE message (RFC 2136 §2): zone section, no prerequisites, the TXT changes. */
export function buildUpdate(id: number, zone: string, updates: readonly TxtUpdate[]): Buffer {
  const header = Buffer.concat([u16(id), u16(OPCODE_UPDATE << 11), u16(1), u16(0), u16(updates.length), u16(0)]);
  const zoneSection = Buffer.concat([encodeName(zone), u16(TYPE_SOA), u16(CLASS_IN)]);
  const records = updates.map((u) =>
    u.action === "add"
      ? rr(u.name, TYPE_TXT, CLASS_IN, u.ttl ?? 120, txtRdata(u.value))
      : // Delete an RR from an RRset (RFC 2136 §2.5.4): class NONE, TTL 0, the exact RDATA.
        rr(u.name, TYPE_TXT, CLASS_NONE, 0, txtRdata(u.value)),
  );
  return Buffer.concat([header, zoneSection, ...records]);
}

interface TsigFields {
  algorithm: string;
  timeSigned: number;
  fudge: number;
  error: number;
  other: Buffer;
}

/** The "TSIG variables" of RFC 8945 §4.3.3, appended to the message for the MAC. */
function tsigVariables(keyName: string, f: TsigFields): Buffer {
  return Buffer.concat([
    encodeName(keyName, true),
    u16(CLASS_ANY),
    u32(0),
    encodeName(f.algorithm, true),
    u48(f.timeSigned),
    u16(f.fudge),
    u16(f.error),
    u16(f.other.length),
    f.other,
  ]);
}

export function tsigMac(key: TsigKey, messageWithoutTsig: Buffer, f: TsigFields, requestMac?: Buffer): Buffer {
  const h = createHmac(TSIG_ALGORITHMS[key.algorithm], key.secret);
  // A response's MAC covers the request's MAC first (RFC 8945 §4.3.1).
  if (requestMac !== undefined) h.update(Buffer.concat([u16(requestMac.length), requestMac]));
  h.update(messageWithoutTsig);
  h.update(tsigVariables(key.name, f));
  return h.digest();
}

/** Appends a TSIG RR to `message` (ARCOUNT + 1); returns the signed message and its MAC. */
export function signTsig(message: Buffer, key: TsigKey, timeSigned: number, fudge = 300): { signed: Buffer; mac: Buffer } {
  const fields: TsigFields = { algorithm: key.algorithm, timeSigned, fudge, error: 0, other: Buffer.alloc(0) };
  const mac = tsigMac(key, message, fields);
  const id = message.readUInt16BE(0);
  const rdata = Buffer.concat([encodeName(key.algorithm, true), u48(timeSigned), u16(fudge), u16(mac.length), mac, u16(id), u16(0), u16(0)]);
  const signed = Buffer.concat([message, rr(key.name.toLowerCase(), TYPE_TSIG, CLASS_ANY, 0, rdata)]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { signed, mac };
}

/** Reads a (possibly compressed) name at `offset`; returns it and the offset just past it in place. */
export function readName(msg: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  for (let hops = 0; hops < 128; hops++) {
    if (pos >= msg.length) throw new DnsWireError("truncated name");
    const len = msg[pos]!;
    if (len === 0) {
      return { name: labels.join("."), next: next === -1 ? pos + 1 : next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) throw new DnsWireError("truncated compression pointer");
      if (next === -1) next = pos + 2;
      pos = ((len & 0x3f) << 8) | msg[pos + 1]!;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsWireError("unsupported label type");
    if (pos + 1 + len > msg.length) throw new DnsWireError("truncated label");
    labels.push(msg.toString("ascii", pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  throw new DnsWireError("name compression loop");
}

export interface ParsedTsig {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
  /** Where the TSIG RR starts: the message before it is what the MAC covers. */
  offset: number;
}

export interface ParsedMessage {
  id: number;
  opcode: number;
  isResponse: boolean;
  truncated: boolean;
  rcode: number;
  counts: [number, number, number, number];
  /** The sections' RRs (not the zone/question section), type and owner only, plus raw RDATA. */
  records: { section: 1 | 2 | 3; name: string; type: number; klass: number; ttl: number; rdata: Buffer }[];
  zone?: { name: string; type: number; klass: number };
  tsig?: ParsedTsig;
}

export function parseMessage(msg: Buffer): ParsedMessage {
  if (msg.length < 12) throw new DnsWireError(`DNS message of ${msg.length} bytes is shorter than a header`);
  const flags = msg.readUInt16BE(2);
  const counts: [number, number, number, number] = [msg.readUInt16BE(4), msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)];
  const out: ParsedMessage = {
    id: msg.readUInt16BE(0),
    opcode: (flags >> 11) & 0xf,
    isResponse: (flags & 0x8000) !== 0,
    truncated: (flags & 0x0200) !== 0,
    rcode: flags & 0xf,
    counts,
    records: [],
  };
  let pos = 12;
  for (let i = 0; i < counts[0]; i++) {
    const { name, next } = readName(msg, pos);
    if (next + 4 > msg.length) throw new DnsWireError("truncated zone section");
    if (i === 0) out.zone = { name, type: msg.readUInt16BE(next), klass: msg.readUInt16BE(next + 2) };
    pos = next + 4;
  }
  for (const [section, n] of [[1, counts[1]], [2, counts[2]], [3, counts[3]]] as const) {
    for (let i = 0; i < n; i++) {
      const start = pos;
      const { name, next } = readName(msg, pos);
      if (next + 10 > msg.length) throw new DnsWireError("truncated resource record");
      const type = msg.readUInt16BE(next);
      const klass = msg.readUInt16BE(next + 2);
      const ttl = msg.readUInt32BE(next + 4);
      const rdlen = msg.readUInt16BE(next + 8);
      const rdStart = next + 10;
      if (rdStart + rdlen > msg.length) throw new DnsWireError("truncated RDATA");
      const rdata = msg.subarray(rdStart, rdStart + rdlen);
      pos = rdStart + rdlen;
      if (section === 3 && type === TYPE_TSIG) {
        if (i !== n - 1) throw new DnsWireError("TSIG is not the last record");
        out.tsig = parseTsigRdata(msg, rdStart, rdlen, name, start);
      } else {
        out.records.push({ section, name, type, klass, ttl, rdata });
      }
    }
  }
  return out;
}

function parseTsigRdata(msg: Buffer, start: number, len: number, keyName: string, offset: number): ParsedTsig {
  const end = start + len;
  const { name: algorithm, next } = readName(msg, start);
  let p = next;
  const need = (n: number) => {
    if (p + n > end) throw new DnsWireError("truncated TSIG");
  };
  need(10);
  const timeSigned = msg.readUIntBE(p, 6);
  const fudge = msg.readUInt16BE(p + 6);
  const macSize = msg.readUInt16BE(p + 8);
  p += 10;
  need(macSize + 6);
  const mac = Buffer.from(msg.subarray(p, p + macSize));
  p += macSize;
  const originalId = msg.readUInt16BE(p);
  const error = msg.readUInt16BE(p + 2);
  const otherLen = msg.readUInt16BE(p + 4);
  p += 6;
  need(otherLen);
  const other = Buffer.from(msg.subarray(p, p + otherLen));
  return { keyName, algorithm, timeSigned, fudge, mac, originalId, error, other, offset };
}

/**
 * Checks a signed message's TSIG (a server's answer with `requestMac`, or a request without): the MAC
 * over the message as it was before the TSIG was added (original ID, ARCOUNT - 1). Throws on mismatch.
 */
export function verifyTsig(msg: Buffer, parsed: ParsedMessage, key: TsigKey, requestMac?: Buffer): void {
  const t = parsed.tsig;
  if (t === undefined) throw new DnsWireError("the answer is not signed (no TSIG record)");
  if (t.keyName.toLowerCase().replace(/\.$/, "") !== key.name.toLowerCase().replace(/\.$/, "")) {
    throw new DnsWireError(`the answer is signed with key ${t.keyName}, not ${key.name}`);
  }
  const unsigned = Buffer.from(msg.subarray(0, t.offset));
  unsigned.writeUInt16BE(t.originalId, 0);
  unsigned.writeUInt16BE(parsed.counts[3] - 1, 10);
  const expected = tsigMac(key, unsigned, t, requestMac);
  if (t.mac.length !== expected.length || !timingSafeEqual(t.mac, expected)) throw new DnsWireError("the answer's TSIG MAC does not verify (wrong key or tampered)");
}
