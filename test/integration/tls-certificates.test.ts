// TlsService against a real `warren serve`: uploaded, file-backed and self-signed certificates are
// served by SNI on an HTTPS listener and swap in without closing an open connection; bad input gets
// a field-named invalid_argument and changes nothing; keys never come back and are sealed at rest.
// (ACME issuance against Pebble: acme-issuance.test.ts.)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { JsonApi, WarrenProcess } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";
import { openDownload, startSlowOrigin, type SlowOrigin } from "../helpers/open-download.ts";
import { pollUntil } from "../helpers/wait.ts";
import { CertificateAuthority } from "../../management/pki/index.ts";
import { generateSelfSigned } from "../../management/tls/self-signed.ts";
import { FALLBACK_NAME } from "../../management/tls/fallback-issuer.ts";

interface CertJson {
  id: string;
  listenerId: string;
  names: string[];
  source: string;
  status: string;
  lastError?: string;
  issuer?: string;
  notAfter?: string;
  sha256Fingerprint?: string;
  certificatePem?: string;
  certificateFile?: string;
}

const fp = (pem: string): string => new X509Certificate(pem).fingerprint256;

/** The served leaf's fingerprint for `servername`, and the socket (kept open when `keep`). */
function handshake(port: number, servername: string, ca?: string): Promise<{ fp: string; authorized: boolean; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false, ...(ca ? { ca } : {}), ALPNProtocols: ["http/1.1"] }, () =>
      resolve({ fp: socket.getPeerX509Certificate()!.fingerprint256, authorized: socket.authorized, socket }),
    );
    socket.once("error", reject);
  });
}

async function served(port: number, servername: string): Promise<string> {
  const h = await handshake(port, servername);
  h.socket.destroy();
  return h.fp;
}

