// The tunnel's hand-written codecs (tunnel/message-codecs.ts, used by the agent so that it does not
// load the protobuf runtime) against @bufbuild/protobuf with the generated schemas: the same bytes
// for the same message, the same message from the same bytes, and the same refusals.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ControlMessageSchema, OpenResultSchema, OpenStreamSchema } from "../../../proto/gen/warren/v1/tunnel_pb.ts";
import { OPEN_RESULT, OPEN_STREAM, encodeControlMessage, type ControlMessageCase } from "../../../tunnel/message-codecs.ts";
import { seeded as rng } from "../../helpers/seeded.ts";

const SEED = 20261207;
const CASES = 2000;

function text(r: () => number): string {
  const kind = r();
  if (kind < 0.25) return "";
  const alphabet = ["a", "Z", "0", ".", ":", "[", "]", "é", "日", "😀", "\u0000", " ", "\uFEFF"];
  const n = kind < 0.9 ? Math.floor(r() * 20) : 200 + Math.floor(r() * 400);
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)]!;
  return s;
}
const u32 = (r: () => number) => (r() < 0.3 ? 0 : r() < 0.5 ? Math.floor(r() * 300) : Math.floor(r() * 2 ** 32));
const u64 = (r: () => number) => (r() < 0.3 ? 0n : r() < 0.5 ? BigInt(Math.floor(r() * 300)) : BigInt.asUintN(64, BigInt(Math.floor(r() * 2 ** 53)) * 4099n));

function sameOutcome(ours: () => unknown, theirs: () => unknown, what: string): void {
  let a: unknown;
  let b: unknown;
  let aErr = false;
  let bErr = false;
  try {
    a = ours();
  } catch {
    aErr = true;
  }
  try {
    b = theirs();
  } catch {
    bErr = true;
  }
  assert.equal(aErr, bErr, `${what}: ours ${aErr ? "refused" : "accepted"}, @bufbuild/protobuf ${bErr ? "refused" : "accepted"}`);
  if (!aErr) assert.deepEqual(a, b, what);
}

describe("tunnel message codecs match @bufbuild/protobuf", () => {
  it("OpenStream: same bytes both ways, and the same answer for every truncation and for unknown fields", () => {
    const r = rng(SEED);
    for (let i = 0; i < CASES; i++) {
      const m = { address: text(r), tlsSni: text(r), requestId: text(r), dialTimeoutMs: u32(r) };
      const theirs = toBinary(OpenStreamSchema, create(OpenStreamSchema, m));
      assert.deepEqual(Buffer.from(OPEN_STREAM.encode(m)), Buffer.from(theirs), `case ${i}`);
      assert.deepEqual(OPEN_STREAM.decode(theirs), m, `case ${i}`);
      const plain = (b: Uint8Array) => {
        const x = fromBinary(OpenStreamSchema, b);
        return { address: x.address, tlsSni: x.tlsSni, requestId: x.requestId, dialTimeoutMs: x.dialTimeoutMs };
      };
      const cut = Math.floor(r() * theirs.length);
      sameOutcome(() => OPEN_STREAM.decode(theirs.subarray(0, cut)), () => plain(theirs.subarray(0, cut)), `case ${i} cut at ${cut}`);
      // Unknown fields of each wire type are skipped, a whole group too; an unended or mismatched group,
      // a stray end-group and wire type 6 are refused by both.
      for (const extra of [[0x28, 0x05], [0x31, 1, 2, 3, 4, 5, 6, 7, 8], [0x3a, 0x02, 0x61, 0x62], [0x45, 1, 2, 3, 4], [0x4b], [0x4b, 0x08, 0x01, 0x4c], [0x4b, 0x08, 0x01, 0x54], [0x4c], [0x0e]]) {
        const b = Buffer.concat([theirs, Buffer.from(extra)]);
        sameOutcome(() => OPEN_STREAM.decode(b), () => plain(b), `case ${i} + ${Buffer.from(extra).toString("hex")}`);
      }
    }
  });

  it("OpenResult: same bytes both ways, and the same answer for random bytes", () => {
    const r = rng(SEED + 1);
    for (let i = 0; i < CASES; i++) {
      const m = { ok: r() < 0.5, errorKind: text(r), message: text(r) };
      const theirs = toBinary(OpenResultSchema, create(OpenResultSchema, m));
      assert.deepEqual(Buffer.from(OPEN_RESULT.encode(m)), Buffer.from(theirs), `case ${i}`);
      assert.deepEqual(OPEN_RESULT.decode(theirs), m, `case ${i}`);
      const junk = Buffer.from(Array.from({ length: Math.floor(r() * 12) }, () => Math.floor(r() * 256)));
      sameOutcome(
        () => OPEN_RESULT.decode(junk),
        () => {
          const x = fromBinary(OpenResultSchema, junk);
          return { ok: x.ok, errorKind: x.errorKind, message: x.message };
        },
        `junk ${junk.toString("hex")}`,
      );
    }
  });

  it("ControlMessage: hello (labels), heartbeat (int64, negative too) and stats (uint64) encode to the same bytes", () => {
    const r = rng(SEED + 2);
    for (let i = 0; i < CASES; i++) {
      let m: ControlMessageCase;
      const pick = r();
      if (pick < 0.4) {
        const labels: Record<string, string> = {};
        for (let n = Math.floor(r() * 5); n > 0; n--) labels[text(r)] = text(r); // an empty key too
        m = { case: "hello", value: { version: text(r), hostname: text(r), labels, protocolVersion: u32(r) } };
      } else if (pick < 0.7) {
        m = { case: "heartbeat", value: { sentAtUnixMs: r() < 0.2 ? -BigInt(Math.floor(r() * 2 ** 40)) : BigInt(Math.floor(r() * 2 ** 45)) } };
      } else if (pick < 0.97) {
        m = { case: "stats", value: { activeStreams: u64(r), streamsTotal: u64(r), dialFailures: u64(r), bytesFromOrigins: u64(r), bytesToOrigins: u64(r) } };
      } else {
        m = { case: undefined };
      }
      const theirs = toBinary(ControlMessageSchema, create(ControlMessageSchema, { msg: m }));
      const ours = encodeControlMessage(m);
      assert.deepEqual(Buffer.from(ours), Buffer.from(theirs), `case ${i} (${m.case})`);
      const back = fromBinary(ControlMessageSchema, ours);
      assert.equal(back.msg.case, m.case);
    }
  });
});
