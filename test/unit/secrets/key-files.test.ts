import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { SettingsError } from "../../../lib/env.ts";
import { generateKeyText, loadSecretsSettings, openKeyring, parseKey } from "../../../management/secrets/key-files.ts";
import { keyIdOf } from "../../../management/secrets/keyring.ts";
import { loadManagementSettings } from "../../../management/settings/management-settings.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "warren-keys-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, text: string, mode = 0o600): string {
  const f = join(dir, name);
  writeFileSync(f, text, { mode });
  chmodSync(f, mode);
  return f;
}

const bad = (env: Record<string, string>, variable: string, pattern: RegExp) =>
  assert.throws(() => loadSecretsSettings(env, dir), (e: unknown) => e instanceof SettingsError && e.variable === variable && pattern.test(e.message));

describe("secrets key files", () => {
  it("parses base64 and base64url of exactly 32 bytes only", () => {
    const key = randomBytes(32);
    assert.deepEqual(parseKey(key.toString("base64")), key);
    assert.deepEqual(parseKey(`${key.toString("base64url")}\n`), key);
    assert.equal(parseKey(randomBytes(31).toString("base64")), undefined);
    assert.equal(parseKey(randomBytes(33).toString("base64")), undefined);
    assert.equal(parseKey("not a key"), undefined);
    assert.equal(parseKey(generateKeyText())?.length, 32);
  });

  it("reads SECRETS_ENCRYPTION_KEY_FILE (relative to cwd) and refuses bad files naming the variable", () => {
    const text = generateKeyText();
    keyFile("k", `${text}\n`);
    const s = loadSecretsSettings({ SECRETS_ENCRYPTION_KEY_FILE: "k" }, dir);
    assert.equal(s.keyFile, join(dir, "k"));
    assert.deepEqual(s.key, parseKey(text));
    bad({ SECRETS_ENCRYPTION_KEY_FILE: "missing" }, "SECRETS_ENCRYPTION_KEY_FILE", /cannot read .*ENOENT/);
    keyFile("open", text, 0o640);
    bad({ SECRETS_ENCRYPTION_KEY_FILE: "open" }, "SECRETS_ENCRYPTION_KEY_FILE", /group or others \(mode 640\)/);
    keyFile("world", text, 0o604);
    bad({ SECRETS_ENCRYPTION_KEY_FILE: "world" }, "SECRETS_ENCRYPTION_KEY_FILE", /group or others/);
    keyFile("short", randomBytes(16).toString("base64"));
    bad({ SECRETS_ENCRYPTION_KEY_FILE: "short" }, "SECRETS_ENCRYPTION_KEY_FILE", /exactly 32 bytes/);
    mkdirSync(join(dir, "d"), { mode: 0o700 });
    bad({ SECRETS_ENCRYPTION_KEY_FILE: "d" }, "SECRETS_ENCRYPTION_KEY_FILE", /not a regular file/);
    symlinkSync(join(dir, "k"), join(dir, "link"));
    assert.deepEqual(loadSecretsSettings({ SECRETS_ENCRYPTION_KEY_FILE: "link" }, dir).key, parseKey(text));
  });

  it("takes previous keys as base64 values or key files", () => {
    const a = generateKeyText();
    const b = generateKeyText();
    keyFile("old", b);
    const s = loadSecretsSettings({ SECRETS_ENCRYPTION_PREVIOUS_KEYS: ` ${a} , old` }, dir);
    assert.deepEqual(s.previousKeys, [parseKey(a), parseKey(b)]);
    assert.equal(s.key, undefined);
    bad({ SECRETS_ENCRYPTION_PREVIOUS_KEYS: "nope" }, "SECRETS_ENCRYPTION_PREVIOUS_KEYS", /cannot read/);
    keyFile("loose", b, 0o644);
    bad({ SECRETS_ENCRYPTION_PREVIOUS_KEYS: "loose" }, "SECRETS_ENCRYPTION_PREVIOUS_KEYS", /group or others/);
  });

  it("is part of the management settings", () => {
    keyFile("k", generateKeyText());
    assert.throws(() => loadManagementSettings({ SECRETS_ENCRYPTION_KEY_FILE: join(dir, "nope") }), (e: unknown) => e instanceof SettingsError && e.variable === "SECRETS_ENCRYPTION_KEY_FILE");
    assert.equal(loadManagementSettings({ SECRETS_ENCRYPTION_KEY_FILE: join(dir, "k") }).secrets.key?.length, 32);
    assert.equal(loadManagementSettings({}).secrets.keyFile, undefined);
  });

  it("generates $CONFIG_DIR/secrets.key 0600 once, logging its id and never the key", async () => {
    const logs: { obj: Record<string, unknown>; msg: string }[] = [];
    const log = { warn: (obj: Record<string, unknown>, msg: string) => logs.push({ obj, msg }) } as never;
    const none = loadSecretsSettings({}, dir);
    await assert.rejects(openKeyring(none, dir, { create: false }), (e: unknown) => e instanceof SettingsError && e.variable === "SECRETS_ENCRYPTION_KEY_FILE");
    const first = await openKeyring(none, dir, { create: true, log });
    assert.equal(first.generated, true);
    assert.equal(first.keyFile, join(dir, "secrets.key"));
    assert.equal(statSync(first.keyFile).mode & 0o777, 0o600);
    const text = readFileSync(first.keyFile, "utf8").trim();
    assert.equal(first.keyring.currentKeyId, keyIdOf(parseKey(text)!));
    assert.equal(logs.length, 1);
    assert.match(logs[0]!.msg, /^generated a secrets key/);
    assert.ok(!JSON.stringify(logs).includes(text), "the key is never logged");
    const second = await openKeyring(none, dir, { create: true, log });
    assert.equal(second.generated, false);
    assert.equal(second.keyring.currentKeyId, first.keyring.currentKeyId);
    assert.equal(logs.length, 1);
    chmodSync(first.keyFile, 0o644);
    await assert.rejects(openKeyring(none, dir, { create: true }), /group or others/);
  });

  it("prefers the configured key file and keeps previous keys for opening", async () => {
    const oldText = generateKeyText();
    keyFile("new", generateKeyText());
    const s = loadSecretsSettings({ SECRETS_ENCRYPTION_KEY_FILE: "new", SECRETS_ENCRYPTION_PREVIOUS_KEYS: oldText }, dir);
    const { keyring, keyFile: f, generated } = await openKeyring(s, dir, { create: true });
    assert.equal(generated, false);
    assert.equal(f, join(dir, "new"));
    assert.deepEqual(keyring.keyIds.sort(), [keyIdOf(parseKey(oldText)!), keyIdOf(s.key!)].sort());
  });
});
