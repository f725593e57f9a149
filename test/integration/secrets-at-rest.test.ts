// Issue 13 §2: credentials are sealed in warren.db, so a copy of the database alone reveals none.
// A real `warren serve` stores a captcha secret, an uploaded TLS key and a sensitive target header
// through the API; the file bytes (and the WAL) are then searched for them, the server restarts and
// still uses them, a database from before encryption is sealed at start, and a secret that does not
// open stops start-up naming its row.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { ADMIN_PASSWORD, BIN, ROOT } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { openServerStore, serverKeyring } from "../helpers/open-store.ts";
import { CertificateAuthority } from "../../management/pki/index.ts";
import { ENVELOPE_PREFIX, envelopeKeyId } from "../../management/secrets/keyring.ts";

const CAPTCHA_SECRET = "captcha-secret-9a8b7c6d5e4f";
const HEADER_SECRET = "origin-api-key-1f2e3d4c5b6a";
const LEGACY_CAPTCHA = "legacy-plaintext-captcha-0c1d2e";

interface ListenerJson {
  id: string;
  status: { state: string; boundPort?: number };
}

function httpsGet(port: number, host: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port, path: "/", servername: host, ca, agent: false, headers: { host } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The database file and its WAL, as a thief copying CONFIG_DIR's warren.db* would get them. */
function dbBytes(configDir: string): Buffer {
  const files = ["warren.db", "warren.db-wal"].map((f) => join(configDir, f)).filter((f) => existsSync(f));
  return Buffer.concat(files.map((f) => readFileSync(f)));
}

/** Every stored secret, read with SQL and no key. */
function storedSecrets(configDir: string): { where: string; value: string }[] {
  const db = new Database(join(configDir, "warren.db"), { readonly: true });
  try {
    const out: { where: string; value: string }[] = [];
    for (const r of db.prepare("SELECT id, secret_key FROM captcha_providers").all() as { id: string; secret_key: string }[]) out.push({ where: `captcha ${r.id}`, value: r.secret_key });
    for (const r of db.prepare("SELECT id, tls_key_pem FROM listeners WHERE tls_key_pem != ''").all() as { id: string; tls_key_pem: string }[]) out.push({ where: `listener ${r.id}`, value: r.tls_key_pem });
    for (const r of db.prepare("SELECT id, spec FROM routes").all() as { id: string; spec: string }[]) {
      const spec = JSON.parse(r.spec) as { targets?: { headers?: { name: string; value: string; sensitive?: boolean }[] }[] };
      for (const t of spec.targets ?? []) for (const h of t.headers ?? []) if (h.sensitive) out.push({ where: `route ${r.id} header ${h.name}`, value: h.value });
    }
    const pk = db.prepare("SELECT value FROM meta WHERE key = 'policy_hmac_key'").get() as { value: string } | undefined;
    if (pk) out.push({ where: "meta policy_hmac_key", value: pk.value });
    return out;
  } finally {
    db.close();
  }
}

describe("secrets at rest (issue 13 §2)", () => {
  const warren = withWarren({ admin: true });
  let origin: Origin;
  let ca: { certPem: string; keyPem: string };
  let leafKeyPem: string;
  let listenerId: string;
  let captchaId: string;

  before(async () => {
    origin = await startOrigin("secret-origin");
    const mat = await CertificateAuthority.generate({ commonName: "Secrets Test CA" });
    ca = mat;
    const leaf = await (await CertificateAuthority.fromPem(mat.certPem, mat.keyPem)).issueServerCertificate(["secret.test"]);
    leafKeyPem = leaf.keyPem;
    const call = async (proc: string, body: unknown) => {
      const r = await warren.api.call(proc, body, warren.admin);
      assert.equal(r.status, 200, `${proc}: ${r.text}`);
      return r.json;
    };
    captchaId = String(
      ((await call("PolicyService/CreateCaptchaProvider", { spec: { name: "turnstile", kind: "CAPTCHA_KIND_TURNSTILE", siteKey: "0x4AAAAAAAsitekey", secretKey: CAPTCHA_SECRET } })).provider as { id: string }).id,
    );
    const l = (await call("ProxyService/CreateListener", {
      spec: { name: "tls-secret", bindAddress: "127.0.0.1", port: 0, enabled: true, protocol: "LISTENER_PROTOCOL_HTTPS", tlsCertificatePem: leaf.certPem, tlsPrivateKeyPem: leaf.keyPem },
    })).listener as ListenerJson;
    listenerId = l.id;
    await call("ProxyService/CreateRoute", {
      spec: {
        listenerId,
        name: "sensitive",
        hosts: ["secret.test"],
        action: "ROUTE_ACTION_FORWARD",
        targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url, enabled: true, headers: [{ name: "X-Api-Key", value: HEADER_SECRET, sensitive: true }] }],
      },
    });
  });
  after(() => origin?.close());

  const boundPort = async () => {
    const r = await warren.api.call("ProxyService/GetProxyConfig", {}, warren.admin);
    const l = (r.json.listeners as ListenerJson[]).find((x) => x.id === listenerId)!;
    assert.equal(l.status.state, "LISTENER_STATE_RUNNING");
    return l.status.boundPort!;
  };
  /** The uploaded key serves TLS and the sensitive header reaches the origin. */
  const assertSecretsWork = async () => {
    const before = origin.seen.length;
    const r = await httpsGet(await boundPort(), "secret.test", ca.certPem);
    assert.equal(r.status, 200, r.body);
    assert.equal(origin.seen[before]?.headers["x-api-key"], HEADER_SECRET);
  };

  it("a copy of warren.db (and its WAL) reveals no credential; a restart still uses them all", async () => {
    await assertSecretsWork();
    await warren.stop();

    const store = openServerStore(warren.configDir);
    let policyKey: string;
    try {
      policyKey = store.proxy.secretMeta("policy_hmac_key")!;
      assert.equal(store.policy.captchaProvider(captchaId)!.secret_key, CAPTCHA_SECRET, "the key opens it");
      assert.equal(store.proxy.listener(listenerId)!.tls_key_pem, leafKeyPem);
    } finally {
      store.close();
    }
    assert.equal(Buffer.from(policyKey, "base64").length, 32);

    const bytes = dbBytes(warren.configDir);
    const keyBody = leafKeyPem.split("\n").filter((l) => l && !l.startsWith("-----"));
    const needles: [string, Buffer][] = [
      ["captcha secret", Buffer.from(CAPTCHA_SECRET)],
      ["target header secret", Buffer.from(HEADER_SECRET)],
      ["policy key (base64)", Buffer.from(policyKey)],
      ["policy key (bytes)", Buffer.from(policyKey, "base64")],
      ["TLS key PEM header", Buffer.from("PRIVATE KEY")],
      ...keyBody.map((line, i): [string, Buffer] => [`TLS key line ${i}`, Buffer.from(line)]),
      ["TLS key (DER)", Buffer.from(keyBody.join(""), "base64").subarray(0, 48)],
    ];
    for (const [what, needle] of needles) assert.equal(bytes.indexOf(needle), -1, `${what} is in the database file`);

    const secrets = storedSecrets(warren.configDir);
    assert.deepEqual(secrets.map((s) => s.where.split(" ")[0]).sort(), ["captcha", "listener", "meta", "route"]);
    const keyId = serverKeyring(warren.configDir).currentKeyId;
    for (const s of secrets) {
      assert.ok(s.value.startsWith(ENVELOPE_PREFIX), `${s.where} is sealed`);
      assert.equal(envelopeKeyId(s.value), keyId, `${s.where} names the current key`);
    }

    await warren.start();
    await assertSecretsWork();
    const checked = warren.w.logs.find((l) => l.msg === "secrets at rest checked");
    assert.deepEqual([checked?.checked, checked?.encrypted, checked?.rewrapped], [4, 0, 0]);
    assert.ok(!warren.w.allOutput().includes(readFileSync(join(warren.configDir, "secrets.key"), "utf8").trim()), "the key is never logged");
  });

  it("seals secrets left in clear by an older version at start, and they keep working", async () => {
    await warren.stop();
    const db = new Database(join(warren.configDir, "warren.db"));
    try {
      db.prepare("UPDATE captcha_providers SET secret_key = ? WHERE id = ?").run(LEGACY_CAPTCHA, captchaId);
      db.prepare("UPDATE listeners SET tls_key_pem = ? WHERE id = ?").run(leafKeyPem, listenerId);
      const row = db.prepare("SELECT id, spec FROM routes WHERE name = 'sensitive'").get() as { id: string; spec: string };
      const spec = JSON.parse(row.spec) as { targets: { headers: { value: string }[] }[] };
      spec.targets[0]!.headers[0]!.value = HEADER_SECRET;
      db.prepare("UPDATE routes SET spec = ? WHERE id = ?").run(JSON.stringify(spec), row.id);
    } finally {
      db.close();
    }
    assert.equal(storedSecrets(warren.configDir).filter((s) => !s.value.startsWith(ENVELOPE_PREFIX)).length, 3);

    await warren.start();
    const checked = warren.w.logs.find((l) => l.msg === "secrets at rest checked");
    assert.deepEqual([checked?.checked, checked?.encrypted, checked?.rewrapped], [4, 3, 0]);
    await assertSecretsWork();
    for (const s of storedSecrets(warren.configDir)) assert.ok(s.value.startsWith(ENVELOPE_PREFIX), `${s.where} is sealed`);
    const store = openServerStore(warren.configDir);
    try {
      assert.equal(store.policy.captchaProvider(captchaId)!.secret_key, LEGACY_CAPTCHA);
    } finally {
      store.close();
    }
  });

  it("stops start-up naming the row when a secret does not open (copied from another row)", async () => {
    await warren.stop();
    const db = new Database(join(warren.configDir, "warren.db"));
    try {
      const sealed = (db.prepare("SELECT secret_key FROM captcha_providers WHERE id = ?").get(captchaId) as { secret_key: string }).secret_key;
      db.prepare("UPDATE listeners SET tls_key_pem = ? WHERE id = ?").run(sealed, listenerId);
    } finally {
      db.close();
    }
    const r = spawnSync(process.execPath, [BIN, "serve"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", CONFIG_DIR: warren.configDir, MANAGEMENT_PORT: "0", MANAGEMENT_BIND_ADDRESS: "127.0.0.1", PUBLIC_HTTP_PORT: "0" },
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.status, 2, `exit ${r.status} ${r.signal}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`warren: cannot start: stored secret listeners:${listenerId}:tls_key_pem: authentication failed`));
    assert.ok(!r.stderr.includes(LEGACY_CAPTCHA) && !r.stdout.includes(LEGACY_CAPTCHA));
  });

  it("never logged a secret it used, in any run of the server", async () => {
    await warren.stop();
    const store = openServerStore(warren.configDir);
    let policyKey: string;
    try {
      policyKey = store.proxy.secretMeta("policy_hmac_key")!;
    } finally {
      store.close();
    }
    const encryptionKey = readFileSync(join(warren.configDir, "secrets.key"), "utf8").trim();
    warren.assertNoSecretsLogged([CAPTCHA_SECRET, HEADER_SECRET, LEGACY_CAPTCHA, leafKeyPem, policyKey, encryptionKey, ADMIN_PASSWORD, warren.adminCookie]);
  });
});
