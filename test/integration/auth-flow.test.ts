import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, bearer, cookieHeader, login, type JsonApi, type WarrenProcess } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";

describe("auth flow over JSON (acceptance 3, 5, 7)", () => {
  const warren = withWarren();
  let w: WarrenProcess;
  let api: JsonApi;
  const secrets: string[] = [ADMIN_PASSWORD];

  before(() => ({ w, api } = warren));
  after(async () => {
    await warren.stop();
    // Acceptance 8: no token, password or cookie value used here ever reached the logs.
    warren.assertNoSecretsLogged(secrets);
  });

  let cookie = "";
  let adminId = "";

  it("reports setup required and open, refuses a wrong token, accepts the right one once", async () => {
    const state = await api.call("AuthService/GetSetupState", {});
    assert.equal(state.status, 200);
    assert.equal(state.json.setupRequired, true);
    assert.equal(state.json.setupOpen, true);
    assert.ok(Date.parse(String(state.json.openUntil)) > Date.now());

    const wrong = await api.call("AuthService/SetupAdmin", { setupToken: "not-the-token-at-all", username: "admin", password: ADMIN_PASSWORD });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.code, "unauthenticated");
    assert.match(String(wrong.json.message), /^setup_token: invalid setup token/);
    // A missing token is a missing credential: the same answer as a wrong one.
    for (const body of [{ username: "admin", password: ADMIN_PASSWORD }, { setupToken: "", username: "admin", password: ADMIN_PASSWORD }]) {
      const missing = await api.call("AuthService/SetupAdmin", body);
      assert.equal(missing.status, 401, missing.text);
      assert.equal(missing.json.code, "unauthenticated");
      assert.match(String(missing.json.message), /^setup_token: is required/);
    }

    const ok = await api.call("AuthService/SetupAdmin", { setupToken: w.setupToken(), username: "Admin", password: ADMIN_PASSWORD });
    assert.equal(ok.status, 200, ok.text);
    const user = ok.json.user as { id: string; username: string; role: string };
    assert.equal(user.username, "admin", "usernames are lower-cased");
    assert.equal(user.role, "ROLE_ADMIN");
    adminId = user.id;
    // The setup token is printed exactly once, by design (the setup URL), and never echoed after.
    assert.equal(w.allOutput().split(w.setupToken()).length - 1, 1);

    const again = await api.call("AuthService/SetupAdmin", { setupToken: w.setupToken(), username: "other", password: ADMIN_PASSWORD });
    assert.equal(again.json.code, "failed_precondition");
    const after = await api.call("AuthService/GetSetupState", {});
    assert.equal(after.json.setupRequired ?? false, false, "proto3 JSON omits false");
    assert.equal(after.json.setupOpen ?? false, false);
  });

  it("logs in with a secure HttpOnly SameSite=Lax cookie", async () => {
    const res = await api.call("AuthService/Login", { username: "admin", password: ADMIN_PASSWORD });
    assert.equal(res.status, 200, res.text);
    const sc = String(res.headers["set-cookie"]);
    assert.match(sc, /^warren_session=[A-Za-z0-9_-]{43};/);
    assert.match(sc, /; HttpOnly/);
    assert.match(sc, /; Secure/);
    assert.match(sc, /; SameSite=Lax/);
    assert.match(sc, /; Path=\//);
    cookie = /warren_session=([^;]+)/.exec(sc)![1]!;
    secrets.push(cookie);
    const me = await api.call("AuthService/GetCurrentUser", {}, cookieHeader(cookie));
    assert.equal((me.json.user as { id: string }).id, adminId);
    assert.equal(me.json.authMethod, "AUTH_METHOD_SESSION");
  });

  it("creates an API token that works as Bearer and stops working the moment it is deleted", async () => {
    const created = await api.call("TokenService/CreateToken", { name: "ci" }, cookieHeader(cookie));
    assert.equal(created.status, 200, created.text);
    const secret = String(created.json.secret);
    secrets.push(secret);
    assert.match(secret, /^wrn_[A-Za-z0-9_-]{43}$/);
    const tokenId = String((created.json.token as { id: string }).id);

    const me = await api.call("AuthService/GetCurrentUser", {}, bearer(secret));
    assert.equal(me.status, 200, me.text);
    assert.equal((me.json.user as { username: string }).username, "admin");
    assert.equal(me.json.authMethod, "AUTH_METHOD_API_TOKEN");
    assert.equal(me.json.tokenId, tokenId);

    const list = await api.call("TokenService/ListTokens", {}, bearer(secret));
    const listed = (list.json.tokens as { id: string; prefix: string; lastUsedAt?: string }[]).find((t) => t.id === tokenId)!;
    assert.ok(listed.lastUsedAt, "last_used_at is recorded");
    assert.ok(secret.startsWith(listed.prefix) && listed.prefix.length < 12);
    assert.ok(!list.text.includes(secret), "the secret is shown only once");

    const del = await api.call("TokenService/DeleteToken", { id: tokenId }, cookieHeader(cookie));
    assert.equal(del.status, 200, del.text);
    const denied = await api.call("AuthService/GetCurrentUser", {}, bearer(secret));
    assert.equal(denied.status, 401);
    assert.equal(denied.json.code, "unauthenticated");
    // A bad bearer token never falls back to a valid cookie sent alongside.
    const both = await api.call("AuthService/GetCurrentUser", {}, { ...bearer(secret), ...cookieHeader(cookie) });
    assert.equal(both.json.code, "unauthenticated");
  });

  it("refuses an expired token and a token whose expiry is in the past", async () => {
    const past = await api.call("TokenService/CreateToken", { name: "old", expiresAt: "2001-01-01T00:00:00Z" }, cookieHeader(cookie));
    assert.equal(past.json.code, "invalid_argument");
    assert.match(String(past.json.message), /^expires_at:/);
  });

  it("gives viewers read access and permission_denied on every write; audits each write", async () => {
    const created = await api.call("UserService/CreateUser", { username: "vera", password: "viewer password 1", role: "ROLE_VIEWER" }, cookieHeader(cookie));
    assert.equal(created.status, 200, created.text);
    const veraId = String((created.json.user as { id: string }).id);
    const vcookie = await login(api, "vera", "viewer password 1");
    secrets.push(vcookie);

    assert.equal((await api.call("UserService/ListUsers", {}, cookieHeader(vcookie))).status, 200);
    assert.equal((await api.call("TokenService/ListTokens", {}, cookieHeader(vcookie))).status, 200);
    const writes: [string, unknown][] = [
      ["UserService/CreateUser", { username: "mallory", password: "whatever password", role: "ROLE_ADMIN" }],
      ["UserService/UpdateUser", { id: veraId, role: "ROLE_ADMIN" }],
      ["UserService/DeleteUser", { id: adminId }],
      ["UserService/ChangePassword", { userId: adminId, newPassword: "a new password here" }],
      ["TokenService/CreateToken", { name: "x" }],
      ["TokenService/DeleteToken", { id: "tok_x" }],
      ["AuthService/GetServerInfo", {}],
    ];
    for (const [proc, body] of writes) {
      const r = await api.call(proc, body, cookieHeader(vcookie));
      assert.equal(r.json.code, "permission_denied", `${proc}: ${r.text}`);
    }
    const stillViewer = await api.call("AuthService/GetCurrentUser", {}, cookieHeader(vcookie));
    assert.equal((stillViewer.json.user as { role: string }).role, "ROLE_VIEWER");

    // Every write attempt above, and the admin's own writes, are in the audit log.
    const { openStore } = await import("../../management/store/index.ts");
    const store = openStore(`${w.configDir}/warren.db`);
    try {
      const rows = store.audit.recent(200);
      for (const [proc] of writes.slice(0, 6)) {
        const row = rows.find((r) => r.method === `warren.v1.${proc}` && r.actor_name === "vera");
        assert.ok(row, `audit row for ${proc}`);
        assert.equal(row.outcome, "permission_denied");
      }
      const create = rows.find((r) => r.method === "warren.v1.UserService/CreateUser" && r.outcome === "ok");
      assert.equal(create?.target_id, veraId);
      assert.equal(create?.actor_name, "admin");
      assert.equal(create?.peer_ip, "127.0.0.1");
      const all = JSON.stringify(rows);
      for (const s of secrets) assert.ok(!all.includes(s), "audit rows never hold secrets");
      assert.ok(!all.includes("viewer password 1"));
    } finally {
      store.close();
    }
    // A viewer changes their own password (with the current one), never someone else's (above).
    for (const [from, to] of [["viewer password 1", "viewer password 2"], ["viewer password 2", "viewer password 1"]]) {
      const own = await api.call("UserService/ChangePassword", { currentPassword: from, newPassword: to }, cookieHeader(vcookie));
      assert.equal(own.status, 200, own.text);
    }
  });

  it("throttles a (peer, user) after five failures, even for the right password (acceptance 5); audits each failure with the peer IP", async () => {
    for (let i = 0; i < 5; i++) {
      const r = await api.call("AuthService/Login", { username: "admin", password: `wrong password ${i}` });
      assert.equal(r.json.code, "unauthenticated");
      assert.equal(r.json.message, "invalid username or password");
    }
    const sixth = await api.call("AuthService/Login", { username: "admin", password: ADMIN_PASSWORD });
    assert.equal(sixth.json.code, "resource_exhausted", sixth.text);
    assert.match(String(sixth.json.message), /too many failed login attempts/);
    // Other users from the same peer are not affected.
    assert.equal((await api.call("AuthService/Login", { username: "vera", password: "viewer password 1" })).status, 200);

    // Every failure is in the audit log with the peer's address, and so is the throttled attempt.
    const { openStore } = await import("../../management/store/index.ts");
    const store = openStore(`${w.configDir}/warren.db`);
    try {
      const rows = store.audit.recent(500).filter((r) => r.method === "warren.v1.AuthService/Login" && r.actor_name === "admin");
      const failed = rows.filter((r) => r.outcome === "unauthenticated");
      assert.ok(failed.length >= 5, `five failed logins audited, got ${failed.length}`);
      for (const r of failed) assert.equal(r.peer_ip, "127.0.0.1");
      const throttled = rows.find((r) => r.outcome === "login_throttled");
      assert.equal(throttled?.peer_ip, "127.0.0.1");
      const setupFailures = store.audit.recent(500).filter((r) => r.method === "warren.v1.AuthService/SetupAdmin" && r.outcome === "unauthenticated");
      assert.ok(setupFailures.length >= 3 && setupFailures.every((r) => r.peer_ip === "127.0.0.1"), "wrong and missing setup tokens are audited with the peer");
      assert.ok(!JSON.stringify(rows).includes("wrong password"), "never the password tried");
    } finally {
      store.close();
    }
  });

  it("logout revokes the session", async () => {
    const c = await login(api, "vera", "viewer password 1");
    const out = await api.call("AuthService/Logout", {}, cookieHeader(c));
    assert.equal(out.status, 200);
    assert.match(String(out.headers["set-cookie"]), /warren_session=; .*Max-Age=0/);
    const me = await api.call("AuthService/GetCurrentUser", {}, cookieHeader(c));
    assert.equal(me.json.code, "unauthenticated");
  });

  it("keeps one enabled admin and refuses self-deletion", async () => {
    const demote = await api.call("UserService/UpdateUser", { id: adminId, role: "ROLE_VIEWER" }, cookieHeader(cookie));
    assert.equal(demote.json.code, "failed_precondition");
    const del = await api.call("UserService/DeleteUser", { id: adminId }, cookieHeader(cookie));
    assert.equal(del.json.code, "failed_precondition");
  });
});