describe("TlsService: uploaded, file-backed and self-signed certificates", () => {
  const warren = withWarren({ admin: true });
  let w: WarrenProcess;
  let api: JsonApi;
  let c: Record<string, string>;
  let listenerId: string;
  let httpListenerId: string;
  let port: number;
  let origin: SlowOrigin;
  let testCa: CertificateAuthority;
  let testCaPem: string;
  const dir = mkdtempSync(join(tmpdir(), "warren-tls-files-"));
  const secretsUsed: string[] = [];

  const call = async (proc: string, body: unknown) => {
    const r = await api.call(proc, body, c);
    assert.equal(r.status, 200, `${proc}: ${r.text}`);
    return r.json;
  };
  const refused = async (proc: string, body: unknown, field: RegExp, code = "invalid_argument") => {
    const r = await api.call(proc, body, c);
    assert.equal(r.json.code, code, `${proc}: ${r.text}`);
    assert.match(String(r.json.message), field);
    return String(r.json.message);
  };
  const certificates = async (): Promise<CertJson[]> => ((await call("TlsService/ListCertificates", { listenerId })).certificates as CertJson[] | undefined) ?? [];

  before(async () => {
    ({ w, api, admin: c } = warren);
    const mat = await CertificateAuthority.generate({ commonName: "Test Public CA" });
    testCa = await CertificateAuthority.fromPem(mat.certPem, mat.keyPem);
    testCaPem = mat.certPem;
    origin = await startSlowOrigin();
    const l = (await call("ProxyService/CreateListener", { spec: { name: "tls-store", bindAddress: "127.0.0.1", port: 0, enabled: true, protocol: "LISTENER_PROTOCOL_HTTPS" } })).listener as {
      id: string;
      status: { boundPort: number };
    };
    listenerId = l.id;
    port = l.status.boundPort;
    const cfg = await call("ProxyService/GetProxyConfig", {});
    httpListenerId = (cfg.listeners as { id: string; spec: { protocol: string } }[]).find((x) => x.spec.protocol === "LISTENER_PROTOCOL_HTTP")!.id;
    await call("ProxyService/CreateRoute", {
      spec: { listenerId, name: "all", pathPrefix: "/", action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url, enabled: true }] },
    });
  });
  after(async () => {
    await origin.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("flags a listener that serves the fallback, and serves it for unknown names", async () => {
    const tlsState = (await call("TlsService/ListListenerTls", {})).listeners as { listenerId: string; servesFallback?: boolean }[];
    assert.equal(tlsState.find((x) => x.listenerId === listenerId)?.servesFallback, true);
    const fallbackIssuer = readFileSync(join(w.configDir, "certs", "public-fallback", "ca.crt.pem"), "utf8");
    const h = await handshake(port, FALLBACK_NAME, fallbackIssuer);
    assert.equal(h.authorized, true);
    h.socket.destroy();
    assert.equal(new X509Certificate(fallbackIssuer).fingerprint256 === new X509Certificate(w.caPem).fingerprint256, false, "not the management CA");
  });

  it("serves an upload by SNI to a verifying client, and never returns its key", async () => {
    const leaf = await testCa.issueServerCertificate(["shop.test", "*.shop.test"]);
    secretsUsed.push(leaf.keyPem);
    const chain = `${leaf.certPem.trim()}\n${testCaPem}`;
    const r = await call("TlsService/UploadCertificate", { listenerId, certificatePem: chain, privateKeyPem: leaf.keyPem });
    const cert = r.certificate as CertJson;
    assert.equal(cert.status, "CERTIFICATE_STATUS_READY");
    assert.deepEqual(cert.names, ["shop.test", "*.shop.test"]);
    assert.equal(cert.source, "CERTIFICATE_SOURCE_UPLOAD");
    assert.match(cert.issuer ?? "", /Test Public CA/);
    assert.ok(!JSON.stringify(r).includes("PRIVATE KEY"));
    for (const name of ["shop.test", "www.shop.test"]) {
      const h = await handshake(port, name, testCaPem);
      assert.equal(h.authorized, true, `${name} verifies against the uploader's CA`);
      assert.equal(h.fp, fp(leaf.certPem));
      h.socket.destroy();
    }
    assert.notEqual(await served(port, "other.test"), fp(leaf.certPem), "other names still get the fallback");
    const listed = await certificates();
    assert.ok(listed.some((x) => x.id === cert.id));
    assert.ok(!JSON.stringify(listed).includes("PRIVATE KEY"));
  });

  it("refuses bad uploads with the field named, and changes nothing", async () => {
    const before = (await certificates()).length;
    const a = await testCa.issueServerCertificate(["bad.test"]);
    const b = await testCa.issueServerCertificate(["bad.test"]);
    await refused("TlsService/UploadCertificate", { listenerId, certificatePem: a.certPem, privateKeyPem: b.keyPem }, /^private_key_pem: does not match/);
    await refused("TlsService/UploadCertificate", { listenerId, certificatePem: `${testCaPem}\n${a.certPem}`, privateKeyPem: a.keyPem }, /^private_key_pem: does not match/);
    await refused("TlsService/UploadCertificate", { listenerId, certificatePem: "not a pem", privateKeyPem: a.keyPem }, /^certificate_pem: /);
    // Wrong order: the leaf, then a certificate that did not sign it.
    const other = await CertificateAuthority.generate({ commonName: "Unrelated CA" });
    await refused("TlsService/UploadCertificate", { listenerId, certificatePem: `${a.certPem.trim()}\n${other.certPem}`, privateKeyPem: a.keyPem }, /^certificate_pem: wrong chain order/);
    const old = await generateSelfSigned(["old.test"], 1, new Date(Date.now() - 5 * 86_400_000));
    await refused("TlsService/UploadCertificate", { listenerId, certificatePem: old.certPem, privateKeyPem: old.keyPem }, /^certificate_pem: has expired/);
    await refused("TlsService/UploadCertificate", { listenerId: httpListenerId, certificatePem: a.certPem, privateKeyPem: a.keyPem }, /^listener_id: .*HTTP/);
    await refused("TlsService/UploadCertificate", { listenerId: "lsn_nope", certificatePem: a.certPem, privateKeyPem: a.keyPem }, /^listener_id: no listener/, "not_found");
    assert.equal((await certificates()).length, before, "nothing was stored");
  });

  it("refuses names no ACME CA can issue, unknown DNS providers and missing terms", async () => {
    for (const [name, why] of [
      ["127.0.0.1", /IP address/],
      ["localhost", /single label|localhost/],
      ["intranet", /single label/],
      ["a.localhost", /localhost/],
      ["*.*.example.com", /wildcard/],
    ] as const) {
      await refused("TlsService/RequestAcmeCertificate", { listenerId, names: ["ok.example.com", name], acmeAccountId: "acc_x", challenge: "ACME_CHALLENGE_TYPE_HTTP_01" }, new RegExp(`^names\\[1\\]: .*${why.source}`));
    }
    await refused("TlsService/CreateDnsCredential", { spec: { name: "dns", provider: "DNS_PROVIDER_UNSPECIFIED", secret: "x" } }, /^spec\.provider: /);
    await refused("TlsService/CreateDnsCredential", { spec: { name: "dns", provider: 7, secret: "x" } }, /^spec\.provider: /);
    await refused("TlsService/CreateAcmeAccount", { directoryUrl: "https://acme.invalid/directory", email: "ops@example.com", agreeToTerms: false }, /^agree_to_terms: /);
    await refused("TlsService/CreateAcmeAccount", { directoryUrl: "http://acme.example/directory", email: "ops@example.com", agreeToTerms: true }, /^directory_url: .*https/);
    await refused("TlsService/CreateAcmeAccount", { directoryUrl: "https://acme.example/directory", email: "not-an-email", agreeToTerms: true }, /^email: /);
    await refused("TlsService/GenerateSelfSignedCertificate", { listenerId, names: ["a.test"], validDays: 4000 }, /^valid_days: /);
  });

  it("keeps DNS credential secrets write-only", async () => {
    const secret = "cf-token-3b0c1f5e-write-only";
    secretsUsed.push(secret);
    const created = (await call("TlsService/CreateDnsCredential", { spec: { name: "cf", provider: "DNS_PROVIDER_CLOUDFLARE", settings: { zone_id: "023e105f4ecef8ad9ca31a8372d0c353" }, secret } }))
      .credential as { id: string; secretSet?: boolean; spec: { secret?: string } };
    assert.equal(created.secretSet, true);
    assert.equal(created.spec.secret ?? "", "");
    const updated = (await call("TlsService/UpdateDnsCredential", { id: created.id, spec: { name: "cf-main", provider: "DNS_PROVIDER_CLOUDFLARE", settings: { zone_id: "023e105f4ecef8ad9ca31a8372d0c353" } } }))
      .credential as { secretSet?: boolean };
    assert.equal(updated.secretSet, true, "an empty secret keeps the stored one");
    const listed = await call("TlsService/ListDnsCredentials", {});
    assert.ok(!JSON.stringify(listed).includes(secret));
  });

  it("swaps a certificate in on upload without closing a connection mid-download", async () => {
    const first = await testCa.issueServerCertificate(["swap.test"], { validityDays: 300 });
    await call("TlsService/UploadCertificate", { listenerId, certificatePem: first.certPem, privateKeyPem: first.keyPem });
    const open = await handshake(port, "swap.test");
    assert.equal(open.fp, fp(first.certPem));
    const download = await openDownload(open.socket, "swap.test");
    // Newer but shorter-lived: the newest certificate wins.
    const second = await testCa.issueServerCertificate(["swap.test"], { validityDays: 100 });
    await call("TlsService/UploadCertificate", { listenerId, certificatePem: second.certPem, privateKeyPem: second.keyPem });
    assert.equal(await served(port, "swap.test"), fp(second.certPem), "new handshakes get the new certificate");
    origin.release();
    const received = await download.finished;
    assert.match(received, /^HTTP\/1\.1 200[\s\S]*first;[\s\S]*last/, "the open download finished on its connection");
  });

  it("serves a self-signed certificate generated on request", async () => {
    const r = (await call("TlsService/GenerateSelfSignedCertificate", { listenerId, names: ["Self.Test"], validDays: 10 })).certificate as CertJson;
    assert.equal(r.source, "CERTIFICATE_SOURCE_SELF_SIGNED");
    assert.deepEqual(r.names, ["self.test"]);
    const leaf = new X509Certificate(r.certificatePem!);
    assert.equal(leaf.issuer, leaf.subject, "signed by itself");
    assert.equal(leaf.checkIssued(new X509Certificate(w.caPem)), false);
    assert.equal(await served(port, "self.test"), leaf.fingerprint256);
  });

  it("reads certificate files, re-reads them when they change, and keeps the old one on a bad read", async () => {
    const certFile = join(dir, "site.crt");
    const keyFile = join(dir, "site.key");
    const one = await testCa.issueServerCertificate(["files.test"]);
    secretsUsed.push(one.keyPem);
    writeFileSync(certFile, one.certPem);
    writeFileSync(keyFile, one.keyPem);
    await refused("TlsService/AddCertificateFiles", { listenerId, certificateFile: "relative.crt", privateKeyFile: keyFile }, /^certificate_file: .*absolute/);
    await refused("TlsService/AddCertificateFiles", { listenerId, certificateFile: join(dir, "missing.crt"), privateKeyFile: keyFile }, /^certificate_file: cannot be read: ENOENT/);
    const cert = (await call("TlsService/AddCertificateFiles", { listenerId, certificateFile: certFile, privateKeyFile: keyFile })).certificate as CertJson;
    assert.equal(cert.source, "CERTIFICATE_SOURCE_FILES");
    assert.equal(await served(port, "files.test"), fp(one.certPem));

    // Replaced the way certbot and friends do it: new files renamed over the old ones.
    const two = await testCa.issueServerCertificate(["files.test"], { validityDays: 200 });
    writeFileSync(`${certFile}.new`, two.certPem);
    writeFileSync(`${keyFile}.new`, two.keyPem);
    renameSync(`${keyFile}.new`, keyFile);
    renameSync(`${certFile}.new`, certFile);
    await pollUntil("the re-read certificate to be served", () => served(port, "files.test"), (got) => got === fp(two.certPem), { timeoutMs: 30_000 });

    writeFileSync(certFile, "garbage");
    const broken = await pollUntil(
      "the bad read to be recorded",
      async () => ((await call("TlsService/GetCertificate", { id: cert.id })).certificate as CertJson),
      (x) => x.status === "CERTIFICATE_STATUS_ERROR",
      { timeoutMs: 30_000 },
    );
    assert.match(broken.lastError ?? "", /^certificate_file: /);
    assert.equal(await served(port, "files.test"), fp(two.certPem), "the previous certificate keeps serving");
    // RenewCertificate re-reads at once.
    writeFileSync(certFile, two.certPem);
    const renewed = (await call("TlsService/RenewCertificate", { id: cert.id })).certificate as CertJson;
    assert.equal(renewed.status, "CERTIFICATE_STATUS_READY");
  });

  it("deletes a certificate: its names fall back at once", async () => {
    const leaf = await testCa.issueServerCertificate(["gone.test"]);
    secretsUsed.push(leaf.keyPem);
    const cert = (await call("TlsService/UploadCertificate", { listenerId, certificatePem: leaf.certPem, privateKeyPem: leaf.keyPem })).certificate as CertJson;
    assert.equal(await served(port, "gone.test"), fp(leaf.certPem));
    await call("TlsService/DeleteCertificate", { id: cert.id });
    assert.notEqual(await served(port, "gone.test"), fp(leaf.certPem));
    await refused("TlsService/DeleteCertificate", { id: cert.id }, /^id: no certificate/, "not_found");
  });

  it("flags routes whose targets skip verifying the origin's certificate in GetProxyConfig's warnings", async () => {
    const target = (tlsSkipVerify: boolean) => [{ kind: "TARGET_KIND_DIRECT", url: "https://127.0.0.1:9", enabled: true, tlsSkipVerify }];
    const spec = (name: string, tlsSkipVerify: boolean) => ({ listenerId: httpListenerId, name, hosts: [`${name}.test`], action: "ROUTE_ACTION_FORWARD", targets: target(tlsSkipVerify) });
    const insecure = ((await call("ProxyService/CreateRoute", { spec: spec("skip-verify", true) })).route as { id: string }).id;
    const verified = ((await call("ProxyService/CreateRoute", { spec: spec("verified", false) })).route as { id: string }).id;
    const warnings = async () => ((await call("ProxyService/GetProxyConfig", {})).warnings ?? {}) as { tlsSkipVerifyRouteIds?: string[]; fallbackCertificateListenerIds?: string[] };
    const before = await warnings();
    assert.ok(before.tlsSkipVerifyRouteIds?.includes(insecure), JSON.stringify(before));
    assert.ok(!before.tlsSkipVerifyRouteIds?.includes(verified), "a verifying route is not flagged");
    // Fixed, the warning goes.
    await call("ProxyService/UpdateRoute", { id: insecure, spec: spec("skip-verify", false) });
    assert.ok(!(await warnings()).tlsSkipVerifyRouteIds?.includes(insecure));
    for (const id of [insecure, verified]) await call("ProxyService/DeleteRoute", { id });
  });

  it("keeps private keys and DNS secrets only sealed in the database", () => {
    const db = new Database(join(w.configDir, "warren.db"), { readonly: true });
    try {
      const dump = JSON.stringify([db.prepare("SELECT * FROM tls_certificates").all(), db.prepare("SELECT * FROM dns_credentials").all()]);
      for (const s of secretsUsed) {
        const needle = s.includes("PRIVATE KEY") ? s.split("\n")[1]!.slice(0, 40) : s;
        assert.ok(!dump.includes(needle), "a secret is in the database in clear");
      }
      assert.match(dump, /warren:enc:v1:/);
    } finally {
      db.close();
    }
  });

  it("never logged a private key or DNS secret it was given", async () => {
    await warren.stop();
    warren.assertNoSecretsLogged([...secretsUsed, warren.adminCookie]);
  });
});
