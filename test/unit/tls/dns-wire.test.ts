// The RFC 2136 / TSIG wire encoding against a known-good vector: the exact bytes BIND 9.18's nsupdate
// sent for `update add _acme-challenge.a.warren.test. 120 TXT "known-good-value-0123456789"` to zone
// warren.test, key hmac-sha256:warren-key (captured on a UDP socket). Our encoder must produce the
// same bytes for the same ID and time, and our TSIG verifier must accept nsupdate's MAC.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { buildUpdate, encodeName, parseMessage, signTsig, txtRdata, verifyTsig, TYPE_TXT, CLASS_NONE, type TsigKey } from "../../../management/tls/dns/wire.ts";

const NSUPDATE_HEX =
  "c193280000010000000100010677617272656e047465737400000600010f5f61636d652d6368616c6c656e676501610677617272656e04746573740000100001000000" +
  "78001c1b6b6e6f776e2d676f6f642d76616c75652d303132333435363738390a77617272656e2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000" +
  "006b1642e5012c0020f148b68c001dfda25ef3d1b121564a636c081bf7eb15eee54cc2575a9bb38d89c19300000000";
const nsupdate = Buffer.from(NSUPDATE_HEX, "hex");
const key: TsigKey = { name: "warren-key", algorithm: "hmac-sha256", secret: Buffer.from("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=", "base64") };
const add = { action: "add" as const, name: "_acme-challenge.a.warren.test", value: "known-good-value-0123456789", ttl: 120 };

describe("DNS UPDATE wire encoding", () => {
  it("produces nsupdate's exact bytes, TSIG included", () => {
    const { signed } = signTsig(buildUpdate(0xc193, "warren.test", [add]), key, 0x6b1642e5, 300);
    assert.equal(signed.toString("hex"), NSUPDATE_HEX);
  });

  it("verifies nsupdate's TSIG MAC and rejects a wrong key or a flipped byte", () => {
    const parsed = parseMessage(nsupdate);
    assert.equal(parsed.opcode, 5);
    assert.deepEqual(parsed.zone, { name: "warren.test", type: 6, klass: 1 });
    assert.equal(parsed.records.length, 1);
    assert.equal(parsed.records[0]!.name, "_acme-challenge.a.warren.test");
    assert.equal(parsed.records[0]!.type, TYPE_TXT);
    assert.equal(parsed.records[0]!.ttl, 120);
    assert.equal(parsed.tsig?.algorithm, "hmac-sha256");
    verifyTsig(nsupdate, parsed, key);
    assert.throws(() => verifyTsig(nsupdate, parsed, { ...key, secret: Buffer.from("another secret") }), /MAC does not verify/);
    const tampered = Buffer.from(nsupdate);
    tampered[60] = tampered[60]! ^ 1; // inside the TXT value
    assert.throws(() => verifyTsig(tampered, parseMessage(tampered), key), /MAC does not verify/);
  });

  it("a delete is class NONE, TTL 0, the exact RDATA (RFC 2136 §2.5.4)", () => {
    const msg = buildUpdate(7, "warren.test", [{ action: "delete", name: add.name, value: add.value }]);
    const parsed = parseMessage(msg);
    assert.equal(parsed.counts[2], 1);
    const rr = parsed.records[0]!;
    assert.equal(rr.klass, CLASS_NONE);
    assert.equal(rr.ttl, 0);
    assert.deepEqual(rr.rdata, txtRdata(add.value));
  });

  it("splits TXT values into 255-byte strings and rejects bad names", () => {
    const r = txtRdata("x".repeat(300));
    assert.equal(r[0], 255);
    assert.equal(r[256], 45);
    assert.equal(r.length, 302);
    assert.throws(() => encodeName("a..b"), /label is empty/);
    assert.throws(() => encodeName(`${"a".repeat(64)}.test`), /longer than 63/);
    assert.deepEqual(encodeName("A.Test", true), Buffer.from("0161047465737400", "hex"));
  });

  it("follows compression pointers in answers", () => {
    // Header (1 zone entry) + zone "warren.test" SOA IN + an additional-section RR whose name is a pointer to offset 12.
    const msg = Buffer.concat([
      Buffer.from([0, 1, 0xa8, 0, 0, 1, 0, 0, 0, 0, 0, 1]),
      encodeName("warren.test"),
      Buffer.from([0, 6, 0, 1]),
      Buffer.from([0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 2, 1, 0x41]),
    ]);
    const parsed = parseMessage(msg);
    assert.equal(parsed.isResponse, true);
    assert.equal(parsed.records[0]!.name, "warren.test");
    assert.deepEqual(parsed.records[0]!.rdata, Buffer.from([1, 0x41]));
  });
});
