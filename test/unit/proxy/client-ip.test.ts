import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  canonicalIp,
  clientIp,
  forwardedFor,
  parseForwardedEntry,
  parseTrustedProxies,
  TRUST_NOBODY,
  TrustedProxiesError,
} from "../../../proxy/client-ip.ts";

describe("parseTrustedProxies", () => {
  it("parses IPs and CIDRs of both families, ignoring blanks", () => {
    const t = parseTrustedProxies(" 10.0.0.0/8, 192.168.1.7 ,, fd00::/8, ::1 ");
    assert.deepEqual(t.entries, ["10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1"]);
    assert.equal(t.isEmpty, false);
    assert.ok(t.contains("10.200.3.4"));
    assert.ok(t.contains("::ffff:10.1.1.1"), "IPv4-mapped IPv6 is checked as IPv4");
    assert.ok(t.contains("192.168.1.7"));
    assert.ok(!t.contains("192.168.1.8"));
    assert.ok(t.contains("fd12:3456::1"));
    assert.ok(t.contains("::1"));
    assert.ok(!t.contains("2001:db8::1"));
    assert.ok(!t.contains("not-an-ip"));
    assert.ok(!t.contains(""));
    assert.deepEqual(parseTrustedProxies(["127.0.0.1/32"]).entries, ["127.0.0.1/32"]);
  });

  it("trusts nobody when empty", () => {
    for (const t of [parseTrustedProxies(""), parseTrustedProxies(" , "), TRUST_NOBODY]) {
      assert.equal(t.isEmpty, true);
      assert.equal(t.contains("127.0.0.1"), false);
    }
  });

  it("names the bad entry", () => {
    for (const [input, entry] of [
      ["10.0.0.0/8, nope", "nope"],
      ["10.0.0.0/33", "10.0.0.0/33"],
      ["::/129", "::/129"],
      ["10.0.0.0/", "10.0.0.0/"],
      ["10.0.0.0/8x", "10.0.0.0/8x"],
      ["10.0.0.256", "10.0.0.256"],
      ["example.com", "example.com"],
    ] as const) {
      assert.throws(
        () => parseTrustedProxies(input),
        (e: unknown) => e instanceof TrustedProxiesError && e.entry === entry && e.message.startsWith(`"${entry}": `),
        input,
      );
    }
  });
});

describe("clientIp", () => {
  const trusted = parseTrustedProxies("10.0.0.0/8, 172.16.0.1");

  it("is the peer when the peer is not trusted, whatever X-Forwarded-For says", () => {
    assert.equal(clientIp("203.0.113.9", "1.1.1.1", trusted), "203.0.113.9");
    assert.equal(clientIp("203.0.113.9", undefined, trusted), "203.0.113.9");
    assert.equal(clientIp("10.0.0.5", "1.1.1.1", TRUST_NOBODY), "10.0.0.5");
    assert.equal(clientIp("::ffff:203.0.113.9", "1.1.1.1", trusted), "203.0.113.9");
  });

  it("from a trusted peer, is the right-most untrusted entry", () => {
    assert.equal(clientIp("10.0.0.1", "1.1.1.1", trusted), "1.1.1.1");
    assert.equal(clientIp("10.0.0.1", "6.6.6.6, 1.1.1.1, 10.9.9.9", trusted), "1.1.1.1", "a spoofed left part is ignored");
    assert.equal(clientIp("10.0.0.1", ["6.6.6.6, 1.1.1.1", "172.16.0.1"], trusted), "1.1.1.1", "across header lines, last line nearest");
    assert.equal(clientIp("10.0.0.1", ["6.6.6.6", "2.2.2.2, 10.0.0.2"], trusted), "2.2.2.2");
    assert.equal(clientIp("10.0.0.1", "2001:db8::7", trusted), "2001:db8::7");
    assert.equal(clientIp("10.0.0.1", "[2001:db8::7]:443, 1.1.1.1:5678", trusted), "1.1.1.1");
    assert.equal(clientIp("10.0.0.1", "::ffff:1.1.1.1", trusted), "1.1.1.1");
  });

  it("is the left-most entry when every entry is trusted, and the peer when there are none", () => {
    assert.equal(clientIp("10.0.0.1", "10.1.1.1, 10.2.2.2", trusted), "10.1.1.1");
    assert.equal(clientIp("10.0.0.1", ["10.1.1.1", "10.2.2.2"], trusted), "10.1.1.1");
    assert.equal(clientIp("10.0.0.1", "", trusted), "10.0.0.1");
    assert.equal(clientIp("10.0.0.1", [], trusted), "10.0.0.1");
    assert.equal(clientIp("10.0.0.1", undefined, trusted), "10.0.0.1");
  });

  it("stops at a malformed entry and answers the nearest address it can vouch for, never crashing", () => {
    assert.equal(clientIp("10.0.0.1", "1.1.1.1, garbage", trusted), "10.0.0.1");
    assert.equal(clientIp("10.0.0.1", "1.1.1.1, garbage, 10.3.3.3", trusted), "10.3.3.3");
    assert.equal(clientIp("10.0.0.1", "1.1.1.1, , 10.3.3.3", trusted), "10.3.3.3", "an empty entry counts as malformed");
    assert.equal(clientIp("10.0.0.1", "1.1.1.1,", trusted), "10.0.0.1");
    assert.equal(clientIp("10.0.0.1", ["1.1.1.1", "garbage, 10.0.0.2"], trusted), "10.0.0.2", "the walk stops; earlier header lines are not consulted");
    for (const junk of ["unknown", "1.2.3.4.5", "[::1", "1.1.1.1:99999", "💥", "x".repeat(10000), ",,,,", "\u0000", "999.1.1.1"]) {
      assert.equal(clientIp("10.0.0.1", `5.5.5.5, ${junk}`, trusted), "10.0.0.1", JSON.stringify(junk.slice(0, 20)));
    }
  });
});

