import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { openStore, type Store } from "../../../management/store/index.ts";
import { Keyring, envelopeKeyId } from "../../../management/secrets/keyring.ts";
import { SecretError } from "../../../management/secrets/errors.ts";
import { reconcileSecrets } from "../../../management/secrets/reconcile.ts";
import { policyKey } from "../../../management/config/seed.ts";

const CAPTCHA_SECRET = "0x4AAAAAAA-captcha-secret";
const TLS_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvAIBADANBgkqhkiG9w0BAQEFAASC-not-a-real-key\n-----END PRIVATE KEY-----\n";
const HEADER_SECRET = "Bearer origin-token-123";
const PUBLIC_HEADER = "public-value-456";

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "warren-secrets-store-"));
  path = join(dir, "warren.db");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function routeSpec(listenerId: string, value = HEADER_SECRET): string {
  return JSON.stringify({
    listenerId,
    name: "r",
    pathPrefix: "/",
    action: "ROUTE_ACTION_FORWARD",
    targets: [
      {
        id: "tgt_a",
        url: "http://127.0.0.1:1",
        headers: [
          { name: "Authorization", value, sensitive: true },
          { name: "x-plain", value: PUBLIC_HEADER },
        ],
      },
    ],
  });
}

function fill(store: Store): void {
  const now = Date.now();
  store.policy.insertCaptchaProvider({ id: "cap_x", name: "c", kind: "turnstile", spec: "{}", secret_key: CAPTCHA_SECRET, created_at: now, updated_at: now });
  store.proxy.insertListener({ id: "lsn_x", name: "l", bind_address: "", port: 0, protocol: "https", enabled: 1, accept_proxy_protocol: 0, tls_cert_pem: "CERT", tls_key_pem: TLS_KEY, tls_min_version: "1.2", http2: 0, created_at: now, updated_at: now });
  store.proxy.insertRoute({ id: "rte_x", listener_id: "lsn_x", name: "r", priority: 0, is_default: 0, spec: routeSpec("lsn_x"), created_at: now, updated_at: now });
}

/** The stored bytes of every secret, bypassing the repositories. */
function raw(store: Store) {
  const db = store.db;
  return {
    captcha: db.prepare<[], { v: string }>("SELECT secret_key AS v FROM captcha_providers WHERE id = 'cap_x'").get()!.v,
    tlsKey: db.prepare<[], { v: string }>("SELECT tls_key_pem AS v FROM listeners WHERE id = 'lsn_x'").get()!.v,
    spec: db.prepare<[], { v: string }>("SELECT spec AS v FROM routes WHERE id = 'rte_x'").get()!.v,
    policyKey: db.prepare<[], { v: string }>("SELECT value AS v FROM meta WHERE key = 'policy_hmac_key'").get()?.v,
  };
}
const headerOf = (spec: string) => (JSON.parse(spec) as { targets: { headers: { value: string }[] }[] }).targets[0]!.headers[0]!.value;

describe("secrets at the store boundary", () => {
  it("seals on write, opens on read, and leaves everything else alone", () => {
    const keyring = new Keyring(randomBytes(32));
    const store = openStore(path, keyring);
    try {
      fill(store);
      const key = policyKey(store);
      assert.equal(store.policy.captchaProvider("cap_x")!.secret_key, CAPTCHA_SECRET);
      assert.equal(store.policy.captchaProviders()[0]!.secret_key, CAPTCHA_SECRET);
      assert.equal(store.policy.captchaProviderByName("c")!.secret_key, CAPTCHA_SECRET);
      assert.equal(store.proxy.listener("lsn_x")!.tls_key_pem, TLS_KEY);
      assert.equal(store.proxy.listeners().find((l) => l.id === "lsn_x")!.tls_key_pem, TLS_KEY);
      assert.equal(store.proxy.route("rte_x")!.spec, routeSpec("lsn_x"));
      assert.equal(store.proxy.routes()[0]!.spec, routeSpec("lsn_x"));
      assert.deepEqual(policyKey(store), key);

      const r = raw(store);
      for (const v of [r.captcha, r.tlsKey, headerOf(r.spec), r.policyKey!]) assert.equal(envelopeKeyId(v), keyring.currentKeyId, v.slice(0, 20));
      assert.ok(r.spec.includes(PUBLIC_HEADER), "headers not marked sensitive stay readable");
      assert.ok(!r.spec.includes("origin-token"));
      assert.ok(!r.policyKey!.includes(key.toString("base64")));
    } finally {
      store.close();
    }
  });

  it("refuses a ciphertext copied to another row", () => {
    const store = openStore(path, new Keyring(randomBytes(32)));
    try {
      fill(store);
      const now = Date.now();
      store.policy.insertCaptchaProvider({ id: "cap_y", name: "d", kind: "turnstile", spec: "{}", secret_key: "other", created_at: now, updated_at: now });
      store.db.prepare("UPDATE captcha_providers SET secret_key = ? WHERE id = 'cap_y'").run(raw(store).captcha);
      assert.throws(() => store.policy.captchaProvider("cap_y"), (e: unknown) => e instanceof SecretError && e.code === "secret_decrypt_failed" && /^captcha_providers:cap_y:secret_key: /.test(e.message));
      // The listener's key pasted into a route header: another purpose, refused too.
      store.db.prepare("UPDATE routes SET spec = ? WHERE id = 'rte_x'").run(routeSpec("lsn_x", raw(store).tlsKey));
      assert.throws(() => store.proxy.route("rte_x"), (e: unknown) => e instanceof SecretError && /routes:rte_x:target:tgt_a:header:authorization/.test(e.message));
    } finally {
      store.close();
    }
  });

  it("without a keyring, refuses to read or write a secret (plaintext rows still read)", () => {
    const sealed = openStore(path, new Keyring(randomBytes(32)));
    fill(sealed);
    sealed.close();
    const store = openStore(path);
    try {
      assert.throws(() => store.policy.captchaProvider("cap_x"), (e: unknown) => e instanceof SecretError && e.code === "secret_unknown_key");
      const now = Date.now();
      assert.throws(() => store.policy.insertCaptchaProvider({ id: "cap_z", name: "z", kind: "turnstile", spec: "{}", secret_key: "s", created_at: now, updated_at: now }), SecretError);
      assert.equal(store.users.count(), 0, "everything else works");
    } finally {
      store.close();
    }
  });
});

