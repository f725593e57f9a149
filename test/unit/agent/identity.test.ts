import assert from "node:assert/strict";
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import pino from "pino";
import { CertificateAuthority } from "../../../management/pki/index.ts";
import { AgentService } from "../../../proto/gen/warren/v1/agent_pb.ts";
import { createCsrForKey } from "../../../tunnel/csr.ts";
import { agentSpiffeId } from "../../../tunnel/handshake.ts";
import { CertificateManager, EnrollError, connectEnroller, describeEnrollError, type EnrollFn } from "../../../agent/enrollment.ts";
import { AgentIdentity, CERT_FILE, KEY_FILE, checkAgentCertificate, renewalTime } from "../../../agent/identity.ts";
import { ManagementTls } from "../../../agent/management-tls.ts";
import { SettingsError } from "../../../agent/settings.ts";

const ID = "agt_abcdefghijklmnop";
const OTHER = "agt_zzzzzzzzzzzzzzzz";
const SECRET = "the-agent-secret";
const DAY = 86_400_000;
const posix = process.platform !== "win32";

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
const dirs: string[] = [];

async function memoryCa(name: string) {
  const m = await CertificateAuthority.generate({ commonName: name });
  return CertificateAuthority.fromPem(m.certPem, m.keyPem);
}

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), "warren-agent-id-"));
  dirs.push(d);
  return d;
}

function capture(level = "debug") {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

async function issue(keyPem: string, agentId: string, opts: { ca?: CertificateAuthority; days?: number; now?: Date } = {}): Promise<string> {
  const csrPem = await createCsrForKey(keyPem, agentId);
  const signed = await (opts.ca ?? ca).signClientCsr({ csrPem, uriSan: agentSpiffeId(agentId), validityDays: opts.days ?? 90, ...(opts.now ? { now: opts.now } : {}) });
  return signed.certPem;
}

/** An EnrollFn backed by the test CA, counting calls and failing as told. */
function fakeEnroll(failures: unknown[] = []): EnrollFn & { calls: number } {
  const fn = async (csrPem: string) => {
    fn.calls++;
    const f = failures.shift();
    if (f !== undefined) throw f;
    const signed = await ca.signClientCsr({ csrPem, uriSan: agentSpiffeId(ID), validityDays: 90 });
    return { certificatePem: signed.certPem, caCertificatePem: ca.certPem };
  };
  fn.calls = 0;
  return fn;
}

before(async () => {
  ca = await memoryCa("Identity Test CA");
  otherCa = await memoryCa("Other CA");
});
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("agent identity", () => {
  it("creates the state dir 0700 and a P-256 key 0600 once, then reuses it", async () => {
    const dir = path.join(await tempDir(), "state");
    const first = await AgentIdentity.load(dir, ID);
    assert.equal(first.identity.keyCreated, true);
    assert.equal(first.storedCertPem, undefined);
    if (posix) {
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
      assert.equal((await stat(path.join(dir, KEY_FILE))).mode & 0o777, 0o600);
    }
    const second = await AgentIdentity.load(dir, ID);
    assert.equal(second.identity.keyCreated, false);
    assert.equal(second.identity.keyPem, first.identity.keyPem);
  });

  it("refuses a corrupt key with an AGENT_STATE_DIR error", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, KEY_FILE), "garbage", { mode: 0o600 });
    await assert.rejects(AgentIdentity.load(dir, ID), (e: unknown) => e instanceof SettingsError && e.variable === "AGENT_STATE_DIR");
  });

  it("checks certificates: key, dates, SPIFFE id, issuer", async () => {
    const { identity } = await AgentIdentity.load(await tempDir(), ID);
    const good = await issue(identity.keyPem, ID);
    const check = checkAgentCertificate(good, identity.keyPem, ID, new Date(), ca.certPem);
    assert.ok(check.ok);
    const lifetime = check.cert.notAfter.getTime() - check.cert.notBefore.getTime();
    assert.equal(check.cert.renewAt.getTime(), check.cert.notBefore.getTime() + Math.round((lifetime * 2) / 3));

    const expired = checkAgentCertificate(good, identity.keyPem, ID, new Date(Date.now() + 91 * DAY));
    assert.ok(!expired.ok && /expired/.test(expired.reason));
    const early = checkAgentCertificate(good, identity.keyPem, ID, new Date(Date.now() - DAY));
    assert.ok(!early.ok && /not valid before/.test(early.reason));
    const otherAgent = checkAgentCertificate(good, identity.keyPem, OTHER);
    assert.ok(!otherAgent.ok && /not for agt_zzzz/.test(otherAgent.reason));
    const otherKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const wrongKey = checkAgentCertificate(good, otherKey, ID);
    assert.ok(!wrongKey.ok && /another key/.test(wrongKey.reason));
    const foreign = checkAgentCertificate(await issue(identity.keyPem, ID, { ca: otherCa }), identity.keyPem, ID, new Date(), ca.certPem);
    assert.ok(!foreign.ok && /CA/.test(foreign.reason));
    const garbage = checkAgentCertificate("nope", identity.keyPem, ID);
    assert.ok(!garbage.ok);
  });

  it("renews at two thirds of the lifetime", () => {
    const nb = new Date("2030-01-01T00:00:00Z");
    const na = new Date(nb.getTime() + 90 * DAY);
    assert.equal(renewalTime(nb, na).toISOString(), new Date(nb.getTime() + 60 * DAY).toISOString());
  });
});

