import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_PASSWORD, BIN, ROOT, cookieHeader, login } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";

describe("warren users reset-password (acceptance 6)", () => {
  it("resets the password while the server runs, revokes sessions and reports what it did", async (t) => {
    const warren = await withWarren(t, { admin: true });
    const { w } = warren;
    const api = warren.api;
    const cookie = warren.adminCookie;
    assert.equal((await api.call("AuthService/GetCurrentUser", {}, cookieHeader(cookie))).status, 200);

    const newPassword = "a brand new password";
    const file = join(w.configDir, "pw.txt");
    writeFileSync(file, `${newPassword}\n`, { mode: 0o600 });
    const env = { PATH: process.env.PATH ?? "", CONFIG_DIR: w.configDir };
    const r = spawnSync(process.execPath, [BIN, "users", "reset-password", "admin", "--password-file", file], { cwd: ROOT, env, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /password of admin \(usr_[a-z2-7]+\) reset; revoked 1 session\(s\)/);
    assert.ok(!r.stdout.includes(newPassword) && !r.stderr.includes(newPassword));

    const old = await api.call("AuthService/GetCurrentUser", {}, cookieHeader(cookie));
    assert.equal(old.json.code, "unauthenticated", "the old session is gone");
    const bad = await api.call("AuthService/Login", { username: "admin", password: "correct horse battery staple" });
    assert.equal(bad.json.code, "unauthenticated", "the old password no longer works");
    const fresh = await login(api, "admin", newPassword);
    assert.equal((await api.call("AuthService/GetCurrentUser", {}, cookieHeader(fresh))).status, 200);

    // --password-env, and clear errors for unknown users, short passwords and no terminal.
    const viaEnv = spawnSync(process.execPath, [BIN, "users", "reset-password", "admin", "--password-env", "NEWPW"], {
      cwd: ROOT,
      env: { ...env, NEWPW: "yet another password" },
      encoding: "utf8",
    });
    assert.equal(viaEnv.status, 0, viaEnv.stderr);
    const unknown = spawnSync(process.execPath, [BIN, "users", "reset-password", "nobody", "--password-file", file], { cwd: ROOT, env, encoding: "utf8" });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /no user "nobody" \(users: admin\)/);
    writeFileSync(file, "short\n");
    const short = spawnSync(process.execPath, [BIN, "users", "reset-password", "admin", "--password-file", file], { cwd: ROOT, env, encoding: "utf8" });
    assert.equal(short.status, 2);
    assert.match(short.stderr, /password: must be at least 12 characters/);
    const noTty = spawnSync(process.execPath, [BIN, "users", "reset-password", "admin"], { cwd: ROOT, env, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
    assert.equal(noTty.status, 2);
    assert.match(noTty.stderr, /--password-file FILE or --password-env VAR/);
    assert.ok(!w.allOutput().includes(newPassword));
  });

  it("refuses, changing nothing, when run without write access to the database", async (t) => {
    const warren = await withWarren(t, { admin: true });
    const { w } = warren;
    const file = join(w.configDir, "pw.txt");
    writeFileSync(file, "a password nobody may set\n", { mode: 0o644 });
    // As root, run it as another user (CONFIG_DIR is 0700); otherwise on a database in a read-only directory.
    let configDir = w.configDir;
    let asUser: { uid?: number; gid?: number } = {};
    if (process.getuid?.() === 0) {
      asUser = { uid: 65534, gid: 65534 };
      chmodSync(w.configDir, 0o711); // let the other user reach the password file and the database's name, not write
      chmodSync(file, 0o644);
    } else {
      configDir = mkdtempSync(join(tmpdir(), "warren-ro-"));
      t.after(() => {
        chmodSync(configDir, 0o700);
        rmSync(configDir, { recursive: true, force: true });
      });
      copyFileSync(join(w.configDir, "warren.db"), join(configDir, "warren.db"));
      chmodSync(join(configDir, "warren.db"), 0o400);
      chmodSync(configDir, 0o500);
    }
    try {
      const r = spawnSync(process.execPath, [BIN, "users", "reset-password", "admin", "--password-file", file], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "", CONFIG_DIR: configDir },
        encoding: "utf8",
        ...asUser,
      });
      assert.equal(r.status, 2, `exit ${r.status}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^warren: cannot write .* \((EACCES|EPERM|EROFS)\): run this as the user warren serve runs as/);
    } finally {
      chmodSync(w.configDir, 0o700);
    }
    // The old password and session still work.
    assert.equal((await warren.api.call("AuthService/GetCurrentUser", {}, cookieHeader(warren.adminCookie))).status, 200);
    await login(warren.api, "admin", ADMIN_PASSWORD);
  });
});
