// The certificate manager's decisions with a clock of the test's choosing and an engine that answers
// at once: when it issues, that it never runs two issuances for one name, the backoff after a failure,
// and that a due renewal wakes it up before the 30-minute scan. The real engine against Pebble is
// test/integration/acme-issuance.test.ts; here it is the scheduling logic alone.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pino from "pino";
import { openStore, type Store } from "../../../management/store/index.ts";
import { Keyring } from "../../../management/secrets/keyring.ts";
import { SnapshotService } from "../../../management/config/snapshot-service.ts";
import { CertificateManager } from "../../../management/tls/certificate-manager.ts";
import type { AcmeEngine } from "../../../management/tls/acme-engine.ts";
import { AcmeChallenges } from "../../../proxy/index.ts";
import { generateSelfSigned } from "../../../management/tls/self-signed.ts";

const silent = pino({ level: "silent" });
const HOUR = 3_600_000;

interface Call {
  names: readonly string[];
  finish: (ok: boolean) => void;
}

/** An engine whose issuances finish when the test says so: success with a fresh 90-day certificate, or a failure. */
function controlledEngine(): { engine: AcmeEngine; calls: Call[] } {
  const calls: Call[] = [];
  const engine: AcmeEngine = {
    registerAccount: async () => ({ accountKeyPem: "k", accountUrl: "https://ca.test/acct/1" }),
    issue: (o) =>
      new Promise((resolve, reject) => {
        calls.push({
          names: o.names,
          finish: (ok) => {
            if (!ok) return reject(new Error(`${o.names[0]}: the CA said no`));
            void generateSelfSigned([...o.names], 90).then((c) => resolve({ certPem: c.certPem, keyPem: c.keyPem }));
          },
        });
      }),
    renewalInfo: async () => undefined,
  };
  return { engine, calls };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), what);
}

describe("the certificate manager's schedule", () => {
  let dir: string;
  let store: Store;
  let manager: CertificateManager;
  let calls: Call[];
  let now: number;
  let listenerId: string;
  let accountId: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "warren-certmgr-"));
    store = openStore(join(dir, "warren.db"), new Keyring(randomBytes(32)));
    now = Date.now();
    listenerId = "lsn_https";
    store.proxy.insertListener({ id: listenerId, name: "https", bind_address: "", port: 0, protocol: "https", enabled: 1, accept_proxy_protocol: 0, tls_cert_pem: "", tls_key_pem: "", tls_min_version: "1.2", http2: 0, created_at: now, updated_at: now });
    accountId = "acc_1";
    store.tls.insertAcmeAccount({ id: accountId, directory_url: "https://ca.test/dir", email: "ops@example.com", key_pem: "account key", account_url: "https://ca.test/acct/1", eab_key_id: "", created_at: now });
    const controlled = controlledEngine();
    calls = controlled.calls;
    const snapshots = new SnapshotService(store, { apply: async () => {} }, silent);
    manager = new CertificateManager({ store, snapshots, challenges: new AcmeChallenges(), engine: controlled.engine, log: silent, now: () => now, random: () => 0.5 });
  });
  afterEach(async () => {
    await manager.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("issues at once, then renews at two thirds of the life", async () => {
    const row = await manager.requestAcme(listenerId, ["a.example.com"], accountId, "http-01", undefined);
    assert.equal(row.status, "pending");
    await until("the issuance started", () => calls.length === 1);
    calls[0]!.finish(true);
    await manager.settled(row.id);
    const ready = store.tls.certificate(row.id)!;
    assert.equal(ready.status, "ready");
    assert.equal(ready.next_renewal_at, ready.not_before + Math.floor(((ready.not_after - ready.not_before) * 2) / 3));
    await manager.scan("test");
    assert.equal(calls.length, 1, "not due yet: nothing issued");
    now = ready.next_renewal_at;
    const scanning = manager.scan("test");
    await until("the renewal started", () => calls.length === 2);
    assert.equal(store.tls.certificate(row.id)!.status, "renewing", "the old certificate keeps serving while it renews");
    calls[1]!.finish(true);
    await scanning;
    assert.equal(store.tls.certificate(row.id)!.status, "ready");
  });

  it("never runs two issuances for one name at a time", async () => {
    const a = await manager.requestAcme(listenerId, ["same.example.com"], accountId, "http-01", undefined);
    const b = await manager.requestAcme(listenerId, ["same.example.com", "other.example.com"], accountId, "http-01", undefined);
    await until("the first issuance started", () => calls.length === 1);
    await manager.settled(b.id);
    assert.equal(calls.length, 1, "the second waits for the next scan");
    assert.equal(store.tls.certificate(b.id)!.status, "pending");
    calls[0]!.finish(true);
    await manager.settled(a.id);
    const scanning = manager.scan("test");
    await until("the second issuance started", () => calls.length === 2);
    assert.deepEqual(calls[1]!.names, ["same.example.com", "other.example.com"]);
    calls[1]!.finish(true);
    await scanning;
  });

  it("backs off from an hour after a failure, doubling, and a manual renewal tries at once", async () => {
    const row = await manager.requestAcme(listenerId, ["fail.example.com"], accountId, "http-01", undefined);
    await until("started", () => calls.length === 1);
    calls[0]!.finish(false);
    await manager.settled(row.id);
    let failed = store.tls.certificate(row.id)!;
    assert.equal(failed.status, "error");
    assert.equal(failed.last_error, "fail.example.com: the CA said no");
    assert.equal(failed.failures, 1);
    assert.equal(failed.next_renewal_at, now + HOUR);
    await manager.scan("test");
    assert.equal(calls.length, 1, "not retried before the backoff");
    await manager.renew(row.id);
    await until("the manual attempt started", () => calls.length === 2);
    calls[1]!.finish(false);
    await manager.settled(row.id);
    failed = store.tls.certificate(row.id)!;
    assert.equal(failed.failures, 2);
    assert.equal(failed.next_renewal_at, now + 2 * HOUR);
    now += 2 * HOUR;
    const scanning = manager.scan("test");
    await until("the retry started", () => calls.length === 3);
    calls[2]!.finish(true);
    await scanning;
    const ok = store.tls.certificate(row.id)!;
    assert.equal(ok.status, "ready");
    assert.equal(ok.failures, 0);
    assert.equal(ok.last_error, "");
  });
});