describe("certificate manager", () => {
  it("enrolls when there is no certificate, stores it 0600 and uses it", async () => {
    const dir = await tempDir();
    const { identity, storedCertPem } = await AgentIdentity.load(dir, ID);
    const enroll = fakeEnroll();
    const { logger, lines } = capture();
    const changed: unknown[] = [];
    const m = new CertificateManager({ identity, enroll, logger, onCertificate: (c) => changed.push(c) });
    await m.start(storedCertPem);
    m.stop();
    assert.equal(enroll.calls, 1);
    assert.equal(changed.length, 1);
    const client = identity.clientCertificate();
    assert.ok(client);
    assert.equal(client.keyPem, identity.keyPem);
    const onDisk = await readFile(path.join(dir, CERT_FILE), "utf8");
    assert.equal(onDisk, client.certPem);
    if (posix) assert.equal((await stat(path.join(dir, CERT_FILE))).mode & 0o777, 0o600);
    assert.match(new X509Certificate(onDisk).subjectAltName ?? "", new RegExp(agentSpiffeId(ID)));
    const enrolled = lines.find((l) => l.msg === "enrolled");
    assert.ok(enrolled && typeof enrolled.notAfter === "string");
  });

  it("reuses a valid stored certificate and re-enrolls for a wrong one", async () => {
    const dir = await tempDir();
    const { identity } = await AgentIdentity.load(dir, ID);
    const stored = await issue(identity.keyPem, ID);
    const enroll = fakeEnroll();
    const m = new CertificateManager({ identity, enroll, logger: capture().logger, caPem: () => ca.certPem });
    await m.start(stored);
    m.stop();
    assert.equal(enroll.calls, 0);
    assert.equal(identity.clientCertificate()?.certPem, stored);

    for (const wrong of [await issue(identity.keyPem, OTHER), await issue(identity.keyPem, ID, { ca: otherCa })]) {
      const again = (await AgentIdentity.load(dir, ID)).identity;
      const e2 = fakeEnroll();
      const m2 = new CertificateManager({ identity: again, enroll: e2, logger: capture().logger, caPem: () => ca.certPem });
      await m2.start(wrong);
      m2.stop();
      assert.equal(e2.calls, 1);
      assert.notEqual(again.clientCertificate()?.certPem, wrong);
    }
  });

  it("renews at once when past two thirds, and on a timer otherwise", async () => {
    const { identity } = await AgentIdentity.load(await tempDir(), ID);
    const stored = await issue(identity.keyPem, ID);
    const info = identity.checkCertificate(stored);
    assert.ok(info.ok);

    const late = fakeEnroll();
    const m1 = new CertificateManager({ identity, enroll: late, logger: capture().logger, now: () => new Date(info.cert.renewAt.getTime() + 1000) });
    await m1.start(stored);
    m1.stop();
    assert.equal(late.calls, 1, "past renewAt: renewed during start");

    const timed = fakeEnroll();
    let offset = -80;
    const m2 = new CertificateManager({ identity, enroll: timed, logger: capture().logger, now: () => new Date(info.cert.renewAt.getTime() + offset) });
    await m2.start(stored);
    assert.equal(timed.calls, 0);
    offset = 0;
    const deadline = Date.now() + 3000;
    while (timed.calls === 0 && Date.now() < deadline) await sleep(10);
    m2.stop();
    assert.equal(timed.calls, 1, "renewal timer fired");
  });

  it("keeps the old certificate while renewal fails, retrying with backoff", async () => {
    const { identity } = await AgentIdentity.load(await tempDir(), ID);
    const stored = await issue(identity.keyPem, ID);
    const info = identity.checkCertificate(stored);
    assert.ok(info.ok);
    const enroll = fakeEnroll([new ConnectError("down", Code.Unavailable), new Error("connect ECONNREFUSED")]);
    const { logger, lines } = capture();
    const m = new CertificateManager({
      identity,
      enroll,
      logger,
      // The clock sits past renewAt until the renewal succeeds (third call), then is real again.
      now: () => (enroll.calls < 3 ? new Date(info.cert.renewAt.getTime() + 1000) : new Date()),
      renewRetry: { initialMs: 20, maxMs: 40 },
    });
    await m.start(stored);
    assert.equal(identity.clientCertificate(new Date(info.cert.renewAt.getTime() + 1000))?.certPem, stored, "old certificate still in use");
    const deadline = Date.now() + 5000;
    while (!lines.some((l) => l.msg === "enrolled") && Date.now() < deadline) await sleep(10);
    m.stop();
    assert.equal(enroll.calls, 3);
    assert.notEqual(identity.clientCertificate()?.certPem, stored);
    const failures = lines.filter((l) => l.msg === "renewal failed");
    assert.equal(failures.length, 2);
    assert.ok(failures.every((f) => typeof f.keepingCertificateUntil === "string" && typeof f.retryInMs === "number"));
  });

  it("logs an unauthenticated enrollment clearly, at error level", async () => {
    const { identity } = await AgentIdentity.load(await tempDir(), ID);
    const { logger, lines } = capture();
    const m = new CertificateManager({ identity, enroll: fakeEnroll([new EnrollError("unauthenticated", "invalid agent credentials")]), logger, retry: { initialMs: 60_000 } });
    await m.start(undefined);
    m.stop();
    const f = lines.find((l) => l.msg === "enrollment failed");
    assert.ok(f);
    assert.equal(f.level, 50);
    assert.match(String(f.reason), /wrong AGENT_TOKEN/);
    assert.equal(identity.clientCertificate(), undefined);
  });
});

