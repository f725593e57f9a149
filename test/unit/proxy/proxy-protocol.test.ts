import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ProxyProtocolError, ProxyProtocolParser, V2_SIGNATURE, type ProxyParseResult } from "../../../proxy/proxy-protocol.ts";

const HTTP = Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\r\n");

function v1(line: string, tail: Buffer = HTTP): Buffer {
  return Buffer.concat([Buffer.from(line, "latin1"), tail]);
}

function v2(verCmd: number, fam: number, body: Buffer, tail: Buffer = HTTP, lenOverride?: number): Buffer {
  const head = Buffer.alloc(4);
  head[0] = verCmd;
  head[1] = fam;
  head.writeUInt16BE(lenOverride ?? body.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, body, tail]);
}

function inet4(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

function inet6(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(36);
  Buffer.from(src.replace(/:/g, ""), "hex").copy(b, 0);
  Buffer.from(dst.replace(/:/g, ""), "hex").copy(b, 16);
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(dport, 34);
  return b;
}

type Done = Extract<ProxyParseResult, { done: true }>;

/** Feeds `buf` in the given pieces; asserts nothing completes early and returns the final result. */
function feed(buf: Buffer, cuts: number[]): Done {
  const p = new ProxyProtocolParser();
  let at = 0;
  const edges = [...cuts, buf.length];
  for (let i = 0; i < edges.length; i++) {
    const r = p.push(buf.subarray(at, edges[i]));
    at = edges[i]!;
    if (r.done) {
      assert.equal(at, buf.length, "a header completes only once all of it has arrived, and the tail comes back in rest");
      return r;
    }
  }
  assert.fail("never completed");
}

/** The same header split at every byte boundary, and byte by byte: every run must agree. */
function everySplit(buf: Buffer, headerLen: number, check: (r: Done) => void): void {
  for (let k = 0; k <= buf.length; k++) {
    const p = new ProxyProtocolParser();
    const a = p.push(buf.subarray(0, k));
    if (k < headerLen) assert.equal(a.done, false, `split ${k}: done too early`);
    const r = a.done ? a : p.push(buf.subarray(k));
    assert.ok(r.done, `split ${k}`);
    check(r);
    // rest is what was fed beyond the header; later bytes reach the server directly.
    assert.ok(r.rest.equals(buf.subarray(headerLen, a.done ? k : buf.length)), `split ${k}: rest`);
  }
  // Byte by byte: done exactly at the last header byte, rest empty then.
  const p = new ProxyProtocolParser();
  for (let i = 0; i < headerLen; i++) {
    const r = p.push(buf.subarray(i, i + 1));
    if (i < headerLen - 1) assert.equal(r.done, false, `byte ${i}`);
    else {
      assert.ok(r.done);
      check(r);
      assert.equal(r.rest.length, 0);
    }
  }
}

function rejects(buf: Buffer, code: string, atMost?: number): void {
  // Whole, and byte by byte (the error must come no later than byte `atMost`).
  assert.throws(() => new ProxyProtocolParser().push(buf), (e: unknown) => e instanceof ProxyProtocolError && e.code === code, `whole: ${code}`);
  const p = new ProxyProtocolParser();
  let thrownAt = -1;
  for (let i = 0; i < buf.length; i++) {
    try {
      const r = p.push(buf.subarray(i, i + 1));
      if (r.done) assert.fail(`completed at byte ${i} instead of failing with ${code}`);
    } catch (e) {
      assert.ok(e instanceof ProxyProtocolError, String(e));
      assert.equal(e.code, code);
      thrownAt = i;
      break;
    }
  }
  assert.ok(thrownAt >= 0, `byte by byte never failed (${code})`);
  if (atMost !== undefined) assert.ok(thrownAt <= atMost, `failed at byte ${thrownAt}, expected by ${atMost}`);
}

describe("PROXY protocol v1", () => {
  it("parses TCP4 at every split, returning the bytes after the header", () => {
    const line = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n";
    everySplit(v1(line), line.length, (r) => {
      assert.equal(r.version, 1);
      assert.equal(r.command, "proxy");
      assert.deepEqual(r.source, { address: "192.0.2.10", port: 56324 });
      assert.deepEqual(r.destination, { address: "198.51.100.1", port: 443 });
    });
  });

  it("parses TCP6 and UNKNOWN (which keeps the TCP peer)", () => {
    const l6 = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
    everySplit(v1(l6), l6.length, (r) => {
      assert.deepEqual(r.source, { address: "2001:db8::1", port: 65535 });
      assert.deepEqual(r.destination, { address: "::1", port: 0 });
    });
    for (const l of ["PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"]) {
      everySplit(v1(l), l.length, (r) => {
        assert.equal(r.source, undefined);
        assert.equal(r.destination, undefined);
      });
    }
  });

  it("accepts a 107-byte line and refuses a longer one by byte 107", () => {
    const max = `PROXY UNKNOWN ${"x".repeat(107 - 16)}\r\n`;
    assert.equal(max.length, 107);
    assert.equal(feed(v1(max), []).source, undefined);
    const long = `PROXY UNKNOWN ${"x".repeat(108 - 16)}\r\n`;
    rejects(v1(long), "v1_too_long", 106);
    rejects(Buffer.from(`PROXY TCP4 ${"1".repeat(200)}`), "v1_too_long", 106);
  });

  it("refuses malformed lines", () => {
    for (const line of [
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
      "PROXY UNKNOWN xy\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX\n",
      "PROXY TCP4 1.2.3.4 ::1 1 2\r\n",
      "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
      "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n",
      "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY \r\n",
      "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\u00ff\r\n",
    ]) {
      assert.throws(
        () => new ProxyProtocolParser().push(v1(line)),
        (e: unknown) => e instanceof ProxyProtocolError && e.code === "v1_malformed",
        JSON.stringify(line),
      );
    }
  });
});

describe("PROXY protocol v2", () => {
  it("parses PROXY over IPv4 at every split", () => {
    const body = inet4([203, 0, 113, 7], [10, 0, 0, 1], 40000, 8080);
    const buf = v2(0x21, 0x11, body);
    everySplit(buf, 16 + 12, (r) => {
      assert.equal(r.version, 2);
      assert.equal(r.command, "proxy");
      assert.deepEqual(r.source, { address: "203.0.113.7", port: 40000 });
      assert.deepEqual(r.destination, { address: "10.0.0.1", port: 8080 });
    });
  });

  it("parses IPv6 addresses in their short form and skips TLVs", () => {
    const tlv = Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]); // a NOOP-ish TLV, skipped
    const body = Buffer.concat([inet6("20010db8000000000000000000000001", "00000000000000000000ffffc0000201", 1, 2), tlv]);
    const buf = v2(0x21, 0x21, body);
    everySplit(buf, 16 + body.length, (r) => {
      assert.deepEqual(r.source, { address: "2001:db8::1", port: 1 });
      assert.deepEqual(r.destination, { address: "::ffff:192.0.2.1", port: 2 });
    });
    const cases: [string, string][] = [
      ["00000000000000000000000000000001", "::1"],
      ["00000000000000000000000000000000", "::"],
      ["fe800000000000000000000000000000", "fe80::"],
      ["20010db8000000010000000000000001", "2001:db8:0:1::1"],
      ["20010db8000100000001000000000001", "2001:db8:1:0:1::1"],
      ["20010db8000000000001000000000000", "2001:db8:0:0:1::"],
      ["20010db8000000000001000000000001", "2001:db8::1:0:0:1"],
      ["00010002000300040005000600070008", "1:2:3:4:5:6:7:8"],
      ["000100000002000000030000000400aa", "1:0:2:0:3:0:4:aa"],
    ];
    for (const [hex, text] of cases) {
      const r = feed(v2(0x21, 0x21, inet6(hex, hex, 1, 1)), []);
      assert.equal(r.source?.address, text, hex);
    }
  });

  it("LOCAL, UNSPEC and UNIX keep the TCP peer", () => {
    const local = v2(0x20, 0x00, Buffer.alloc(0));
    everySplit(local, 16, (r) => {
      assert.equal(r.command, "local");
      assert.equal(r.source, undefined);
    });
    const localWithAddr = v2(0x20, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
    const rl = feed(localWithAddr, []);
    assert.equal(rl.command, "local");
    assert.equal(rl.source, undefined, "LOCAL ignores any addresses");
    assert.ok(rl.rest.equals(HTTP));
    const unspec = feed(v2(0x21, 0x00, Buffer.alloc(0)), []);
    assert.equal(unspec.command, "proxy");
    assert.equal(unspec.source, undefined);
    const unix = feed(v2(0x21, 0x31, Buffer.alloc(216)), [3, 20]);
    assert.equal(unix.source, undefined);
    assert.ok(unix.rest.equals(HTTP));
  });

  it("refuses a bad version, command, family or length", () => {
    const ok4 = inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
    rejects(v2(0x11, 0x11, ok4), "v2_bad_version", 12);
    rejects(v2(0x22, 0x11, ok4), "v2_bad_command", 13);
    rejects(v2(0x21, 0x41, ok4), "v2_bad_family", 13);
    rejects(v2(0x21, 0x13, ok4), "v2_bad_family", 13);
    rejects(v2(0x21, 0x11, ok4.subarray(0, 8)), "v2_bad_length");
    rejects(v2(0x21, 0x21, Buffer.alloc(20)), "v2_bad_length");
    rejects(v2(0x21, 0x31, Buffer.alloc(100)), "v2_bad_length");
  });

  it("refuses an oversized length as soon as the fixed header has arrived", () => {
    rejects(v2(0x21, 0x11, Buffer.alloc(0), Buffer.alloc(0), 4097), "v2_too_long", 15);
    rejects(v2(0x21, 0x11, Buffer.alloc(0), Buffer.alloc(0), 65535), "v2_too_long", 15);
    const small = new ProxyProtocolParser({ maxV2Length: 12 });
    assert.throws(
      () => small.push(v2(0x21, 0x11, Buffer.concat([inet4([1, 1, 1, 1], [2, 2, 2, 2], 1, 1), Buffer.alloc(1)]))),
      (e: unknown) => e instanceof ProxyProtocolError && e.code === "v2_too_long",
    );
    assert.ok(new ProxyProtocolParser({ maxV2Length: 12 }).push(v2(0x21, 0x11, inet4([1, 1, 1, 1], [2, 2, 2, 2], 1, 1))).done);
  });
});

describe("ProxyProtocolParser", () => {
  it("refuses a connection without a PROXY header at the first byte that rules both versions out", () => {
    rejects(HTTP, "not_proxy_protocol", 0);
    rejects(Buffer.from("PROXX TCP4"), "not_proxy_protocol", 4);
    assert.equal(new ProxyProtocolParser().push(Buffer.from("PROXY")).done, false, "a valid prefix waits");
    assert.equal(new ProxyProtocolParser().push(V2_SIGNATURE.subarray(0, 7)).done, false);
  });

  it("waits on an empty chunk and refuses to be fed after it is done", () => {
    const p = new ProxyProtocolParser();
    assert.equal(p.push(Buffer.alloc(0)).done, false);
    assert.ok(p.push(v1("PROXY UNKNOWN\r\n", Buffer.alloc(0))).done);
    assert.throws(
      () => p.push(Buffer.from("x")),
      (e: unknown) => e instanceof ProxyProtocolError && e.code === "already_done",
    );
  });
});
