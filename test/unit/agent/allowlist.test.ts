import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AllowlistError, TargetPolicy, decide, parseAllowEntry, parseAllowlist, parseTarget, type LookupFn } from "../../../agent/allowlist.ts";

function fakeDns(table: Record<string, string[]>): LookupFn & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (host: string) => {
    calls.push(host);
    const ips = table[host];
    if (!ips) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return ips.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return Object.assign(fn, { calls });
}

async function allowed(policy: TargetPolicy, address: string): Promise<boolean> {
  return (await policy.check(address)).ok;
}

describe("AGENT_ALLOW parsing", () => {
  it("accepts CIDRs, IPs, host:port globs and bracketed IPv6", () => {
    for (const e of [
      "10.0.0.0/8",
      "192.168.1.7",
      "fd00::/8",
      "::1",
      "127.0.0.1:9000",
      "*.internal:443",
      "db.local:*",
      "[::1]:8080",
      "[fd00::/16]:5432",
      "10.0.0.0/8:443",
      "*:80",
      "*",
      "web-*.example.com:80*",
      "10.1.*.*:22",
    ]) {
      assert.equal(parseAllowEntry(e).text, e);
    }
    assert.equal(parseAllowlist("a.b:1, 10.0.0.0/8,,").length, 2);
  });

  it("rejects malformed entries with the entry named", () => {
    for (const e of ["db.local", "10.0.0.0/33", "fd00::/129", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:http", "[::1", "[10.0.0.1]:80", "bad host:80", ":80", "a/b:80", "x.y:8-9"]) {
      assert.throws(() => parseAllowEntry(e), AllowlistError, e);
    }
  });
});

describe("targets", () => {
  it("parses host:port and [v6]:port", () => {
    assert.deepEqual(parseTarget("127.0.0.1:9000"), { kind: "ip", host: "127.0.0.1", family: "ipv4", port: 9000 });
    assert.deepEqual(parseTarget("[0:0:0:0:0:0:0:1]:80"), { kind: "ip", host: "::1", family: "ipv6", port: 80 });
    assert.deepEqual(parseTarget("[::ffff:10.0.0.1]:80"), { kind: "ip", host: "10.0.0.1", family: "ipv4", port: 80 });
    assert.deepEqual(parseTarget("DB.Local.:5432"), { kind: "name", host: "db.local", port: 5432 });
    for (const bad of ["", "host", "host:", ":80", "::1:80", "[::1]", "[x]:80", "h:0", "h:65536", "h:8o", "a b:80", "1.2.3.4:80:1"]) {
      assert.equal(parseTarget(bad), undefined, bad);
    }
  });
});

describe("allowlist decisions", () => {
  it("CIDR and exact ip:port rules", async () => {
    const p = new TargetPolicy(parseAllowlist("127.0.0.1:9000,10.0.0.0/8"), undefined, { lookup: fakeDns({}) });
    assert.equal(await allowed(p, "127.0.0.1:9000"), true);
    assert.equal(await allowed(p, "127.0.0.1:9001"), false);
    assert.equal(await allowed(p, "127.0.0.2:9000"), false);
    assert.equal(await allowed(p, "10.200.3.4:1"), true);
    assert.equal(await allowed(p, "11.0.0.1:80"), false);
    assert.equal(await allowed(p, "[::ffff:10.1.1.1]:80"), true, "v4-mapped is checked as v4");
    const denied = await p.check("127.0.0.1:9001");
    assert.equal(denied.ok, false);
    assert.equal(!denied.ok && denied.kind, "agent_denied");
  });

  it("IPv6 rules", async () => {
    const p = new TargetPolicy(parseAllowlist("[::1]:8080,fd00::/8,[2001:db8::/32]:443"), undefined, { lookup: fakeDns({}) });
    assert.equal(await allowed(p, "[::1]:8080"), true);
    assert.equal(await allowed(p, "[0::1]:8080"), true);
    assert.equal(await allowed(p, "[::1]:8081"), false);
    assert.equal(await allowed(p, "[fdab::1]:1"), true);
    assert.equal(await allowed(p, "[fe80::1]:1"), false);
    assert.equal(await allowed(p, "[2001:db8:1::5]:443"), true);
    assert.equal(await allowed(p, "[2001:db8:1::5]:80"), false);
    assert.equal(await allowed(p, "127.0.0.1:8080"), false, "a v6 rule never matches v4");
  });

  it("host globs and port globs", async () => {
    const dns = fakeDns({ "api.internal": ["192.0.2.10"], "a.b.internal": ["192.0.2.11"], "internal": ["192.0.2.12"], "db.local": ["192.0.2.20"], "web-1.example.com": ["192.0.2.30"] });
    const p = new TargetPolicy(parseAllowlist("*.internal:443,db.local:*,web-*.example.com:80*,10.1.*.*:22"), undefined, { lookup: dns });
    assert.equal(await allowed(p, "api.internal:443"), true);
    assert.equal(await allowed(p, "a.b.internal:443"), true);
    assert.equal(await allowed(p, "internal:443"), false);
    assert.equal(await allowed(p, "api.internal:80"), false);
    assert.equal(await allowed(p, "db.local:5432"), true);
    assert.equal(await allowed(p, "DB.LOCAL:1"), true);
    assert.equal(await allowed(p, "web-1.example.com:8080"), true);
    assert.equal(await allowed(p, "web-1.example.com:443"), false);
    assert.equal(await allowed(p, "10.1.2.3:22"), true);
    assert.equal(await allowed(p, "10.2.2.3:22"), false);
    // A name glob is about names: the address it resolves to is not allowed by it.
    assert.equal(await allowed(p, "192.0.2.10:443"), false);
  });

  it("a host name is checked by every address it resolves to, and those are what get dialled", async () => {
    const dns = fakeDns({ "ok.example": ["10.0.0.5", "10.0.0.6"], "mixed.example": ["10.0.0.5", "192.0.2.1"], "v6.example": ["fd00::5"] });
    const p = new TargetPolicy(parseAllowlist("10.0.0.0/8,fd00::/8"), undefined, { lookup: dns });
    const ok = await p.check("ok.example:80");
    assert.ok(ok.ok);
    assert.deepEqual(ok.addresses, [
      { address: "10.0.0.5", family: "ipv4" },
      { address: "10.0.0.6", family: "ipv4" },
    ]);
    const mixed = await p.check("mixed.example:80");
    assert.ok(!mixed.ok);
    assert.equal(mixed.kind, "agent_denied");
    assert.match(mixed.message, /192\.0\.2\.1/);
    assert.ok((await p.check("v6.example:80")).ok);
    const missing = await p.check("nope.example:80");
    assert.ok(!missing.ok);
    assert.equal(missing.kind, "agent_dial_failed");
    assert.match(missing.message, /ENOTFOUND/);
  });

  it("a name no rule could allow is refused without a DNS lookup", async () => {
    const dns = fakeDns({ "x.example": ["127.0.0.1"] });
    const p = new TargetPolicy(parseAllowlist("*.internal:443"), undefined, { lookup: dns });
    assert.equal(await allowed(p, "x.example:80"), false);
    assert.deepEqual(dns.calls, []);
  });

  it("default: everything except the management endpoint, by name and by address", async () => {
    const dns = fakeDns({ "warren.example.com": ["192.0.2.1", "2001:db8::1"], alias: ["192.0.2.1"], other: ["192.0.2.2"] });
    const p = new TargetPolicy("all", { host: "warren.example.com", port: 8081 }, { lookup: dns });
    assert.match(p.describe(), /except management/);
    assert.equal(await allowed(p, "warren.example.com:8081"), false);
    assert.equal(await allowed(p, "WARREN.example.com.:8081"), false);
    assert.equal(await allowed(p, "192.0.2.1:8081"), false);
    assert.equal(await allowed(p, "[2001:db8::1]:8081"), false);
    assert.equal(await allowed(p, "alias:8081"), false, "another name for the same address");
    assert.equal(await allowed(p, "warren.example.com:443"), true, "other ports are fine");
    assert.equal(await allowed(p, "other:8081"), true);
    assert.equal(await allowed(p, "127.0.0.1:8081"), true);

    const byIp = new TargetPolicy("all", { host: "127.0.0.1", port: 8081 }, { lookup: fakeDns({ localhost: ["127.0.0.1", "::1"] }) });
    assert.equal(await allowed(byIp, "127.0.0.1:8081"), false);
    assert.equal(await allowed(byIp, "localhost:8081"), false);
    assert.equal(await allowed(byIp, "127.0.0.1:9000"), true);
  });

  it("decide() is pure", () => {
    const rules = parseAllowlist("127.0.0.1:9000");
    const t = parseTarget("localhost:9000")!;
    assert.deepEqual(decide(rules, t, [{ address: "127.0.0.1", family: "ipv4" }]), { allowed: true, addresses: [{ address: "127.0.0.1", family: "ipv4" }] });
    assert.equal(decide(rules, t, [{ address: "127.0.0.1", family: "ipv4" }, { address: "::1", family: "ipv6" }]).allowed, false);
    assert.equal(decide(rules, t, []).allowed, false);
    assert.equal(decide("all", parseTarget("10.0.0.1:1")!, [], [{ names: [], ips: ["10.0.0.1"], port: 1 }]).allowed, false);
  });
});
