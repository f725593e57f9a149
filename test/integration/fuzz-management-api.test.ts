// Fuzzes the management API (issue 13 §1): every method of every service (taken from the generated
// descriptors, so new RPCs are covered automatically) gets random type-correct messages and mutated
// ones (wrong types, huge strings, deep nesting, unknown fields, bad enums and numbers, bad base64,
// truncated and bit-flipped protobuf) in every content type (Connect unary and streaming JSON/proto,
// gRPC-Web, gRPC over HTTP/2, text/plain, none), as admin, with an API token and without
// credentials, over HTTP/1.1 and HTTP/2 in turn; then malformed request heads over raw TLS.
// Pass: the server never exits, never answers 5xx, every refusal of a Connect request is a Connect
// error with a code (gRPC-Web/gRPC: a grpc-status), and its RSS stays bounded.
//
// FUZZ_SEED picks the seed (printed), FUZZ_SCALE multiplies the case counts (bench/fuzz/management-api.sh
// runs it at 10×).
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import tls from "node:tls";
import { readFileSync } from "node:fs";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { Agent, request } from "undici";
import { create, toBinary, toJson, type DescField, type DescMessage, type DescMethod, ScalarType } from "@bufbuild/protobuf";
import { SERVICES } from "../../management/auth/method-access.ts";
import { seeded } from "../helpers/seeded.ts";
import { bearer, cookieHeader, login, ADMIN_PASSWORD } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed13) >>> 0;
const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1));
/** Cases per method (each a random content type, auth and HTTP version). */
const CASES_PER_METHOD = Math.round(24 * SCALE);
/** Malformed heads over raw TLS: the fixed list once, plus this many seeded random ones. */
const RANDOM_HEADS = Math.round(40 * SCALE);
/** Requests in flight at once. */
const CONCURRENCY = Math.max(1, Number(process.env.FUZZ_CONCURRENCY ?? 8));
/** Bound on every single request. */
const REQUEST_MS = 15_000;
const MIB = 1024 * 1024;
const RSS_GROWTH_LIMIT = 128 * MIB;

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const chance = (r: Rand, p: number) => r() < p;

// ---------------------------------------------------------------- random messages from descriptors

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:*?[]{}()<>\"'\\ \t\n%$#@!~`=+,;|&^";
const ODD_STRINGS = ["", " ", "\u0000", "\ud800", "💥", "../../etc/passwd", "a".repeat(300), "${jndi:x}", "' OR 1=1 --", "*", "localhost", "0.0.0.0", "::1", "https://x", "usr_", "tok_", "NaN", "-1", "99999999999999999999"];

function randomString(r: Rand): string {
  if (chance(r, 0.3)) return pick(r, ODD_STRINGS);
  const n = int(r, chance(r, 0.1) ? 2000 : 24);
  let s = "";
  for (let i = 0; i < n; i++) s += chance(r, 0.05) ? String.fromCodePoint(int(r, 0x10ffff)) : ALPHABET[int(r, ALPHABET.length)];
  // Lone surrogates cannot be represented in proto strings: keep binary encodable.
  return s.replace(/[\ud800-\udfff]/g, "?");
}

function randomScalar(r: Rand, t: ScalarType): unknown {
  const edgeInt = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 65535, 65536, 443, 80];
  switch (t) {
    case ScalarType.STRING:
      return randomString(r);
    case ScalarType.BOOL:
      return chance(r, 0.5);
    case ScalarType.BYTES: {
      const b = new Uint8Array(int(r, 64));
      for (let i = 0; i < b.length; i++) b[i] = int(r, 256);
      return b;
    }
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return pick(r, [0, -0, 1.5, -1e300, 1e300, Number.MIN_VALUE, r() * 1000, NaN, Infinity, -Infinity]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return pick(r, [0n, 1n, -1n, 9223372036854775807n, -9223372036854775808n, BigInt(int(r, 1e9))]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return pick(r, [0n, 1n, 18446744073709551615n, BigInt(int(r, 1e9))]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return pick(r, [0, 1, 4294967295, int(r, 100000)]);
    default:
      return chance(r, 0.5) ? pick(r, edgeInt) : int(r, 200000) - 100000;
  }
}

function randomEnum(r: Rand, f: { enum: { values: readonly { number: number }[] } }): number {
  return chance(r, 0.85) ? pick(r, f.enum.values).number : pick(r, [-1, 99, 2 ** 31 - 1]);
}

function randomInit(r: Rand, schema: DescMessage, depth: number): Record<string, unknown> {
  if (schema.typeName === "google.protobuf.Timestamp" || schema.typeName === "google.protobuf.Duration") {
    return { seconds: BigInt(int(r, 4_000_000_000)), nanos: int(r, 1e9) };
  }
  const init: Record<string, unknown> = {};
  for (const oneof of schema.oneofs) {
    if (chance(r, 0.3)) continue;
    const f = pick(r, oneof.fields);
    init[oneof.localName] = { case: f.localName, value: randomSingle(r, f, depth) };
  }
  for (const f of schema.fields) {
    if (f.oneof !== undefined || chance(r, 0.25)) continue;
    const v = randomValue(r, f, depth);
    if (v !== undefined) init[f.localName] = v;
  }
  return init;
}

function randomSingle(r: Rand, f: DescField, depth: number): unknown {
  if (f.fieldKind === "scalar") return randomScalar(r, f.scalar);
  if (f.fieldKind === "enum") return randomEnum(r, f);
  if (f.fieldKind === "message") return depth > 4 ? {} : randomInit(r, f.message, depth + 1);
  return undefined;
}

function randomValue(r: Rand, f: DescField, depth: number): unknown {
  switch (f.fieldKind) {
    case "list": {
      const n = int(r, depth > 2 ? 2 : 6);
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) {
        if (f.listKind === "scalar") out.push(randomScalar(r, f.scalar));
        else if (f.listKind === "enum") out.push(randomEnum(r, f));
        else if (depth <= 4) out.push(randomInit(r, f.message, depth + 1));
      }
      return out;
    }
    case "map": {
      const n = int(r, 4);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = f.mapKey === ScalarType.STRING ? randomString(r) : f.mapKey === ScalarType.BOOL ? String(chance(r, 0.5)) : String(int(r, 1000));
        if (f.mapKind === "scalar") out[k] = randomScalar(r, f.scalar);
        else if (f.mapKind === "enum") out[k] = randomEnum(r, f);
        else if (depth <= 4) out[k] = randomInit(r, f.message, depth + 1);
      }
      return out;
    }
    default:
      return randomSingle(r, f, depth);
  }
}

