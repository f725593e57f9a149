// PROXY protocol v1 (text) and v2 (binary) headers, as sent by L4 load balancers at the start of a
// TCP connection (haproxy.org/download/2.9/doc/proxy-protocol.txt). A listener with
// accept_proxy_protocol feeds the first chunks to a ProxyProtocolParser, then puts `rest` back
// (socket.unshift(rest)) and hands the socket to the HTTP server. The header is required on such
// a listener: a connection that does not start with one is refused, never guessed at. The listener
// also bounds how long it waits for the header (a timer; not this parser's job).
import { formatIPv4, formatIPv6, ipVersion } from "../lib/ip.ts";

export type ProxyProtocolErrorCode =
  | "not_proxy_protocol"
  | "v1_malformed"
  | "v1_too_long"
  | "v2_bad_version"
  | "v2_bad_command"
  | "v2_bad_family"
  | "v2_bad_length"
  | "v2_too_long"
  | "already_done";

export class ProxyProtocolError extends Error {
  override name = "ProxyProtocolError";
  constructor(
    readonly code: ProxyProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export type ProxyParseResult =
  | { readonly done: false }
  | {
      readonly done: true;
      readonly version: 1 | 2;
      /** "local": a health check by the balancer itself (v2 LOCAL); use the TCP peer. */
      readonly command: "proxy" | "local";
      /** The client; undefined for LOCAL, v1 UNKNOWN, v2 UNSPEC/UNIX: keep the TCP peer. */
      readonly source: Endpoint | undefined;
      readonly destination: Endpoint | undefined;
      /** Bytes after the header (possibly empty): the start of the real stream. */
      readonly rest: Buffer;
    };

/** v1 lines are at most 107 bytes, CRLF included. */
export const V1_MAX_LENGTH = 107;
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from("PROXY ", "latin1");
const V2_HEADER = 16;
/** Default cap on the v2 address + TLV block (the spec allows 65535; real balancers send < 1 KiB). */
export const V2_DEFAULT_MAX_LENGTH = 4096;

const NOT_DONE = Object.freeze({ done: false as const });

export interface ProxyProtocolParserOptions {
  /** Largest accepted v2 length field (address block + TLVs). */
  maxV2Length?: number;
}

export class ProxyProtocolParser {
  private buf: Buffer | undefined;
  private finished = false;
  private readonly maxV2Length: number;

  constructor(opts: ProxyProtocolParserOptions = {}) {
    this.maxV2Length = opts.maxV2Length ?? V2_DEFAULT_MAX_LENGTH;
  }

  /** Feed the next chunk. Throws ProxyProtocolError on malformed input; after `done`, throws. */
  push(chunk: Buffer): ProxyParseResult {
    if (this.finished) throw new ProxyProtocolError("already_done", "the PROXY header was already parsed");
    const buf = this.buf === undefined || this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.buf = buf;
    const r = this.parse(buf);
    if (r.done) {
      this.finished = true;
      this.buf = undefined;
    }
    return r;
  }

  private parse(buf: Buffer): ProxyParseResult {
    if (buf.length === 0) return NOT_DONE;
    if (prefixMatches(buf, V2_SIGNATURE)) {
      return buf.length < V2_SIGNATURE.length ? NOT_DONE : this.parseV2(buf);
    }
    if (prefixMatches(buf, V1_PREFIX)) {
      return buf.length < V1_PREFIX.length ? NOT_DONE : parseV1(buf);
    }
    throw new ProxyProtocolError("not_proxy_protocol", "the connection does not start with a PROXY protocol header");
  }

  private parseV2(buf: Buffer): ProxyParseResult {
    // Fail on the version/command and family bytes as soon as each arrives.
    if (buf.length <= 12) return NOT_DONE;
    const verCmd = buf[12]!;
    if (verCmd >> 4 !== 2) throw new ProxyProtocolError("v2_bad_version", `PROXY v2: unsupported version ${verCmd >> 4}`);
    const cmd = verCmd & 0x0f;
    if (cmd > 1) throw new ProxyProtocolError("v2_bad_command", `PROXY v2: unknown command ${cmd}`);
    if (buf.length <= 13) return NOT_DONE;
    const fam = buf[13]!;
    const family = fam >> 4;
    const transport = fam & 0x0f;
    if (family > 3 || transport > 2) throw new ProxyProtocolError("v2_bad_family", `PROXY v2: unknown address family byte 0x${fam.toString(16)}`);
    if (buf.length < V2_HEADER) return NOT_DONE;
    const len = buf.readUInt16BE(14);
    if (len > this.maxV2Length) throw new ProxyProtocolError("v2_too_long", `PROXY v2: header length ${len} exceeds ${this.maxV2Length}`);
    if (buf.length < V2_HEADER + len) return NOT_DONE;
    const rest = buf.subarray(V2_HEADER + len);
    if (cmd === 0) return { done: true, version: 2, command: "local", source: undefined, destination: undefined, rest };
    const a = V2_HEADER;
    if (family === 1) {
      if (len < 12) throw new ProxyProtocolError("v2_bad_length", `PROXY v2: ${len} bytes is too short for IPv4 addresses`);
      return {
        done: true,
        version: 2,
        command: "proxy",
        source: { address: formatIPv4(buf, a), port: buf.readUInt16BE(a + 8) },
        destination: { address: formatIPv4(buf, a + 4), port: buf.readUInt16BE(a + 10) },
        rest,
      };
    }
    if (family === 2) {
      if (len < 36) throw new ProxyProtocolError("v2_bad_length", `PROXY v2: ${len} bytes is too short for IPv6 addresses`);
      return {
        done: true,
        version: 2,
        command: "proxy",
        source: { address: formatIPv6(buf, a), port: buf.readUInt16BE(a + 32) },
        destination: { address: formatIPv6(buf, a + 16), port: buf.readUInt16BE(a + 34) },
        rest,
      };
    }
    if (family === 3 && len < 216) throw new ProxyProtocolError("v2_bad_length", `PROXY v2: ${len} bytes is too short for UNIX addresses`);
    // UNSPEC or UNIX: no IP to report.
    return { done: true, version: 2, command: "proxy", source: undefined, destination: undefined, rest };
  }
}

function prefixMatches(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  for (let i = 0; i < n; i++) if (buf[i] !== sig[i]) return false;
  return true;
}

const PORT_RE = /^(?:0|[1-9][0-9]{0,4})$/;

function parseV1(buf: Buffer): ProxyParseResult {
  const limit = Math.min(buf.length, V1_MAX_LENGTH);
  let lf = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const b = buf[i]!;
    if (b === 0x0a) {
      lf = i;
      break;
    }
    // Only printable ASCII (and the CR right before LF) may appear in the line.
    if (b === 0x0d) {
      if (i + 1 < buf.length && buf[i + 1] !== 0x0a) throw malformed("a CR not followed by LF");
      continue;
    }
    if (b < 0x20 || b > 0x7e) throw malformed("a non-printable byte");
  }
  if (lf < 0) {
    if (buf.length >= V1_MAX_LENGTH) throw new ProxyProtocolError("v1_too_long", `PROXY v1: no CRLF within ${V1_MAX_LENGTH} bytes`);
    return NOT_DONE;
  }
  if (buf[lf - 1] !== 0x0d) throw malformed("a line not ended by CRLF");
  const line = buf.toString("latin1", 0, lf - 1);
  const rest = buf.subarray(lf + 1);
  const parts = line.split(" ");
  const proto = parts[1];
  if (proto === "UNKNOWN") return { done: true, version: 1, command: "proxy", source: undefined, destination: undefined, rest };
  if (proto !== "TCP4" && proto !== "TCP6") throw malformed(`unknown protocol ${JSON.stringify(proto ?? "")}`);
  if (parts.length !== 6) throw malformed("expected PROXY TCPx SRC DST SPORT DPORT");
  const [, , src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const want = proto === "TCP4" ? 4 : 6;
  if (ipVersion(src) !== want || ipVersion(dst) !== want) throw malformed(`addresses are not ${proto === "TCP4" ? "IPv4" : "IPv6"}`);
  if (!PORT_RE.test(sport) || !PORT_RE.test(dport) || Number(sport) > 65535 || Number(dport) > 65535) throw malformed("invalid port");
  return {
    done: true,
    version: 1,
    command: "proxy",
    source: { address: src, port: Number(sport) },
    destination: { address: dst, port: Number(dport) },
    rest,
  };
}

function malformed(what: string): ProxyProtocolError {
  return new ProxyProtocolError("v1_malformed", `PROXY v1: ${what}`);
}

