// ACME end to end (DESIGN.md §6): a real `warren serve` asks a real Pebble for certificates through
// TlsService, answers HTTP-01 on its HTTP listener, TLS-ALPN-01 on its HTTPS listener and DNS-01
// through the Cloudflare provider (a local fake Cloudflare API that publishes into challtestsrv's DNS),
// serves what it gets by SNI to a client that verifies it against Pebble's root, renews a
// short-lived certificate on its own and swaps it in under an open download, and records failures
// (challenge not answerable, CA down) with backoff while the old certificate keeps serving.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { JsonApi } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";
import { openDownload, startSlowOrigin, type SlowOrigin } from "../helpers/open-download.ts";
import { pollUntil } from "../helpers/wait.ts";
import { freePort } from "../helpers/agent-process.ts";
import { Pebble, pebbleMissing } from "../helpers/pebble.ts";
import { startFakeCloudflare, type FakeCloudflare } from "../helpers/fake-cloudflare.ts";

interface CertJson {
  id: string;
  names: string[];
  status: string;
  lastError?: string;
  failures?: number;
  notBefore?: string;
  notAfter?: string;
  nextRenewalAt?: string;
  sha256Fingerprint?: string;
}

const HOUR = 3_600_000;

/** A TLS handshake for `servername` verified against `ca`: the served leaf's fingerprint, or the verification error. */
function verify(port: number, servername: string, ca: string): Promise<{ authorized: boolean; error?: string; fp: string; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername, ca, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }, () =>
      resolve({
        authorized: socket.authorized,
        ...(socket.authorizationError ? { error: String(socket.authorizationError) } : {}),
        fp: socket.getPeerX509Certificate()!.fingerprint256,
        socket,
      }),
    );
    socket.once("error", reject);
  });
}

async function verified(port: number, servername: string, ca: string): Promise<string> {
  const v = await verify(port, servername, ca);
  v.socket.destroy();
  assert.equal(v.authorized, true, `${servername}: ${v.error ?? ""}`);
  return v.fp;
}