/** A type-correct random message as binary and (when representable) as JSON. */
function randomMessage(r: Rand, schema: DescMessage): { bin: Uint8Array; json: Record<string, unknown> } {
  const msg = create(schema, randomInit(r, schema, 0) as never);
  const bin = toBinary(schema, msg);
  let json: Record<string, unknown>;
  try {
    json = toJson(schema, msg) as Record<string, unknown>;
  } catch {
    json = {}; // e.g. an out-of-range Timestamp: JSON cannot carry it
  }
  return { bin, json };
}

// ---------------------------------------------------------------- mutations

function randomBytes(r: Rand, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(r, 256);
  return b;
}

function mutateBinary(r: Rand, bin: Uint8Array): Buffer {
  const b = Buffer.from(bin);
  switch (int(r, 7)) {
    case 0: // truncated
      return b.subarray(0, int(r, b.length + 1));
    case 1: {
      // bit flips
      const c = Buffer.from(b.length > 0 ? b : randomBytes(r, 8));
      for (let i = 0, n = 1 + int(r, 4); i < n; i++) c[int(r, c.length)]! ^= 1 << int(r, 8);
      return c;
    }
    case 2: // junk appended
      return Buffer.concat([b, randomBytes(r, 1 + int(r, 32))]);
    case 3: // a length-delimited field claiming far more bytes than follow
      return Buffer.concat([b, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x7f, 0x41])]);
    case 4: // an overlong varint
      return Buffer.concat([b, Buffer.from([0x08, ...Array(11).fill(0xff)])]);
    case 5: // unknown field numbers and wire types (group start without end, reserved wire types)
      return Buffer.concat([b, Buffer.from(pick(r, [[0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01], [0x0b], [0x0e, 0x00], [0x0f], [0x00, 0x00]]))]);
    default:
      return randomBytes(r, int(r, 200));
  }
}

const DEEP = 10_000;
const deepValue = (): string => "[".repeat(DEEP) + "]".repeat(DEEP);
const deepObject = (): string => '{"a":'.repeat(DEEP) + "1" + "}".repeat(DEEP);

/** A JSON body (as text: some of these are not valid JSON or have numbers JSON.stringify cannot write). */
function mutateJson(r: Rand, json: Record<string, unknown>, schema: DescMessage): string {
  const keys = schema.fields.map((f) => f.jsonName);
  const key = keys.length > 0 && chance(r, 0.8) ? pick(r, keys) : randomString(r).slice(0, 12) || "x";
  const withRaw = (raw: string) => {
    const rest = { ...json };
    delete rest[key];
    const s = JSON.stringify(rest);
    return s === "{}" ? `{${JSON.stringify(key)}:${raw}}` : `{${JSON.stringify(key)}:${raw},${s.slice(1)}`;
  };
  switch (int(r, 12)) {
    case 0: // wrong type
      return withRaw(pick(r, ["7", "-1.5", "true", "null", "[]", "[1,2]", "{}", '{"x":1}', '"str"', '["a",{}]']));
    case 1: // a huge string: just under and just over the 1 MiB body limit
      return withRaw(JSON.stringify("A".repeat(MIB - (chance(r, 0.5) ? 4096 : -16))));
    case 2: // deep nesting
      return withRaw(chance(r, 0.5) ? deepValue() : deepObject());
    case 3: // unknown fields
      return JSON.stringify({ ...json, [`zz${int(r, 1000)}`]: 1, __proto__x: { constructor: { prototype: 1 } } });
    case 4: // invalid enum values
      return withRaw(pick(r, ['"NOT_A_VALUE"', "99999", "-1", '""', "1.5"]));
    case 5: // NaN, infinities, huge and fractional numbers
      return withRaw(pick(r, ["NaN", '"NaN"', "1e400", "-1e400", '"Infinity"', "18446744073709551616", '"99999999999999999999999"', "1.0000001", "-0", "0x10", '"1e3"']));
    case 6: // invalid base64 for bytes (and anything else)
      return withRaw(pick(r, ['"!!!!"', '"a"', '"YQ=="', '"Y Q"', '"@@@="', '"=="']));
    case 7: // broken JSON
      return JSON.stringify(json).slice(0, int(r, JSON.stringify(json).length));
    case 8: // duplicate keys, both names
      return `{${JSON.stringify(key)}:1,${JSON.stringify(key)}:"x"}`;
    case 9: // not an object at all
      return pick(r, ["[]", "null", "1", '"x"', "", " ", "\u0000", "{}}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\u00\"}"]);
    case 10: // random bytes declared as JSON
      return randomBytes(r, int(r, 100)).toString("latin1");
    default: // a valid message
      return JSON.stringify(json);
  }
}

