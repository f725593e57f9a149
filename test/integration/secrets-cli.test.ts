import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, ROOT } from "../helpers/warren-process.ts";
import { openStore } from "../../management/store/index.ts";
import { Keyring, envelopeKeyId, keyIdOf } from "../../management/secrets/keyring.ts";
import { parseKey, readKeyFile } from "../../management/secrets/key-files.ts";

const CAPTCHA = "captcha-secret-for-the-cli";
const PLAIN = "left-in-clear-from-before";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "warren-secrets-cli-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function warren(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", CONFIG_DIR: dir, ...env }, encoding: "utf8" });
}

const storedKeyIds = () => {
  const store = openStore(join(dir, "warren.db"));
  try {
    return store.db.prepare<[], { v: string }>("SELECT secret_key AS v FROM captcha_providers ORDER BY id").all().map((r) => envelopeKeyId(r.v));
  } finally {
    store.close();
  }
};

describe("warren secrets", () => {
  it("generate-key prints a key, or writes it 0600 to a new file only", () => {
    const printed = warren(["secrets", "generate-key"]);
    assert.equal(printed.status, 0, printed.stderr);
    assert.equal(parseKey(printed.stdout)?.length, 32);
    assert.notEqual(warren(["secrets", "generate-key"]).stdout, printed.stdout);

    const file = join(dir, "a.key");
    const wrote = warren(["secrets", "generate-key", "--out", file]);
    assert.equal(wrote.status, 0, wrote.stderr);
    assert.match(wrote.stdout, /wrote a new secrets key to .*a\.key \(mode 600\)/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readKeyFile(file, "x").length, 32);
    assert.ok(!wrote.stdout.includes(readFileSync(file, "utf8").trim()), "the key is not printed when written");
    const again = warren(["secrets", "generate-key", "--out", file]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /exists; refusing to overwrite a key/);
  });

  it("rotate reseals everything with the new key and says how many", () => {
    const aFile = join(dir, "a.key");
    const a = readKeyFile(aFile, "x");
    const store = openStore(join(dir, "warren.db"), new Keyring(a));
    const now = Date.now();
    store.policy.insertCaptchaProvider({ id: "cap_1", name: "one", kind: "turnstile", spec: "{}", secret_key: CAPTCHA, created_at: now, updated_at: now });
    store.policy.insertCaptchaProvider({ id: "cap_2", name: "two", kind: "turnstile", spec: "{}", secret_key: `${CAPTCHA}-2`, created_at: now, updated_at: now });
    store.db.prepare("INSERT INTO captcha_providers (id, name, kind, spec, secret_key, created_at, updated_at) VALUES ('cap_3', 'three', 'turnstile', '{}', ?, 1, 1)").run(PLAIN);
    store.close();
    assert.deepEqual(storedKeyIds(), [keyIdOf(a), keyIdOf(a), undefined]);

    const bFile = join(dir, "b.key");
    assert.equal(warren(["secrets", "generate-key", "--out", bFile]).status, 0);
    const b = readKeyFile(bFile, "x");

    // Without the old key, nothing opens: a clear error naming the row and the key, and no change.
    const noOld = warren(["secrets", "rotate"], { SECRETS_ENCRYPTION_KEY_FILE: bFile });
    assert.equal(noOld.status, 2, noOld.stderr);
    assert.match(noOld.stderr, new RegExp(`^warren: captcha_providers:cap_1:secret_key: encrypted with key ${keyIdOf(a)}, which is neither the current key \\(${keyIdOf(b)}\\) nor in SECRETS_ENCRYPTION_PREVIOUS_KEYS`));
    assert.deepEqual(storedKeyIds(), [keyIdOf(a), keyIdOf(a), undefined]);

    const r = warren(["secrets", "rotate"], { SECRETS_ENCRYPTION_KEY_FILE: bFile, SECRETS_ENCRYPTION_PREVIOUS_KEYS: aFile });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^rewrapped 2 secret\\(s\\) with key ${keyIdOf(b)} \\(.*b\\.key\\); encrypted 1 stored in clear; 3 checked`));
    assert.deepEqual(storedKeyIds(), [keyIdOf(b), keyIdOf(b), keyIdOf(b)]);
    for (const out of [r.stdout, r.stderr, noOld.stderr]) assert.ok(!out.includes(CAPTCHA) && !out.includes(PLAIN));

    const reopened = openStore(join(dir, "warren.db"), new Keyring(b));
    try {
      assert.deepEqual(reopened.policy.captchaProviders().map((p) => [p.id, p.secret_key]), [["cap_1", CAPTCHA], ["cap_3", PLAIN], ["cap_2", `${CAPTCHA}-2`]]);
      assert.match(JSON.stringify(reopened.audit.recent(10)), /cli\/secrets rotate/);
    } finally {
      reopened.close();
    }
    const idle = warren(["secrets", "rotate"], { SECRETS_ENCRYPTION_KEY_FILE: bFile });
    assert.match(idle.stdout, /^rewrapped 0 secret\(s\)/);
  });

  it("rotate names what is missing", () => {
    const empty = mkdtempSync(join(tmpdir(), "warren-secrets-cli-empty-"));
    try {
      const noDb = warren(["secrets", "rotate"], { CONFIG_DIR: empty });
      assert.equal(noDb.status, 2);
      assert.match(noDb.stderr, /no database at /);
      const badKey = warren(["secrets", "rotate"], { SECRETS_ENCRYPTION_KEY_FILE: join(empty, "missing.key") });
      assert.equal(badKey.status, 2);
      assert.match(badKey.stderr, /^warren: SECRETS_ENCRYPTION_KEY_FILE: cannot read /);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