describe("ACME issuance through TlsService against Pebble", { skip: pebbleMissing }, () => {
  let pebble: Pebble;
  /** A second CA issuing 24-second certificates, for renewal. */
  let shortPebble: Pebble;
  let httpPort: number;
  let httpsPort: number;
  const warren = withWarren({
    admin: true,
    env: async () => {
      [httpPort, httpsPort] = [await freePort(), await freePort()];
      pebble = await Pebble.start({ httpPort, tlsPort: httpsPort });
      shortPebble = await Pebble.start({ httpPort, tlsPort: httpsPort, certificateValidityPeriod: 24 });
      // Warren trusts the test CAs' directory certificates the way an operator adds a private CA.
      const caFile = join(warren.configDir, "..", `pebble-directory-ca-${httpPort}.pem`);
      writeFileSync(caFile, `${pebble.caCertPem}\n${shortPebble.caCertPem}`);
      return { PUBLIC_HTTP_PORT: String(httpPort), NODE_EXTRA_CA_CERTS: caFile };
    },
  });
  let api: JsonApi;
  let c: Record<string, string>;
  let listenerId: string;
  let accountId: string;
  let shortAccountId: string;
  let cloudflare: FakeCloudflare;
  let credentialId: string;
  let root: string;
  let origin: SlowOrigin;

  const call = async (proc: string, body: unknown) => {
    const r = await api.call(proc, body, c);
    assert.equal(r.status, 200, `${proc}: ${r.text}`);
    return r.json;
  };
  const get = async (id: string): Promise<CertJson> => (await call("TlsService/GetCertificate", { id })).certificate as CertJson;
  const settled = (id: string, done: (x: CertJson) => boolean, what: string) => pollUntil(what, () => get(id), done, { timeoutMs: 60_000, intervalMs: 100 });
  const request = async (names: string[], challenge: string, extra: Record<string, string> = {}, account = accountId): Promise<CertJson> =>
    (await call("TlsService/RequestAcmeCertificate", { listenerId, names, acmeAccountId: account, challenge, ...extra })).certificate as CertJson;

  before(async () => {
    ({ api, admin: c } = warren);
    root = await pebble.rootPem();
    origin = await startSlowOrigin();
    const l = (await call("ProxyService/CreateListener", { spec: { name: "public-https", bindAddress: "", port: httpsPort, enabled: true, protocol: "LISTENER_PROTOCOL_HTTPS" } })).listener as {
      id: string;
      status: { state: string };
    };
    assert.equal(l.status.state, "LISTENER_STATE_RUNNING");
    listenerId = l.id;
    await call("ProxyService/CreateRoute", {
      spec: { listenerId, name: "all", pathPrefix: "/", action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url, enabled: true }] },
    });
    accountId = ((await call("TlsService/CreateAcmeAccount", { directoryUrl: pebble.directoryUrl, email: "ops@warren.test", agreeToTerms: true })).account as { id: string }).id;
    shortAccountId = ((await call("TlsService/CreateAcmeAccount", { directoryUrl: shortPebble.directoryUrl, email: "ops@warren.test", agreeToTerms: true })).account as { id: string }).id;
    cloudflare = await startFakeCloudflare(pebble);
    credentialId = (
      (await call("TlsService/CreateDnsCredential", {
        spec: { name: "cloudflare", provider: "DNS_PROVIDER_CLOUDFLARE", settings: { zone_id: cloudflare.zoneId, api_base_url: cloudflare.baseUrl, propagation_seconds: "0" }, secret: cloudflare.token },
      })).credential as { id: string }
    ).id;
  });
  after(async () => {
    await cloudflare?.close();
    await origin?.close();
    await warren.stop();
    await pebble?.stop();
    await shortPebble?.stop();
  });

  it("refuses an account the CA cannot register, naming the field", async () => {
    const r = await api.call("TlsService/CreateAcmeAccount", { directoryUrl: `https://127.0.0.1:${await freePort()}/dir`, email: "ops@warren.test", agreeToTerms: true }, c);
    assert.equal(r.json.code, "failed_precondition", r.text);
    assert.match(String(r.json.message), /^directory_url: .*ECONNREFUSED/);
  });

  it("HTTP-01: issued through the HTTP listener, served by SNI and verified against Pebble's root", async () => {
    const pending = await request(["a.warren.test", "www.a.warren.test"], "ACME_CHALLENGE_TYPE_HTTP_01");
    assert.equal(pending.status, "CERTIFICATE_STATUS_PENDING", "the API answers before the CA does");
    const ready = await settled(pending.id, (x) => x.status !== "CERTIFICATE_STATUS_PENDING", "HTTP-01 issuance");
    assert.equal(ready.status, "CERTIFICATE_STATUS_READY", ready.lastError);
    for (const name of ["a.warren.test", "www.a.warren.test"]) assert.equal(await verified(httpsPort, name, root), ready.sha256Fingerprint);
    const notBefore = Date.parse(ready.notBefore!);
    const notAfter = Date.parse(ready.notAfter!);
    const next = Date.parse(ready.nextRenewalAt!);
    // Pebble offers no ARI: renewal at two thirds of the life.
    assert.ok(Math.abs(next - (notBefore + ((notAfter - notBefore) * 2) / 3)) < 2_000, `next renewal ${ready.nextRenewalAt}`);
  });

  it("TLS-ALPN-01: issued through the HTTPS listener itself", async () => {
    const pending = await request(["b.warren.test"], "ACME_CHALLENGE_TYPE_TLS_ALPN_01");
    const ready = await settled(pending.id, (x) => x.status !== "CERTIFICATE_STATUS_PENDING", "TLS-ALPN-01 issuance");
    assert.equal(ready.status, "CERTIFICATE_STATUS_READY", ready.lastError);
    assert.equal(await verified(httpsPort, "b.warren.test", root), ready.sha256Fingerprint);
  });

  it("DNS-01 with Cloudflare: a name and its wildcard; the TXT records are removed afterwards", async () => {
    const wildcardOverHttp = await api.call("TlsService/RequestAcmeCertificate", { listenerId, names: ["*.c.warren.test"], acmeAccountId: accountId, challenge: "ACME_CHALLENGE_TYPE_HTTP_01" }, c);
    assert.equal(wildcardOverHttp.json.code, "invalid_argument");
    assert.match(String(wildcardOverHttp.json.message), /^challenge: wildcard/);
    const pending = await request(["c.warren.test", "*.c.warren.test"], "ACME_CHALLENGE_TYPE_DNS_01", { dnsCredentialId: credentialId });
    const ready = await settled(pending.id, (x) => x.status !== "CERTIFICATE_STATUS_PENDING", "DNS-01 issuance");
    assert.equal(ready.status, "CERTIFICATE_STATUS_READY", ready.lastError);
    for (const name of ["c.warren.test", "anything.c.warren.test"]) assert.equal(await verified(httpsPort, name, root), ready.sha256Fingerprint);
    assert.equal(cloudflare.calls.filter((x) => x.startsWith("POST")).length, 2, cloudflare.calls.join(", "));
    assert.equal(cloudflare.records.size, 0, "every TXT record deleted");
  });

  it("a challenge that cannot be answered: the error is recorded per certificate and retried with backoff from an hour", async () => {
    cloudflare.publish = false;
    try {
      const pending = await request(["d.warren.test"], "ACME_CHALLENGE_TYPE_DNS_01", { dnsCredentialId: credentialId });
      const failed = await settled(pending.id, (x) => x.status !== "CERTIFICATE_STATUS_PENDING", "the failed issuance");
      assert.equal(failed.status, "CERTIFICATE_STATUS_ERROR");
      assert.match(failed.lastError ?? "", /d\.warren\.test/);
      assert.equal(failed.failures, 1);
      const retryIn = Date.parse(failed.nextRenewalAt!) - Date.now();
      assert.ok(retryIn > 0.95 * HOUR && retryIn <= HOUR, `retry in ${retryIn} ms`);
      // Renew now: another attempt at once, and the backoff doubles.
      await call("TlsService/RenewCertificate", { id: pending.id });
      const again = await settled(pending.id, (x) => x.failures === 2 && x.status === "CERTIFICATE_STATUS_ERROR", "the second failure");
      const retry2 = Date.parse(again.nextRenewalAt!) - Date.now();
      assert.ok(retry2 > 1.95 * HOUR && retry2 <= 2 * HOUR, `retry in ${retry2} ms`);
      assert.notEqual(await verify(httpsPort, "d.warren.test", root).then((v) => (v.socket.destroy(), v.authorized)), true, "nothing trusted is served for it");
    } finally {
      cloudflare.publish = true;
    }
  });

  it("renews a short-lived certificate on its own and swaps it in under an open download; the CA down keeps the old one", async () => {
    const shortRoot = await shortPebble.rootPem();
    const pending = await request(["e.warren.test"], "ACME_CHALLENGE_TYPE_HTTP_01", {}, shortAccountId);
    const first = await settled(pending.id, (x) => x.status === "CERTIFICATE_STATUS_READY" || x.status === "CERTIFICATE_STATUS_ERROR", "the short-lived issuance");
    assert.equal(first.status, "CERTIFICATE_STATUS_READY", first.lastError);
    const lifetime = Date.parse(first.notAfter!) - Date.parse(first.notBefore!);
    assert.ok(lifetime < 60_000, `Pebble issued a ${lifetime} ms certificate`);

    // A download that started on the first certificate...
    const open = await verify(httpsPort, "e.warren.test", shortRoot);
    assert.equal(open.fp, first.sha256Fingerprint);
    const download = await openDownload(open.socket, "e.warren.test");

    // ...keeps going while the scheduler renews at two thirds of the life and the new one is served.
    const renewed = await settled(pending.id, (x) => x.sha256Fingerprint !== first.sha256Fingerprint && x.status === "CERTIFICATE_STATUS_READY", "the automatic renewal");
    assert.equal(await verified(httpsPort, "e.warren.test", shortRoot), renewed.sha256Fingerprint);
    origin.release();
    const received = await download.finished;
    assert.match(received, /^HTTP\/1\.1 200[\s\S]*first;[\s\S]*last/, "the open download finished on its original connection");

    // The CA goes away: the next renewal fails, is recorded, and the current certificate keeps serving.
    await shortPebble.stopCa();
    await call("TlsService/RenewCertificate", { id: pending.id });
    const failed = await settled(pending.id, (x) => x.status === "CERTIFICATE_STATUS_ERROR", "the failed renewal");
    assert.match(failed.lastError ?? "", /ECONNREFUSED|e\.warren\.test/);
    assert.equal(failed.sha256Fingerprint, renewed.sha256Fingerprint);
    const still = await verify(httpsPort, "e.warren.test", shortRoot);
    still.socket.destroy();
    assert.equal(still.fp, renewed.sha256Fingerprint, "the previous certificate is still served");
  });

  it("lists what it issued without key material", async () => {
    const r = await api.call("TlsService/ListCertificates", { listenerId }, c);
    assert.equal(r.status, 200);
    assert.ok(!r.text.includes("PRIVATE KEY"));
    const accounts = await api.call("TlsService/ListAcmeAccounts", {}, c);
    assert.ok(!accounts.text.includes("PRIVATE KEY"));
    assert.ok(!warren.w.allOutput().includes("PRIVATE KEY"), "no key in the logs");
  });
});
