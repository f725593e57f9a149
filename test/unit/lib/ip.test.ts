import { describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { CidrSet } from "../../../lib/cidr-set.ts";
import { ipVersion, parseIPv4 } from "../../../lib/ip.ts";
import { seeded } from "../../helpers/seeded.ts";

describe("ipVersion", () => {
  it("agrees with net.isIP on hand-picked edge cases (zone ids aside)", () => {
    const cases = [
      "::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "1:::2",
      "::ffff:1.2.3.4", "1.2.3.4", "01.2.3.4", "1.2.3", "1.2.3.4.5", "255.255.255.255", "256.1.1.1", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4",
      "1:2:3:4:5:6:7:1.2.3.4", "", ":", "1:", ":1", "12345::", "0:0:0:0:0:ffff:1.2.3.4", "A:b:C:d:E:f:0:1", "::ffff:1.2.3", "1.2.3.4:",
      "[::1]", "1::2:3:4:5:6:7", "1::2:3:4:5:6:7:8", " 1.2.3.4", "1.2.3.4 ", "0.0.0.0", "1.2.3.-4", "::g", "1.2.3.04",
    ];
    for (const s of cases) assert.equal(ipVersion(s), net.isIP(s), JSON.stringify(s));
    assert.equal(parseIPv4("192.168.1.2"), 0xc0a80102);
  });

  it("agrees with net.isIP on random strings", () => {
    const rnd = seeded(1);
    const alphabet = "0123456789abcdefABCDEF:.";
    for (let i = 0; i < 100000; i++) {
      let s = rnd() < 0.3 ? "::" : "";
      const len = 1 + Math.floor(rnd() * 16);
      for (let k = 0; k < len; k++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      assert.equal(ipVersion(s), net.isIP(s), JSON.stringify(s));
    }
  });
});

describe("CidrSet", () => {
  it("matches like net.BlockList for random IPv4 and IPv6 blocks, including IPv4-mapped probes", () => {
    const rnd = seeded(2);
    const byte = () => Math.floor(rnd() * 256);
    for (let i = 0; i < 5000; i++) {
      const a = [byte(), byte(), byte(), byte()].join(".");
      const bits = Math.floor(rnd() * 33);
      const cs = new CidrSet();
      assert.equal(cs.add(`${a}/${bits}`), undefined);
      const bl = new net.BlockList();
      bl.addSubnet(a, bits, "ipv4");
      const probe = rnd() < 0.5 ? a.replace(/\d+$/, String(byte())) : [byte(), byte(), byte(), byte()].join(".");
      assert.equal(cs.contains(probe), bl.check(probe, "ipv4"), `${a}/${bits} ∋ ${probe}`);
      assert.equal(cs.contains(`::ffff:${probe}`), bl.check(probe, "ipv4"), `mapped ${probe}`);
    }
    for (let i = 0; i < 5000; i++) {
      const g = Array.from({ length: 8 }, () => (rnd() < 0.4 ? 0 : Math.floor(rnd() * 65536)));
      const addr = new net.SocketAddress({ address: g.map((x) => x.toString(16)).join(":"), family: "ipv6" }).address;
      const bits = Math.floor(rnd() * 129);
      const cs = new CidrSet();
      assert.equal(cs.add(`${addr}/${bits}`), undefined, addr);
      const bl = new net.BlockList();
      bl.addSubnet(addr, bits, "ipv6");
      const g2 = g.map((x) => (rnd() < 0.15 ? Math.floor(rnd() * 65536) : x));
      const probe = new net.SocketAddress({ address: g2.map((x) => x.toString(16)).join(":"), family: "ipv6" }).address;
      assert.equal(cs.contains(probe), bl.check(probe, "ipv6"), `${addr}/${bits} ∋ ${probe}`);
    }
  });

  it("holds several blocks, bare addresses, and IPv4-mapped blocks", () => {
    const cs = new CidrSet();
    for (const c of ["10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1", "::ffff:172.16.0.0/108", "0.0.0.0/0"]) assert.equal(cs.add(c), undefined, c);
    assert.equal(cs.size, 6);
    assert.ok(cs.contains("172.16.5.5"));
    assert.ok(cs.contains("8.8.8.8"), "0.0.0.0/0 matches every IPv4");
    assert.ok(!cs.contains("2001:db8::1"));
    assert.ok(cs.contains("::1"));
    assert.ok(!cs.contains("::2"));
    assert.ok(!cs.contains("garbage"));
    const all6 = new CidrSet();
    all6.add("::/0");
    assert.ok(all6.contains("2001:db8::1"));
    assert.ok(!all6.contains("1.2.3.4"), "an IPv6 block never matches IPv4");
  });

  it("refuses malformed entries with a reason", () => {
    const cs = new CidrSet();
    for (const [c, re] of [
      ["10.0.0.0/33", /0–32/],
      ["::/129", /0–128/],
      ["10.0.0.0/", /prefix/],
      ["10.0.0.0/-1", /prefix/],
      ["10.0.0.0/8/8", /prefix/],
      ["nope", /not an IP/],
      ["10.0.0/8", /not an IP/],
    ] as const) {
      const err = cs.add(c);
      assert.ok(err !== undefined && re.test(err), `${c} → ${err}`);
    }
    assert.equal(cs.size, 0);
  });
});