// Probe item 4 of issue 13: parallel guesses raced past the check (141 of 200 checked); behind a
// trusted proxy every client shared the proxy's bucket, so anyone could lock the admin out.
describe("login throttling: parallel guesses and clients behind a trusted proxy", () => {
  const warren = withWarren({ admin: true, env: { TRUSTED_PROXIES: "127.0.0.1" } });

  it("checks at most five of 200 parallel wrong guesses from one client", async () => {
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => warren.api.call("AuthService/Login", { username: "admin", password: `parallel guess ${i}` }, { "x-forwarded-for": "198.51.100.7" })),
    );
    const codes = answers.map((r) => String(r.json.code));
    assert.equal(codes.filter((c) => c === "unauthenticated").length, 5, JSON.stringify(codes.slice(0, 10)));
    assert.equal(codes.filter((c) => c === "resource_exhausted").length, 195);
  });

  it("keeps each client behind the proxy in its own bucket, and audits the client's address", async () => {
    // 198.51.100.7 is blocked (above); the admin behind the same proxy from another address is not.
    const blocked = await warren.api.call("AuthService/Login", { username: "admin", password: ADMIN_PASSWORD }, { "x-forwarded-for": "198.51.100.7" });
    assert.equal(blocked.json.code, "resource_exhausted");
    const admin = await warren.api.call("AuthService/Login", { username: "admin", password: ADMIN_PASSWORD }, { "x-forwarded-for": "203.0.113.9" });
    assert.equal(admin.status, 200, admin.text);
    const { openStore } = await import("../../management/store/index.ts");
    const store = openStore(`${warren.w.configDir}/warren.db`);
    try {
      const rows = store.audit.recent(1000).filter((r) => r.method === "warren.v1.AuthService/Login");
      assert.ok(rows.some((r) => r.outcome === "unauthenticated" && r.peer_ip === "198.51.100.7"), "the guesser's own address");
      assert.ok(rows.some((r) => r.outcome === "ok" && r.peer_ip === "203.0.113.9"), "the admin's own address");
      assert.ok(!rows.some((r) => r.peer_ip === "127.0.0.1" && r.outcome !== "ok" && r.actor_name === "admin"), "not the proxy's");
    } finally {
      store.close();
    }
  });
});