describe("parseForwardedEntry and canonicalIp", () => {
  it("accepts the forms proxies write", () => {
    assert.equal(parseForwardedEntry(" 1.2.3.4 "), "1.2.3.4");
    assert.equal(parseForwardedEntry("1.2.3.4:80"), "1.2.3.4");
    assert.equal(parseForwardedEntry("2001:db8::1"), "2001:db8::1");
    assert.equal(parseForwardedEntry("[2001:db8::1]"), "2001:db8::1");
    assert.equal(parseForwardedEntry("[2001:db8::1]:8080"), "2001:db8::1");
    assert.equal(parseForwardedEntry("unknown"), undefined);
    assert.equal(parseForwardedEntry("_hidden"), undefined);
    assert.equal(parseForwardedEntry("[1.2.3.4]"), undefined);
    assert.equal(parseForwardedEntry("[::1]x"), undefined);
  });

  it("shows IPv4-mapped IPv6 as IPv4", () => {
    assert.equal(canonicalIp("::ffff:127.0.0.1"), "127.0.0.1");
    assert.equal(canonicalIp("::FFFF:127.0.0.1"), "127.0.0.1");
    assert.equal(canonicalIp("0:0:0:0:0:ffff:1.2.3.4"), "1.2.3.4");
    assert.equal(canonicalIp("::1"), "::1");
    assert.equal(canonicalIp("127.0.0.1"), "127.0.0.1");
    assert.equal(canonicalIp("::ffff:abcd"), "::ffff:abcd");
  });
});

describe("forwardedFor", () => {
  it("replaces a chain from an untrusted peer and extends one from a trusted peer", () => {
    assert.equal(forwardedFor("203.0.113.9", "6.6.6.6", false), "203.0.113.9");
    assert.equal(forwardedFor("10.0.0.1", "1.1.1.1, 10.2.2.2", true), "1.1.1.1, 10.2.2.2, 10.0.0.1");
    assert.equal(forwardedFor("10.0.0.1", ["1.1.1.1", " ", "10.2.2.2"], true), "1.1.1.1, 10.2.2.2, 10.0.0.1");
    assert.equal(forwardedFor("10.0.0.1", undefined, true), "10.0.0.1");
    assert.equal(forwardedFor("::ffff:10.0.0.1", "", true), "10.0.0.1");
  });
});
