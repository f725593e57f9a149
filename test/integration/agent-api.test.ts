import { after, before, describe, it } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import type { IncomingMessage } from "node:http";
import { createKeyAndCsr } from "../../tunnel/csr.ts";
import type { JsonApi, WarrenProcess } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";
import { X509Certificate } from "node:crypto";
import { CertificateAuthority } from "../../management/pki/index.ts";

/** A raw request to the tunnel endpoint, as any HTTP client would send it. */
function tunnelRequest(
  w: WarrenProcess,
  headers: Record<string, string>,
  tls: { cert?: string; key?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(w.baseUrl);
    const req = httpsRequest({ host: u.hostname, port: u.port, path: "/agent/tunnel", method: "GET", headers, ca: w.caPem, ...tls, servername: "localhost" });
    const onRes = (res: IncomingMessage) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    };
    req.on("response", onRes);
    req.on("upgrade", (res: IncomingMessage, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: "" });
    });
    req.on("error", reject);
    req.end();
  });
}

const upgrade = (auth: string, version = "1") => ({
  connection: "Upgrade",
  upgrade: "warren-yamux",
  "warren-tunnel-version": version,
  authorization: auth,
});

describe("AgentService and the tunnel endpoint's refusals", () => {
  // An operator's own CA for agent client certificates (MANAGEMENT_TLS_CLIENT_CA_FILE), beside Warren's.
  const caDir = mkdtempSync(join(tmpdir(), "warren-client-ca-"));
  let operatorCa: CertificateAuthority;
  const warren = withWarren({
    admin: true,
    env: async () => {
      const mat = await CertificateAuthority.generate({ commonName: "Operator Agent CA" });
      operatorCa = await CertificateAuthority.fromPem(mat.certPem, mat.keyPem);
      writeFileSync(join(caDir, "agents-ca.pem"), mat.certPem);
      return { MANAGEMENT_TLS_CLIENT_CA_FILE: join(caDir, "agents-ca.pem") };
    },
  });
  let w: WarrenProcess;
  let api: JsonApi;
  let c: Record<string, string>;
  before(() => ({ w, api, admin: c } = warren));
  after(() => rmSync(caDir, { recursive: true, force: true }));

  it("creates an agent with a one-time token, system label and install snippets", async () => {
    const r = await api.call("AgentService/CreateAgent", { name: "edge-1", labels: { site: "fra", tier: "web" } }, c);
    assert.equal(r.status, 200, r.text);
    const agent = r.json.agent as { id: string; labels: Record<string, string>; enabled: boolean; status: { online?: boolean } };
    assert.match(agent.id, /^agt_[a-z2-7]{16}$/);
    assert.deepEqual(agent.labels, { site: "fra", tier: "web", "warren.io/agent-id": agent.id });
    assert.equal(agent.enabled, true);
    const token = String(r.json.token);
    assert.ok(token.startsWith(`${agent.id}.`));
    const install = r.json.install as Record<string, string>;
    const fp = String(w.logs.find((l) => l.msg === "management CA")!.caFingerprintSha256);
    for (const k of ["systemdUnit", "envFile", "composeService", "commandLine"] as const) {
      assert.ok(install[k]!.length > 0, k);
    }
    for (const k of ["envFile", "composeService", "commandLine"] as const) {
      assert.ok(install[k]!.includes(token), `${k} carries the token right after create`);
      assert.ok(install[k]!.includes(agent.id) && install[k]!.includes(fp), `${k} has the id and CA fingerprint`);
      assert.ok(install[k]!.includes("MANAGEMENT_URL"), k);
    }
    const later = await api.call("AgentService/GetInstallSnippet", { id: agent.id }, c);
    assert.ok(!later.text.includes(token.split(".")[1]!), "the token is not shown again");
    const got = await api.call("AgentService/GetAgent", { id: agent.id }, c);
    assert.ok(!got.text.includes(token.split(".")[1]!));
    assert.equal((got.json.agent as { status: { online?: boolean } }).status.online ?? false, false);
  });

  it("validates names and labels by field, and reserves warren.io/", async () => {
    const cases: [unknown, RegExp][] = [
      [{ name: "" }, /^name: is required/],
      [{ name: "bad/name" }, /^name: /],
      [{ name: "ok", labels: { "warren.io/x": "1" } }, /^labels\["warren.io\/x"\]: .*reserved/],
      [{ name: "ok", labels: { "bad key!": "1" } }, /^labels\["bad key!"\]: key/],
      [{ name: "ok", labels: { k: "bad value!" } }, /^labels\["k"\]: value/],
    ];
    for (const [body, re] of cases) {
      const r = await api.call("AgentService/CreateAgent", body, c);
      assert.equal(r.json.code, "invalid_argument", r.text);
      assert.match(String(r.json.message), re);
    }
    const dup = await api.call("AgentService/CreateAgent", { name: "edge-1" }, c);
    assert.equal(dup.json.code, "already_exists");
  });

  it("answers 401, 403, 400, 426 in that order", async () => {
    const r = await api.call("AgentService/CreateAgent", { name: "order", requireMtls: true }, c);
    const id = String((r.json.agent as { id: string }).id);
    const token = String(r.json.token);
    // 401 first: wrong token, even when everything else is wrong too.
    assert.equal((await tunnelRequest(w, upgrade(`Bearer ${id}.wrong`, "9"))).status, 401);
    assert.equal((await tunnelRequest(w, upgrade("Bearer nonsense"))).status, 401);
    assert.equal((await tunnelRequest(w, { authorization: `Bearer ${id}.wrong` })).status, 401);
    // 403: mTLS required, no certificate; before the upgrade and version checks.
    const noCert = await tunnelRequest(w, upgrade(`Bearer ${token}`, "9"));
    assert.equal(noCert.status, 403);
    assert.match(noCert.body, /requires mTLS: no client certificate/);
    assert.equal((await tunnelRequest(w, { authorization: `Bearer ${token}` })).status, 403);
    // Enroll, then the certificate gets past 403 to 400 / 426.
    const { keyPem, csrPem } = await createKeyAndCsr({ commonName: id });
    const enrolled = await api.call("AgentService/Enroll", { csrPem }, { authorization: `Bearer ${token}` });
    assert.equal(enrolled.status, 200, enrolled.text);
    const certPem = String(enrolled.json.certificatePem);
    const x = new X509Certificate(certPem);
    assert.equal(x.subjectAltName, `URI:spiffe://warren/agent/${id}`);
    const days = (Date.parse(x.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 89 && days <= 90.01, `90-day certificate, got ${days}`);
    const tls = { cert: certPem, key: keyPem };
    assert.equal((await tunnelRequest(w, { authorization: `Bearer ${token}` }, tls)).status, 400);
    assert.equal((await tunnelRequest(w, { ...upgrade(`Bearer ${token}`), upgrade: "websocket" }, tls)).status, 400);
    assert.equal((await tunnelRequest(w, upgrade(`Bearer ${token}`, "2"), tls)).status, 426);
    // A certificate from the agent is no use to another agent.
    const other = await api.call("AgentService/CreateAgent", { name: "other", requireMtls: true }, c);
    assert.equal((await tunnelRequest(w, upgrade(`Bearer ${String(other.json.token)}`), tls)).status, 403);
    // Rotating the token revokes the certificate: 401 for the old token, 403 for the new one with the old cert.
    const rotated = await api.call("AgentService/RotateAgentToken", { id }, c);
    assert.equal((await tunnelRequest(w, upgrade(`Bearer ${token}`), tls)).status, 401);
    const revoked = await tunnelRequest(w, upgrade(`Bearer ${String(rotated.json.token)}`), tls);
    assert.equal(revoked.status, 403);
    assert.match(revoked.body, /revoked/);
    // A disabled agent is 401, like a wrong token.
    await api.call("AgentService/UpdateAgent", { id, enabled: false }, c);
    assert.equal((await tunnelRequest(w, upgrade(`Bearer ${String(rotated.json.token)}`))).status, 401);
    const enrollDisabled = await api.call("AgentService/Enroll", { csrPem }, { authorization: `Bearer ${String(rotated.json.token)}` });
    assert.equal(enrollDisabled.json.code, "unauthenticated");
  });

  it("require_mtls: accepts a certificate from MANAGEMENT_TLS_CLIENT_CA_FILE naming the agent, nothing else", async () => {
    const r = await api.call("AgentService/CreateAgent", { name: "operator-ca", requireMtls: true }, c);
    const id = String((r.json.agent as { id: string }).id);
    const auth = upgrade(`Bearer ${String(r.json.token)}`, "2");
    const certFor = async (ca: CertificateAuthority, agentId: string) => {
      const { keyPem, csrPem } = await createKeyAndCsr({ commonName: agentId });
      const { certPem } = await ca.signClientCsr({ csrPem, uriSan: `spiffe://warren/agent/${agentId}`, validityDays: 30 });
      return { cert: certPem, key: keyPem };
    };
    // The operator CA's certificate for this agent gets past the mTLS check (to the version check: 426).
    assert.equal((await tunnelRequest(w, auth, await certFor(operatorCa, id))).status, 426);
    // Its certificate for another identity, and one from a CA nobody configured, do not (403).
    const other = await tunnelRequest(w, auth, await certFor(operatorCa, "agt_someoneelse00000"));
    assert.equal(other.status, 403);
    assert.match(other.body, /another identity/);
    const rogueCa = await CertificateAuthority.generate({ commonName: "Rogue CA" });
    const rogue = await tunnelRequest(w, auth, await certFor(await CertificateAuthority.fromPem(rogueCa.certPem, rogueCa.keyPem), id));
    assert.equal(rogue.status, 403);
    assert.match(rogue.body, /not trusted/);
  });

  it("refuses bad CSRs and unauthenticated enrollment", async () => {
    const r = await api.call("AgentService/CreateAgent", { name: "csr" }, c);
    const auth = { authorization: `Bearer ${String(r.json.token)}` };
    const empty = await api.call("AgentService/Enroll", { csrPem: "" }, auth);
    assert.match(String(empty.json.message), /^csr_pem: is required/);
    const junk = await api.call("AgentService/Enroll", { csrPem: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----" }, auth);
    assert.equal(junk.json.code, "invalid_argument", junk.text);
    assert.match(String(junk.json.message), /^csr_pem: /);
    const anon = await api.call("AgentService/Enroll", { csrPem: "x" });
    assert.equal(anon.json.code, "unauthenticated");
    const userToken = await api.call("AgentService/Enroll", { csrPem: "x" }, c);
    assert.equal(userToken.json.code, "unauthenticated", "a user session is not an agent");
  });

  it("updates labels only with replace_labels and deletes an offline agent", async () => {
    const r = await api.call("AgentService/CreateAgent", { name: "temp", labels: { a: "1" } }, c);
    const id = String((r.json.agent as { id: string }).id);
    const noReplace = await api.call("AgentService/UpdateAgent", { id, labels: { b: "2" } }, c);
    assert.match(String(noReplace.json.message), /^replace_labels: /);
    const upd = await api.call("AgentService/UpdateAgent", { id, replaceLabels: true, labels: { b: "2" }, name: "temp-2" }, c);
    assert.deepEqual((upd.json.agent as { labels: Record<string, string> }).labels, { b: "2", "warren.io/agent-id": id });
    const list = await api.call("AgentService/ListAgents", {}, c);
    assert.ok((list.json.agents as { name: string }[]).some((a) => a.name === "temp-2"));
    assert.equal((await api.call("AgentService/DeleteAgent", { id }, c)).status, 200);
    assert.equal((await api.call("AgentService/GetAgent", { id }, c)).json.code, "not_found");
  });
});