/** A 5-byte length-prefixed envelope (Connect streaming, gRPC, gRPC-Web). Sometimes lying. */
function envelope(r: Rand, payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = chance(r, 0.9) ? 0 : pick(r, [1, 2, 0x80, 0xff]);
  const lie = chance(r, 0.15);
  head.writeUInt32BE(lie ? pick(r, [0, payload.length + 10, 0xffffffff, Math.max(0, payload.length - 1)]) : payload.length, 1);
  const body = Buffer.concat([head, payload]);
  if (chance(r, 0.1)) return body.subarray(0, int(r, body.length)); // truncated envelope
  if (chance(r, 0.1)) return Buffer.concat([body, head]); // a second, empty-bodied envelope
  return body;
}

// ---------------------------------------------------------------- cases

type ContentType =
  | "application/json"
  | "application/proto"
  | "application/connect+json"
  | "application/connect+proto"
  | "application/grpc-web+proto"
  | "application/grpc-web+json"
  | "application/grpc"
  | "text/plain"
  | "none";
const CONTENT_TYPES: readonly ContentType[] = [
  "application/json",
  "application/json",
  "application/proto",
  "application/proto",
  "application/connect+json",
  "application/connect+proto",
  "application/grpc-web+proto",
  "application/grpc-web+json",
  "application/grpc",
  "text/plain",
  "none",
];
type AuthMode = "admin" | "token" | "none";

interface Case {
  id: number;
  method: string;
  ct: ContentType;
  auth: AuthMode;
  h2: boolean;
  headers: Record<string, string>;
  body: Buffer;
  what: string;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  trailers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function buildCase(r: Rand, id: number, m: DescMethod, creds: Record<AuthMode, Record<string, string>>): Case {
  const ct = pick(r, CONTENT_TYPES);
  const auth = pick(r, ["admin", "token", "none"] as const);
  const schema = m.input;
  const { bin, json } = randomMessage(r, schema);
  const isJson = ct.endsWith("json") || ct === "text/plain" || ct === "none";
  const mutate = chance(r, 0.7);
  let payload: Buffer;
  let what: string;
  if (isJson) {
    const text = mutate ? mutateJson(r, json, schema) : JSON.stringify(json);
    payload = Buffer.from(text, chance(r, 0.9) ? "utf8" : "latin1");
    what = mutate ? `mutated JSON ${JSON.stringify(text.slice(0, 60))}${text.length > 60 ? `… (${text.length} chars)` : ""}` : "valid JSON";
  } else {
    payload = mutate ? mutateBinary(r, bin) : Buffer.from(bin);
    what = `${mutate ? "mutated" : "valid"} proto ${payload.subarray(0, 24).toString("hex")}${payload.length > 24 ? `… (${payload.length} bytes)` : ""}`;
  }
  const enveloped = ct.startsWith("application/connect+") || ct.startsWith("application/grpc");
  const body = enveloped ? envelope(r, payload) : payload;
  const headers: Record<string, string> = { ...creds[auth] };
  if (ct !== "none") headers["content-type"] = ct;
  if (ct.startsWith("application/grpc")) headers["te"] = "trailers";
  if (ct.startsWith("application/connect+") || ct === "application/json" || ct === "application/proto") {
    if (chance(r, 0.5)) headers["connect-protocol-version"] = chance(r, 0.9) ? "1" : "2";
    if (chance(r, 0.1)) headers["connect-timeout-ms"] = pick(r, ["0", "-1", "abc", "99999999999", "1"]);
  }
  if (ct.startsWith("application/grpc") && chance(r, 0.1)) headers["grpc-timeout"] = pick(r, ["1S", "0n", "x", "99999999H"]);
  if (chance(r, 0.05)) headers[enveloped ? (ct.startsWith("application/grpc") ? "grpc-encoding" : "connect-content-encoding") : "content-encoding"] = pick(r, ["gzip", "br", "bogus"]);
  // gRPC proper needs HTTP/2; the rest alternate, huge bodies included: an early answer over HTTP/2
  // waits for the body to be read (management/server.ts endAfterBody), so the connection survives it.
  const h2 = ct === "application/grpc" ? true : id % 2 === 1;
  return { id, method: `/${m.parent.typeName}/${m.name}`, ct, auth, h2, headers, body, what };
}

// ---------------------------------------------------------------- transports

class H2 {
  private session: http2.ClientHttp2Session | undefined;
  constructor(
    private readonly baseUrl: string,
    private readonly ca: string,
  ) {}

