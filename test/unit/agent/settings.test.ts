import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CertificateAuthority } from "../../../management/pki/index.ts";
import { SettingsError, loadAgentSettings, managementEndpoint, normalizeSha256 } from "../../../agent/settings.ts";

const ID = "agt_abcdefghijklmnop";
const SECRET = "s3cr3t-token-value";
let dir: string;
let caFile: string;
let caFingerprint: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "warren-agent-settings-"));
  const ca = await CertificateAuthority.generate({ commonName: "Agent Settings Test CA" });
  caFile = path.join(dir, "ca.pem");
  await writeFile(caFile, ca.certPem);
  await writeFile(path.join(dir, "garbage.pem"), "not a certificate\n");
  caFingerprint = ca.fingerprintSha256;
});
after(() => rm(dir, { recursive: true, force: true }));

const base = () => ({ MANAGEMENT_URL: "https://warren.example.com:8081", AGENT_TOKEN: `${ID}.${SECRET}`, MANAGEMENT_CA_FILE: caFile });

function bad(env: Record<string, string>, variable: string, match?: RegExp) {
  assert.throws(
    () => loadAgentSettings(env, dir),
    (e: unknown) => {
      assert.ok(e instanceof SettingsError, `expected SettingsError, got ${String(e)}`);
      assert.equal(e.variable, variable, e.message);
      assert.ok(e.message.startsWith(`${variable}`), e.message);
      assert.ok(!e.message.includes("\n"), "one line");
      assert.ok(!e.message.includes(SECRET), "never the token");
      if (match) assert.match(e.message, match);
      return true;
    },
  );
}

