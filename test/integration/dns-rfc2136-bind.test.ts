// The RFC 2136 provider against a real BIND 9 (Debian's bind9, run unprivileged-style on a loopback
// port): a TSIG-signed add makes the TXT resolvable, the delete removes exactly it; a wrong secret is
// reported as NOTAUTH/BADSIG, a key the zone does not grant as REFUSED; and an answer truncated over
// UDP makes the provider retry over TCP (a tiny relay in front of BIND sets TC on the UDP answer).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import dgram from "node:dgram";
import net from "node:net";
import { Resolver } from "node:dns/promises";
import { Rfc2136DnsProvider, Rfc2136Error } from "../../management/tls/dns/rfc2136.ts";
import type { TsigKey } from "../../management/tls/dns/wire.ts";
import { freePort } from "../helpers/agent-process.ts";

const NAMED = process.env.NAMED ?? "/usr/sbin/named";
const namedMissing: string | false = existsSync(NAMED) ? false : `BIND's named not installed (${NAMED}); Debian package "bind9"`;

const SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";
const key: TsigKey = { name: "warren-key", algorithm: "hmac-sha256", secret: Buffer.from(SECRET, "base64") };

describe("RFC 2136 provider against BIND", { skip: namedMissing, timeout: 60_000 }, () => {
  let dir: string;
  let port: number;
  let named: ChildProcess;
  let output = "";
  const resolver = new Resolver({ timeout: 1000, tries: 2 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "warren-bind-"));
    port = await freePort();
    const zone = "$TTL 60\n@ IN SOA ns.warren.test. admin.warren.test. 1 60 60 600 60\n@ IN NS ns.warren.test.\nns IN A 127.0.0.1\n";
    await writeFile(join(dir, "warren.test.zone"), zone);
    await writeFile(join(dir, "locked.test.zone"), zone.replaceAll("warren.test", "locked.test"));
    await writeFile(
      join(dir, "named.conf"),
      `options { directory "${dir}"; pid-file "${dir}/named.pid"; session-keyfile "${dir}/session.key";
  listen-on port ${port} { 127.0.0.1; }; listen-on-v6 { none; }; recursion no; dnssec-validation no; notify no; };
key "warren-key" { algorithm hmac-sha256; secret "${SECRET}"; };
controls { };
zone "warren.test" { type primary; file "${dir}/warren.test.zone"; update-policy { grant warren-key zonesub TXT; }; };
zone "locked.test" { type primary; file "${dir}/locked.test.zone"; update-policy { grant nobody-key zonesub TXT; }; };
key "nobody-key" { algorithm hmac-sha256; secret "bm9ib2R5"; };
`,
    );
    named = spawn(NAMED, ["-g", "-c", join(dir, "named.conf")], { stdio: ["ignore", "pipe", "pipe"] });
    named.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    named.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    resolver.setServers([`127.0.0.1:${port}`]);
    // Ready when it serves the zone (polled; each probe is itself an answer or a bounded timeout).
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await resolver.resolveSoa("warren.test");
        break;
      } catch (err) {
        if (Date.now() > deadline || named.exitCode !== null) throw new Error(`named not ready (${String(err)}):\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });

  after(async () => {
    if (named && named.exitCode === null) {
      const exited = once(named, "exit");
      named.kill("SIGTERM");
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const txt = async (name: string): Promise<string[]> => {
    try {
      return (await resolver.resolveTxt(name)).map((parts) => parts.join(""));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOTFOUND" || (err as NodeJS.ErrnoException).code === "ENODATA") return [];
      throw err;
    }
  };

  it("adds the TXT record, then deletes exactly it", async () => {
    const dns = new Rfc2136DnsProvider({ server: `127.0.0.1:${port}`, zone: "warren.test.", key, propagationDelayMs: 0 });
    const a = await dns.setTxt("_acme-challenge.a.warren.test", "value-one");
    const b = await dns.setTxt("_acme-challenge.a.warren.test.", "value-two");
    assert.deepEqual((await txt("_acme-challenge.a.warren.test")).sort(), ["value-one", "value-two"]);
    await dns.removeTxt(a);
    assert.deepEqual(await txt("_acme-challenge.a.warren.test"), ["value-two"]);
    await dns.removeTxt(b);
    assert.deepEqual(await txt("_acme-challenge.a.warren.test"), []);
  });

  it("a wrong secret is NOTAUTH with TSIG BADSIG, named clearly", async () => {
    const dns = new Rfc2136DnsProvider({ server: `127.0.0.1:${port}`, zone: "warren.test", key: { ...key, secret: Buffer.from("wrong") }, propagationDelayMs: 0 });
    await assert.rejects(dns.setTxt("_acme-challenge.b.warren.test", "v"), (e: Error) => {
      assert.ok(e instanceof Rfc2136Error);
      assert.match(e.message, /DNS UPDATE of zone warren\.test at 127\.0\.0\.1:\d+ refused: NOTAUTH \(TSIG BADSIG\) — the TSIG key name, algorithm or secret/);
      return true;
    });
    assert.deepEqual(await txt("_acme-challenge.b.warren.test"), []);
  });

  it("an unknown key name is NOTAUTH with TSIG BADKEY", async () => {
    const dns = new Rfc2136DnsProvider({ server: `127.0.0.1:${port}`, zone: "warren.test", key: { ...key, name: "who" }, propagationDelayMs: 0 });
    await assert.rejects(dns.setTxt("_acme-challenge.b.warren.test", "v"), /refused: NOTAUTH \(TSIG BADKEY\)/);
  });

  it("a zone whose policy does not grant the key is REFUSED", async () => {
    const dns = new Rfc2136DnsProvider({ server: `127.0.0.1:${port}`, zone: "locked.test", key, propagationDelayMs: 0 });
    await assert.rejects(dns.setTxt("_acme-challenge.x.locked.test", "v"), /zone locked\.test .* refused: REFUSED — the server's update policy/);
  });

  it("a name outside the configured zone is refused before sending", async () => {
    const dns = new Rfc2136DnsProvider({ server: `127.0.0.1:${port}`, zone: "warren.test", key, propagationDelayMs: 0 });
    await assert.rejects(dns.setTxt("_acme-challenge.example.com", "v"), /_acme-challenge\.example\.com is not inside the zone warren\.test/);
  });

  it("falls back to TCP when the UDP answer is truncated", async () => {
    // A relay port: UDP answers are BIND's with TC set (and nothing else), TCP is piped to BIND.
    const relayPort = await freePort();
    let tcpConnections = 0;
    const tcp = net.createServer((client) => {
      tcpConnections++;
      const upstream = net.connect({ host: "127.0.0.1", port });
      client.pipe(upstream).pipe(client);
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
    });
    tcp.listen(relayPort, "127.0.0.1");
    await once(tcp, "listening");
    const udp = dgram.createSocket("udp4");
    udp.on("message", (m, rinfo) => {
      const reply = Buffer.from(m.subarray(0, 12));
      reply.writeUInt16BE(0x8000 | (5 << 11) | 0x0200, 2); // response, UPDATE, TC
      reply.fill(0, 4, 12);
      udp.send(reply, rinfo.port, rinfo.address);
    });
    udp.bind(relayPort, "127.0.0.1");
    await once(udp, "listening");
    try {
      const dns = new Rfc2136DnsProvider({ server: `127.0.0.1:${relayPort}`, zone: "warren.test", key, propagationDelayMs: 0 });
      const h = await dns.setTxt("_acme-challenge.tcp.warren.test", "over-tcp");
      assert.deepEqual(await txt("_acme-challenge.tcp.warren.test"), ["over-tcp"]);
      await dns.removeTxt(h);
      assert.equal(tcpConnections, 2);
    } finally {
      udp.close();
      await new Promise<void>((r) => tcp.close(() => r()));
    }
  });
});