describe("connectEnroller", () => {
  it("calls AgentService.Enroll over HTTPS with the bearer token, verified against the CA", async (t) => {
    const serverCert = await ca.issueServerCertificate(["127.0.0.1"]);
    const seen: string[] = [];
    const handler = connectNodeAdapter({
      routes: (router) =>
        router.service(AgentService, {
          async enroll(req, ctx) {
            seen.push(ctx.requestHeader.get("authorization") ?? "");
            if (ctx.requestHeader.get("authorization") !== `Bearer ${ID}.${SECRET}`) throw new ConnectError("invalid agent credentials", Code.Unauthenticated);
            const signed = await ca.signClientCsr({ csrPem: req.csrPem, uriSan: agentSpiffeId(ID), validityDays: 90 });
            return { certificatePem: signed.certPem, caCertificatePem: ca.certPem };
          },
        }),
    });
    const server = https.createServer({ cert: serverCert.certPem + ca.certPem, key: serverCert.keyPem }, handler);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);

    const { identity } = await AgentIdentity.load(await tempDir(), ID);
    const tls = new ManagementTls(url, { kind: "ca", caPem: ca.certPem, caFile: "ca.pem" });
    const enroll = connectEnroller({ managementUrl: url, agentId: ID, secret: SECRET, tls });
    const res = await enroll(await createCsrForKey(identity.keyPem, ID));
    assert.ok(identity.checkCertificate(res.certificatePem, new Date(), res.caCertificatePem).ok);
    assert.deepEqual(seen, [`Bearer ${ID}.${SECRET}`]);

    const wrong = connectEnroller({ managementUrl: url, agentId: ID, secret: "wrong", tls });
    await assert.rejects(wrong(await createCsrForKey(identity.keyPem, ID)), (e: unknown) => e instanceof EnrollError && e.code === "unauthenticated" && describeEnrollError(e).operator);

    // Pinned trust works too once the server sends its chain.
    const pinned = new ManagementTls(url, { kind: "pin", sha256: new X509Certificate(ca.certPem).fingerprint256.replace(/:/g, "").toLowerCase() });
    const viaPin = connectEnroller({ managementUrl: url, agentId: ID, secret: SECRET, tls: pinned });
    assert.ok((await viaPin(await createCsrForKey(identity.keyPem, ID))).certificatePem.includes("BEGIN CERTIFICATE"));

    // And an impostor CA is refused.
    const impostorTls = new ManagementTls(url, { kind: "ca", caPem: otherCa.certPem, caFile: "other.pem" });
    const viaImpostor = connectEnroller({ managementUrl: url, agentId: ID, secret: SECRET, tls: impostorTls });
    await assert.rejects(viaImpostor(await createCsrForKey(identity.keyPem, ID)));
    assert.equal(seen.length, 3, "nothing reached the server through an untrusted connection");
  });
});