  private get(): http2.ClientHttp2Session {
    if (!this.session || this.session.closed || this.session.destroyed) {
      // Up to CONCURRENCY bodies of ~1 MiB wait in this one session's send queue at once: past
      // the client's default 10 MB session memory, Node refuses new streams with ENHANCE_YOUR_CALM.
      const s = http2.connect(this.baseUrl, { ca: this.ca, servername: "localhost", maxSessionMemory: 64 });
      s.on("error", () => {}); // surfaces on the streams
      s.on("goaway", () => s.close());
      this.session = s;
    }
    return this.session;
  }

  request(path: string, headers: Record<string, string>, body: Buffer | undefined, extra: http2.OutgoingHttpHeaders = {}, timeoutMs = REQUEST_MS): Promise<Answer> {
    return new Promise((resolve, reject) => {
      let req: http2.ClientHttp2Stream;
      try {
        req = this.get().request({ ":method": "POST", ":path": path, ...headers, ...extra });
      } catch (e) {
        return reject(e);
      }
      const timer = setTimeout(() => {
        req.close(http2.constants.NGHTTP2_CANCEL);
        reject(new Error(`HTTP/2 ${path}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      let status = 0;
      let resHeaders: Answer["headers"] = {};
      let trailers: Answer["trailers"] = {};
      const chunks: Buffer[] = [];
      req.on("response", (h) => {
        status = Number(h[":status"]);
        resHeaders = h as Answer["headers"];
      });
      req.on("trailers", (t) => (trailers = t as Answer["trailers"]));
      req.on("data", (d: Buffer) => chunks.push(d));
      // The answer is complete when its body ends, whether or not the server read all of ours (an
      // early 413/415 does not): then this side cancels the rest of the upload, as a client would.
      req.on("end", () => {
        clearTimeout(timer);
        if (status === 0) return reject(new Error(`HTTP/2 ${path}: stream ended without an answer`));
        resolve({ status, headers: resHeaders, trailers, body: Buffer.concat(chunks) });
        if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
      });
      req.on("close", () => {
        clearTimeout(timer);
        if (status === 0) reject(new Error(`HTTP/2 ${path}: stream closed without an answer (RST_STREAM code ${req.rstCode})`));
      });
      req.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.end(body);
    });
  }

  close(): void {
    this.session?.close();
  }
}

async function h1(baseUrl: string, dispatcher: Agent, path: string, headers: Record<string, string>, body: Buffer, timeoutMs = REQUEST_MS): Promise<Answer> {
  const res = await request(`${baseUrl}${path}`, { method: "POST", headers, body, dispatcher, signal: AbortSignal.timeout(timeoutMs) });
  const buf = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, trailers: res.trailers, body: buf };
}

// ---------------------------------------------------------------- judging answers

function header(h: Answer["headers"], k: string): string | undefined {
  const v = h[k];
  return Array.isArray(v) ? v[0] : v;
}

/** The envelopes of a streaming body; undefined when it does not parse. */
function envelopes(body: Buffer): { flags: number; data: Buffer }[] | undefined {
  const out: { flags: number; data: Buffer }[] = [];
  let o = 0;
  while (o < body.length) {
    if (o + 5 > body.length) return undefined;
    const len = body.readUInt32BE(o + 1);
    if (o + 5 + len > body.length) return undefined;
    out.push({ flags: body[o]!, data: body.subarray(o + 5, o + 5 + len) });
    o += 5 + len;
  }
  return out;
}

function connectErrorCode(body: Buffer): string | undefined {
  try {
    const j = JSON.parse(body.toString("utf8")) as { code?: unknown };
    return typeof j.code === "string" && j.code.length > 0 ? j.code : undefined;
  } catch {
    return undefined;
  }
}

function errorMessage(body: Buffer): string {
  try {
    const m = (JSON.parse(body.toString("utf8")) as { message?: unknown }).message;
    return typeof m === "string" ? m : "";
  } catch {
    return "";
  }
}

/** Why an answer breaks the contract, or undefined when it is fine. */
function problem(c: Case, a: Answer): string | undefined {
  // The one 5xx the protocols prescribe for bad input: an unsupported (Connect-)Content-Encoding or
  // grpc-encoding is `unimplemented`, which Connect maps to HTTP 501 (gRPC-Web answers 200 with
  // grpc-status 12). Anything else at 500 and above is a bug.
  if (a.status === 501 && connectErrorCode(a.body) === "unimplemented" && /^unknown compression/.test(errorMessage(a.body))) {
    return Object.keys(c.headers).some((h) => /(^|-)(content-)?encoding$/.test(h)) ? undefined : "501 for a compression the request did not ask for";
  }
  if (a.status >= 500) return `status ${a.status}`;
  if (a.status < 200) return `status ${a.status}`;
  // Refused before the protocol layer (413 on Content-Length): always a JSON {code}.
  if (a.status === 413) return connectErrorCode(a.body) ? undefined : "413 without a code";
  switch (c.ct) {
    case "text/plain":
    case "none":
      return a.status === 415 ? undefined : `expected 415 for content type ${c.ct}, got ${a.status}`;
    case "application/json":
    case "application/proto":
      if (a.status === 200) return undefined;
      return connectErrorCode(a.body) ? undefined : `non-2xx without a Connect error code: ${a.body.toString("utf8").slice(0, 200)}`;
    case "application/connect+json":
    case "application/connect+proto": {
      if (a.status !== 200) {
        if (a.status === 415) return undefined; // unary methods do not take the streaming content types
        return connectErrorCode(a.body) ? undefined : `non-2xx without a Connect error code: ${a.body.toString("utf8").slice(0, 200)}`;
      }
      const env = envelopes(a.body);
      const end = env?.find((e) => (e.flags & 0x02) !== 0);
      if (!end) return `a Connect stream without an end-stream envelope: ${a.body.toString("hex").slice(0, 200)}`;
      try {
        const j = JSON.parse(end.data.toString("utf8")) as { error?: { code?: unknown } };
        if (j.error !== undefined && typeof j.error.code !== "string") return `end-stream error without a code: ${end.data.toString("utf8")}`;
      } catch {
        return `end-stream envelope is not JSON: ${end.data.toString("utf8").slice(0, 200)}`;
      }
      return undefined;
    }
    default: {
      // gRPC and gRPC-Web: always a grpc-status, in the headers (trailers-only), the HTTP/2
      // trailers, or (gRPC-Web) a trailer envelope in the body.
      if (a.status === 415) return undefined;
      if (header(a.headers, "grpc-status") !== undefined || header(a.trailers, "grpc-status") !== undefined) return undefined;
      if (a.status !== 200) return connectErrorCode(a.body) ? undefined : `status ${a.status} without grpc-status or code`;
      const t = envelopes(a.body)?.find((e) => (e.flags & 0x80) !== 0);
      // A compressed trailer envelope (flag 0x01) when the request asked for an encoding.
      let trailer = t?.data;
      if (t && (t.flags & 0x01) !== 0) {
        const enc = header(a.headers, "grpc-encoding");
        try {
          trailer = enc === "gzip" ? gunzipSync(t.data) : enc === "br" ? brotliDecompressSync(t.data) : undefined;
        } catch {
          trailer = undefined;
        }
      }
      if (trailer && /grpc-status:\s*\d+/i.test(trailer.toString("utf8"))) return undefined;
      return `no grpc-status: ${a.body.toString("hex").slice(0, 200)}`;
    }
  }
}

// ---------------------------------------------------------------- malformed heads over raw TLS

/** Sends raw bytes on a fresh TLS connection, half-closes, and returns what came back (bounded). */
function rawTls(baseUrl: string, ca: string, data: Buffer, alpn = "http/1.1"): Promise<string> {
  const u = new URL(baseUrl);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = tls.connect({ host: u.hostname, port: Number(u.port), ca, servername: "localhost", ALPNProtocols: [alpn] }, () => {
      s.write(data, () => s.end());
    });
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    };
    // An unanswered request is fine (the server may just close); this bounds the wait.
    const timer = setTimeout(() => s.destroy(), 5_000);
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("error", () => {});
    s.on("close", done);
  });
}

const API = "/warren.v1.AuthService/GetSetupState";
const FIXED_HEADS: [string, string | Buffer][] = [
  ["garbage request line", "GARBAGE\r\n\r\n"],
  ["empty request line", "\r\n\r\n"],
  ["two spaces", `POST  ${API} HTTP/1.1\r\nHost: localhost\r\n\r\n`],
  ["HTTP/9.9", `POST ${API} HTTP/9.9\r\nHost: localhost\r\n\r\n`],
  ["HTTP/0.9 style", `GET /\r\n\r\n`],
  ["no version", `POST ${API}\r\nHost: localhost\r\n\r\n`],
  ["absolute-form", `POST https://evil.example${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`],
  ["absolute-form with a bad authority", `POST https://a b${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`],
  ["asterisk-form POST", `POST * HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`],
  ["CONNECT", `CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n`],
  ["a path without a slash", `POST warren.v1.AuthService/GetSetupState HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`],
  ["a percent-encoded path", `POST /warren.v1.AuthService%2FGetSetupState HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`],
  ["a bad percent-encoding", `POST /%zz%/${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`],
  ["NUL in the path", `POST /warren.v1.Auth\u0000Service/X HTTP/1.1\r\nHost: localhost\r\n\r\n`],
  ["a lowercase method", `post ${API} HTTP/1.1\r\nHost: localhost\r\n\r\n`],
  ["an unknown method", `BREW ${API} HTTP/1.1\r\nHost: localhost\r\n\r\n`],
  ["a 100 KiB header", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(100 * 1024)}\r\n\r\n`],
  ["a 100 KiB URL", `POST /${"a".repeat(100 * 1024)} HTTP/1.1\r\nHost: localhost\r\n\r\n`],
  ["3000 headers", `POST ${API} HTTP/1.1\r\nHost: localhost\r\n${"X-A: b\r\n".repeat(3000)}\r\n`],
  ["a 16 KiB cookie", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nCookie: warren_session=${"x".repeat(16 * 1024)}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`],
  ["a huge Authorization", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer wrn_${"x".repeat(7000)}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`],
  ["obs-fold", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\n{}`],
  ["a header without a colon", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nNoColon\r\n\r\n`],
  ["a space before the colon", `POST ${API} HTTP/1.1\r\nHost : localhost\r\n\r\n`],
  ["bare LF line ends", `POST ${API} HTTP/1.1\nHost: localhost\nContent-Type: application/json\nContent-Length: 2\n\n{}`],
  ["bare CR", `POST ${API} HTTP/1.1\rHost: localhost\r\r{}`],
  ["Content-Length -1", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}`],
  ["Content-Length abc", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}`],
  ["Content-Length 1, 2", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1, 2\r\n\r\n{}`],
  ["two Content-Lengths", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`],
  ["a Content-Length of 2^64", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 18446744073709551616\r\n\r\n{}`],
  ["a Content-Length of 1e9 with 2 bytes", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{}`],
  ["a Content-Length longer than the body", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{}`],
  ["a Content-Length shorter than the body", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1\r\n\r\n{}GARBAGE /x HTTP/1.1\r\n\r\n`],
  ["Content-Length and chunked", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`],
  ["chunk size garbage", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`],
  ["a chunk size of 2^64", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{}\r\n0\r\n\r\n`],
  ["a chunk without its CRLF", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n`],
  ["no last chunk", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n`],
  ["chunk extensions and trailers", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b;c\r\n{}\r\n0\r\nX-Trailer: 1\r\nHost: evil\r\n\r\n`],
  ["Transfer-Encoding gzip, chunked", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`],
  ["Transfer-Encoding bogus", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: bogus\r\n\r\n{}`],
  ["Expect: 100-continue then nothing", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n`],
  ["Expect: bogus", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nExpect: bogus\r\nContent-Length: 2\r\n\r\n{}`],
  ["an upgrade to h2c", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Length: 2\r\n\r\n{}`],
  ["a websocket upgrade to the API", `GET ${API} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n`],
  ["pipelined good and bad", `POST ${API} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}POST ${API} HTTP/1.1\r\nHost: a b\r\n\r\nXYZ\r\n\r\n`],
  ["an HTTP/2 preface on an HTTP/1.1 connection", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"],
  ["binary junk", Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) % 256))],
];

const BAD_AUTHORITIES = [
  "a b",
  "",
  " ",
  "localhost:",
  ":443",
  "localhost:99999",
  "localhost:-1",
  "localhost:0x1bb",
  "[::1",
  "::1]",
  "[::1]:80:80",
  "[zz::1]",
  "user@localhost",
  "localhost/path",
  "localhost?q",
  "localhost#f",
  "%6c%6f%63%61%6c%68%6f%73%74",
  "xn--",
  "a..b",
  ".",
  "-a-.com",
  "a".repeat(300),
  `${"a.".repeat(200)}com`,
  "127.0.0.1:65536",
  "999.999.999.999",
  "localhost\t",
  "ünïcode.example",
  "local\u00adhost",
  "http://localhost",
  "localhost, evil",
];

function randomHead(r: Rand): { name: string; data: Buffer } {
  const methods = ["POST", "GET", "PUT", "OPTIONS", "HEAD", "DELETE", "X", ""];
  const paths = [API, "/warren.v1.UserService/ListUsers", "/healthz", "/", "/agent/tunnel", `/${randomString(r)}`, "//", "/warren.v1./", "/warren.v1.AuthService/"];
  const lines: string[] = [];
  const host = chance(r, 0.5) ? pick(r, BAD_AUTHORITIES) : chance(r, 0.5) ? "localhost" : randomString(r);
  lines.push(`${pick(r, methods)} ${pick(r, paths)} ${pick(r, ["HTTP/1.1", "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/1.10", "http/1.1"])}`);
  if (chance(r, 0.9)) lines.push(`Host: ${host}`);
  if (chance(r, 0.1)) lines.push(`Host: ${randomString(r)}`);
  const body = chance(r, 0.5) ? "{}" : randomBytes(r, int(r, 64)).toString("latin1");
  if (chance(r, 0.8)) lines.push(`Content-Type: ${pick(r, ["application/json", "application/proto", "application/connect+json", "application/grpc-web+proto", "text/plain", "", ";;;", "application/json; charset=bogus"])}`);
  switch (int(r, 5)) {
    case 0:
      lines.push(`Content-Length: ${body.length}`);
      break;
    case 1:
      lines.push(`Content-Length: ${pick(r, ["-5", "0", "x", "1.5", " 2", "99999999999999999999", String(body.length + int(r, 20))])}`);
      break;
    case 2:
      lines.push("Transfer-Encoding: chunked");
      break;
    default:
  }
  for (let i = 0, n = int(r, 4); i < n; i++) lines.push(`${pick(r, ["X-A", "Cookie", "Authorization", "Connection", "TE", "Upgrade", "Content-Encoding", "Connect-Timeout-Ms", "\u0000", "X\u00ff"])}: ${randomString(r).replace(/[\r\n]/g, "")}`);
  const chunked = lines.includes("Transfer-Encoding: chunked");
  const payload = chunked ? pick(r, [`${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`, `${randomString(r).slice(0, 8)}\r\n${body}\r\n`, "0\r\n\r\n"]) : body;
  return { name: lines[0]!, data: Buffer.from(`${lines.join(chance(r, 0.9) ? "\r\n" : "\n")}\r\n\r\n${payload}`, "latin1") };
}

function statusOfRaw(text: string): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return m ? Number(m[1]) : undefined;
}

// ---------------------------------------------------------------- the suite

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Runs `fn` over `items` with at most `n` at once. */
async function pool<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

describe("management API fuzz (seeded)", () => {
  const warren = withWarren({ apiToken: true });
  let creds: Record<AuthMode, Record<string, string>>;
  let logoutCreds: Record<string, string>;
  let dispatcher: Agent;
  let h2c: H2;

  before(async () => {
    creds = { admin: warren.admin, token: bearer(warren.adminToken), none: {} };
    // Logout as the admin would end the session every other case uses: Logout gets its own.
    logoutCreds = cookieHeader(await login(warren.api, "admin", ADMIN_PASSWORD));
    dispatcher = new Agent({ connect: { ca: warren.w.caPem }, headersTimeout: REQUEST_MS, bodyTimeout: REQUEST_MS });
    h2c = new H2(warren.w.baseUrl, warren.w.caPem);
    warren.defer(async () => {
      h2c.close();
      await dispatcher.close();
    });
  });

  const alive = () => assert.equal(warren.w.child.exitCode ?? warren.w.child.signalCode, null, "warren serve exited");

  it(`every RPC: random and mutated bodies, every content type, all auth modes, HTTP/1.1 and HTTP/2 (seed ${SEED}, scale ${SCALE})`, async (t) => {
    const started = Date.now();
    const r = seeded(SEED);
    const methods = SERVICES.flatMap((s) => s.methods);
    const cases: Case[] = [];
    for (const m of methods) {
      for (let i = 0; i < CASES_PER_METHOD; i++) {
        const c = buildCase(r, cases.length, m, creds);
        if (m.name === "Logout" && m.parent.name === "AuthService" && c.auth === "admin") Object.assign(c.headers, logoutCreds);
        cases.push(c);
      }
    }
    t.diagnostic(`FUZZ_SEED=${SEED} FUZZ_SCALE=${SCALE}: ${methods.length} methods in ${SERVICES.length} services × ${CASES_PER_METHOD} = ${cases.length} RPC cases`);
    const tally = (k: (c: Case) => string) => {
      const m = new Map<string, number>();
      for (const c of cases) m.set(k(c), (m.get(k(c)) ?? 0) + 1);
      return [...m].map(([a, b]) => `${a}=${b}`).join(" ");
    };
    t.diagnostic(`content types: ${tally((c) => c.ct)}`);
    t.diagnostic(`auth: ${tally((c) => c.auth)}; http: ${tally((c) => (c.h2 ? "h2" : "h1"))}`);

    // A few requests first so the RSS baseline is a warm server, not a cold one.
    for (const c of cases.slice(0, 20)) await (c.h2 ? h2c.request(c.method, c.headers, c.body) : h1(warren.w.baseUrl, dispatcher, c.method, c.headers, c.body)).catch(() => undefined);
    const pid = warren.w.child.pid!;
    const rssBefore = rssBytes(pid);

    const bad: string[] = [];
    const statuses = new Map<number, number>();
    let transportErrors = 0;
    const transportKinds = new Map<string, number>();
    const samples: number[] = [];
    let done = 0;
    await pool(cases, CONCURRENCY, async (c) => {
      if (++done % Math.ceil(cases.length / 4) === 0) samples.push(rssBytes(pid));
      let a: Answer;
      try {
        a = c.h2 ? await h2c.request(c.method, c.headers, c.body) : await h1(warren.w.baseUrl, dispatcher, c.method, c.headers, c.body);
      } catch (e) {
        // A reset or closed stream is an acceptable answer to garbage; a dead server is not (checked below).
        transportErrors++;
        if (process.env.FUZZ_DEBUG) t.diagnostic(`transport error #${c.id} ${c.method} ${c.ct} ${c.h2 ? "h2" : "h1"} ${c.what}: ${String(e)}`);
        const kind = String((e as Error).message).replace(/\/warren\.v1\.\S+/, "…").slice(0, 90);
        transportKinds.set(kind, (transportKinds.get(kind) ?? 0) + 1);
        if (/no answer/.test(String(e))) bad.push(`#${c.id} ${c.method} ${c.ct} ${c.auth} ${c.h2 ? "h2" : "h1"} ${c.what}: ${String(e)}`);
        return;
      }
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      const why = problem(c, a);
      if (why) bad.push(`#${c.id} ${c.method} ${c.ct} ${c.auth} ${c.h2 ? "h2" : "h1"} ${c.what} → ${a.status} ${why}; body ${a.body.toString("utf8").slice(0, 300)}`);
    });
    alive();
    const rssAfter = rssBytes(pid);
    const errors = warren.w.logs.filter((l) => l.level >= 50);
    for (const l of errors.slice(0, 5)) t.diagnostic(`server error log: ${JSON.stringify(l).slice(0, 600)}`);
    t.diagnostic(`statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}=${n}`).join(" ")}; transport errors ${transportErrors}`);
    for (const [k, n] of transportKinds) t.diagnostic(`  ${n}× ${k}`);
    t.diagnostic(`RSS ${(rssBefore / MIB).toFixed(1)} MiB → (${samples.map((x) => (x / MIB).toFixed(0)).join(", ")}) → ${(rssAfter / MIB).toFixed(1)} MiB; ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} bad answers (first 10 shown)`);
    // At the default scale: growth over the whole run. In the long mode the heap first grows to its
    // working size (warren serve runs with --heap-growing-percent=400 and the cases carry ~1 MiB
    // bodies: +160 MiB at 10x, +180 MiB at 20x, flat after the first quarter), so growth is counted
    // from the first quarter on: a leak still grows with the case count there.
    const base = SCALE > 1 && samples.length > 0 ? samples[0]! : rssBefore;
    assert.ok(rssAfter - base < RSS_GROWTH_LIMIT, `RSS grew by ${((rssAfter - base) / MIB).toFixed(1)} MiB (${SCALE > 1 ? "since the first quarter" : "over the run"})`);
    const health = await warren.api.raw("/healthz", { method: "GET" });
    assert.equal(health.status, 200);
    // The sessions and token the cases used still work: nothing random logged the admin out.
    assert.equal((await warren.api.call("AuthService/GetCurrentUser", {}, creds.admin)).status, 200);
  });

  // Found by this suite (FUZZ_SEED=424242): the JSON error names the unknown key, which holds a
  // lone surrogate; connect's gRPC(-Web) trailer percent-encoded the message with
  // encodeURIComponent, which threw "URI malformed" after the headers went out, and the response
  // never ended. patches/@connectrpc+connect+2.1.2.patch makes the message well-formed first.
  it("answers gRPC-Web JSON naming an unknown key with a lone surrogate", async () => {
    const payload = Buffer.from('{"\\ud800":true}');
    const head = Buffer.alloc(5);
    head.writeUInt32BE(payload.length, 1);
    const body = Buffer.concat([head, payload]);
    const headers = { "content-type": "application/grpc-web+json" };
    const a2 = await h2c.request("/warren.v1.AuthService/Logout", headers, body, {}, 3_000);
    assert.equal(problem({ id: -1, method: "Logout", ct: "application/grpc-web+json", auth: "none", h2: true, headers, body, what: "" }, a2), undefined);
    const a1 = await h1(warren.w.baseUrl, dispatcher, "/warren.v1.AuthService/Logout", headers, body, 3_000);
    assert.equal(problem({ id: -1, method: "Logout", ct: "application/grpc-web+json", auth: "none", h2: false, headers, body, what: "" }, a1), undefined);
  });

  it(`malformed request heads and Host values over raw TLS (seed ${SEED})`, async (t) => {
    const started = Date.now();
    const r = seeded(SEED ^ 0x4ead);
    const heads: { name: string; data: Buffer; alpn?: string }[] = [
      ...FIXED_HEADS.map(([name, d]) => ({ name, data: Buffer.isBuffer(d) ? d : Buffer.from(d, "latin1") })),
      ...BAD_AUTHORITIES.map((h) => ({ name: `Host: ${JSON.stringify(h)}`, data: Buffer.from(`POST ${API} HTTP/1.1\r\nHost: ${h}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`, "utf8") })),
      ...Array.from({ length: RANDOM_HEADS }, () => randomHead(r)),
      // Garbage where an HTTP/2 client preface and frames belong.
      { name: "h2: junk instead of the preface", data: randomBytes(r, 256), alpn: "h2" },
      { name: "h2: preface then junk frames", data: Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), randomBytes(r, 512)]), alpn: "h2" },
      { name: "h2: preface then a huge frame length", data: Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01])]), alpn: "h2" },
    ];
    t.diagnostic(`${FIXED_HEADS.length} fixed heads, ${BAD_AUTHORITIES.length} bad Host values, ${RANDOM_HEADS} random heads, 3 h2 garbage sessions`);
    const bad: string[] = [];
    await pool(heads, CONCURRENCY, async (h) => {
      const text = await rawTls(warren.w.baseUrl, warren.w.caPem, h.data, h.alpn);
      const status = statusOfRaw(text);
      if (status !== undefined && status >= 500) bad.push(`${h.name} → ${text.slice(0, 300)}`);
      if (status === undefined && text.startsWith("HTTP/")) bad.push(`${h.name} → unparsable answer ${JSON.stringify(text.slice(0, 120))}`);
    });

    // The same bad authorities as HTTP/2 :authority values (the ones node's client lets through).
    let sent = 0;
    for (const a of BAD_AUTHORITIES) {
      let ans: Answer;
      try {
        ans = await h2c.request(API, { "content-type": "application/json" }, Buffer.from("{}"), { ":authority": a });
      } catch (e) {
        if ((e as { code?: string }).code === "ERR_INVALID_CHAR" || (e as { code?: string }).code === "ERR_HTTP2_INVALID_HEADER_VALUE") continue;
        continue; // a reset stream is an answer too
      }
      sent++;
      if (ans.status >= 500) bad.push(`:authority ${JSON.stringify(a)} → ${ans.status} ${ans.body.toString("utf8")}`);
      else if (ans.status !== 200 && !connectErrorCode(ans.body)) bad.push(`:authority ${JSON.stringify(a)} → ${ans.status} without a code: ${ans.body.toString("utf8").slice(0, 200)}`);
    }
    t.diagnostic(`${heads.length} raw TLS connections, ${sent} HTTP/2 requests with bad :authority; ${((Date.now() - started) / 1000).toFixed(1)} s`);
    alive();
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} bad answers (first 10 shown)`);
    assert.equal((await warren.api.raw("/healthz", { method: "GET" })).status, 200);
  });
});