describe("agent settings", () => {
  it("reads a complete configuration with defaults", () => {
    const s = loadAgentSettings(base(), dir);
    assert.equal(s.managementUrl.href, "https://warren.example.com:8081/");
    assert.equal(s.agentId, ID);
    assert.equal(s.secret, SECRET);
    assert.equal(s.trust.kind, "ca");
    assert.equal(s.stateDir, path.join(dir, "agent-data"));
    assert.equal(s.allow, "all");
    assert.equal(s.logLevel, "info");
    assert.deepEqual(managementEndpoint(s.managementUrl), { host: "warren.example.com", port: 8081 });
  });

  it("keeps the secret out of serialisation", () => {
    const s = loadAgentSettings(base(), dir);
    assert.ok(!JSON.stringify(s).includes(SECRET));
    assert.ok(!Object.keys(s).includes("secret"));
  });

  it("accepts AGENT_ID + bare secret, and AGENT_ID equal to the token's id", () => {
    const s = loadAgentSettings({ ...base(), AGENT_ID: ID, AGENT_TOKEN: SECRET }, dir);
    assert.equal(s.agentId, ID);
    assert.equal(s.secret, SECRET);
    assert.equal(loadAgentSettings({ ...base(), AGENT_ID: ID }, dir).secret, SECRET);
  });

  it("accepts a pin in any common spelling", () => {
    const hex = caFingerprint.replace(/:/g, "");
    for (const spelling of [caFingerprint, caFingerprint.toUpperCase(), hex, hex.toUpperCase(), `sha256:${hex}`]) {
      const s = loadAgentSettings({ ...base(), MANAGEMENT_CA_FILE: "", MANAGEMENT_CA_SHA256: spelling }, dir);
      assert.deepEqual(s.trust, { kind: "pin", sha256: hex });
    }
    assert.equal(normalizeSha256("ab"), undefined);
    // Both set and agreeing: the file is used.
    assert.equal(loadAgentSettings({ ...base(), MANAGEMENT_CA_SHA256: caFingerprint }, dir).trust.kind, "ca");
  });

  it("allows http only with AGENT_ALLOW_INSECURE_MANAGEMENT=true, then needs no CA", () => {
    const s = loadAgentSettings({ MANAGEMENT_URL: "http://127.0.0.1:8081", AGENT_TOKEN: `${ID}.${SECRET}`, AGENT_ALLOW_INSECURE_MANAGEMENT: "true" }, dir);
    assert.equal(s.trust.kind, "insecure");
    assert.deepEqual(managementEndpoint(s.managementUrl), { host: "127.0.0.1", port: 8081 });
  });

  it("parses AGENT_ALLOW, AGENT_STATE_DIR and LOG_LEVEL", () => {
    const s = loadAgentSettings({ ...base(), AGENT_ALLOW: "127.0.0.1:9000, 10.0.0.0/8 ,*.internal:443", AGENT_STATE_DIR: "/var/lib/warren-agent", LOG_LEVEL: "DEBUG" }, dir);
    assert.ok(Array.isArray(s.allow));
    assert.deepEqual((s.allow as Array<{ text: string }>).map((r) => r.text), ["127.0.0.1:9000", "10.0.0.0/8", "*.internal:443"]);
    assert.equal(s.stateDir, "/var/lib/warren-agent");
    assert.equal(s.logLevel, "debug");
  });

  it("names the variable on every invalid value", () => {
    const { MANAGEMENT_URL: _u, ...noUrl } = base();
    bad(noUrl, "MANAGEMENT_URL", /required/);
    bad({ ...base(), MANAGEMENT_URL: "not a url" }, "MANAGEMENT_URL", /absolute URL/);
    bad({ ...base(), MANAGEMENT_URL: "ftp://warren.example.com" }, "MANAGEMENT_URL", /https/);
    bad({ ...base(), MANAGEMENT_URL: "http://warren.example.com" }, "MANAGEMENT_URL", /AGENT_ALLOW_INSECURE_MANAGEMENT/);
    bad({ ...base(), MANAGEMENT_URL: "https://user:pw@warren.example.com" }, "MANAGEMENT_URL", /credentials/);
    bad({ ...base(), AGENT_ALLOW_INSECURE_MANAGEMENT: "maybe" }, "AGENT_ALLOW_INSECURE_MANAGEMENT", /true or false/);

    const { AGENT_TOKEN: _t, ...noToken } = base();
    bad(noToken, "AGENT_TOKEN", /required/);
    bad({ ...base(), AGENT_TOKEN: SECRET }, "AGENT_TOKEN", /AGENT_ID/);
    bad({ ...base(), AGENT_TOKEN: `agt_short.${SECRET}`, AGENT_ID: ID }, "AGENT_TOKEN", /malformed/);
    bad({ ...base(), AGENT_TOKEN: `${ID}.${SECRET} x` }, "AGENT_TOKEN", /whitespace/);
    bad({ ...base(), AGENT_ID: "agent-1" }, "AGENT_ID", /agt_/);
    bad({ ...base(), AGENT_ID: "agt_zzzzzzzzzzzzzzzz" }, "AGENT_ID", /belongs to/);

    const { MANAGEMENT_CA_FILE: _c, ...noCa } = base();
    bad(noCa, "MANAGEMENT_CA_FILE", /MANAGEMENT_CA_SHA256/);
    bad({ ...base(), MANAGEMENT_CA_FILE: path.join(dir, "missing.pem") }, "MANAGEMENT_CA_FILE", /ENOENT/);
    bad({ ...base(), MANAGEMENT_CA_FILE: path.join(dir, "garbage.pem") }, "MANAGEMENT_CA_FILE", /no PEM certificate/);
    bad({ ...noCa, MANAGEMENT_CA_SHA256: "abcd" }, "MANAGEMENT_CA_SHA256", /64 hex/);
    bad({ ...base(), MANAGEMENT_CA_SHA256: "00".repeat(32) }, "MANAGEMENT_CA_SHA256", /matches no certificate/);

    bad({ ...base(), AGENT_ALLOW: "db.local" }, "AGENT_ALLOW", /db\.local:\*/);
    bad({ ...base(), AGENT_ALLOW: "10.0.0.0/33" }, "AGENT_ALLOW", /prefix/);
    bad({ ...base(), AGENT_ALLOW: "127.0.0.1:70000" }, "AGENT_ALLOW", /port/);
    bad({ ...base(), AGENT_ALLOW: "[::1:8080" }, "AGENT_ALLOW", /brackets|\[IPv6\]/);
    bad({ ...base(), AGENT_ALLOW: "[10.0.0.1]:80" }, "AGENT_ALLOW", /IPv6/);
    bad({ ...base(), AGENT_ALLOW: " , " }, "AGENT_ALLOW");
    bad({ ...base(), LOG_LEVEL: "loud" }, "LOG_LEVEL", /trace/);
  });
});