describe("reconciling secrets", () => {
  it("encrypts plaintext from before, then rewraps a previous key's, in place", () => {
    const oldKey = randomBytes(32);
    const plain = openStore(path);
    const now = Date.now();
    // A database from before encryption at rest: every secret in clear.
    plain.db.prepare("INSERT INTO captcha_providers (id, name, kind, spec, secret_key, created_at, updated_at) VALUES ('cap_x', 'c', 'turnstile', '{}', ?, 1, 1)").run(CAPTCHA_SECRET);
    plain.db.prepare("INSERT INTO listeners (id, name, port, protocol, tls_cert_pem, tls_key_pem, created_at, updated_at) VALUES ('lsn_x', 'l', 0, 'https', 'CERT', ?, 1, 1)").run(TLS_KEY);
    plain.db.prepare("INSERT INTO routes (id, listener_id, spec, created_at, updated_at) VALUES ('rte_x', 'lsn_x', ?, 1, ?)").run(routeSpec("lsn_x"), now);
    const policy = randomBytes(32).toString("base64");
    plain.proxy.setMeta("policy_hmac_key", policy);
    plain.close();

    const first = new Keyring(oldKey);
    let store = openStore(path, first);
    assert.deepEqual(reconcileSecrets(store.db, first), { checked: 4, encrypted: 4, rewrapped: 0 });
    let r = raw(store);
    for (const v of [r.captcha, r.tlsKey, headerOf(r.spec), r.policyKey!]) assert.equal(envelopeKeyId(v), first.currentKeyId);
    assert.equal(store.db.prepare<[], { t: number }>("SELECT updated_at AS t FROM routes").get()!.t, now, "not an edit");
    assert.deepEqual(reconcileSecrets(store.db, first), { checked: 4, encrypted: 0, rewrapped: 0 }, "idempotent");
    store.close();

    const rotated = new Keyring(randomBytes(32), [oldKey]);
    store = openStore(path, rotated);
    assert.deepEqual(reconcileSecrets(store.db, rotated), { checked: 4, encrypted: 0, rewrapped: 4 });
    r = raw(store);
    for (const v of [r.captcha, r.tlsKey, headerOf(r.spec), r.policyKey!]) assert.equal(envelopeKeyId(v), rotated.currentKeyId);
    assert.equal(store.policy.captchaProvider("cap_x")!.secret_key, CAPTCHA_SECRET);
    assert.equal(store.proxy.listener("lsn_x")!.tls_key_pem, TLS_KEY);
    assert.equal(headerOf(store.proxy.route("rte_x")!.spec), HEADER_SECRET);
    assert.equal(store.proxy.secretMeta("policy_hmac_key"), policy);
    store.close();
  });

  it("stops on a value it cannot open, naming the row, and writes nothing", () => {
    const a = new Keyring(randomBytes(32));
    let store = openStore(path, a);
    fill(store);
    store.db.prepare("INSERT INTO captcha_providers (id, name, kind, spec, secret_key, created_at, updated_at) VALUES ('cap_p', 'p', 'turnstile', '{}', 'plain', 1, 1)").run();
    store.close();
    const stranger = new Keyring(randomBytes(32));
    store = openStore(path, stranger);
    try {
      const before = raw(store);
      assert.throws(
        () => reconcileSecrets(store.db, stranger),
        (e: unknown) => e instanceof SecretError && e.code === "secret_unknown_key" && e.message.startsWith("captcha_providers:cap_x:secret_key: encrypted with key ") && !e.message.includes(CAPTCHA_SECRET),
      );
      assert.deepEqual(raw(store), before);
      assert.equal(store.db.prepare<[], { v: string }>("SELECT secret_key AS v FROM captcha_providers WHERE id = 'cap_p'").get()!.v, "plain", "rolled back");
    } finally {
      store.close();
    }
  });
});
