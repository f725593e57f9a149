import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, JsonApi, WarrenProcess } from "../helpers/warren-process.ts";

describe("setup window (acceptance 4)", () => {
  it("refuses setup after the window with a message that a restart reopens it; a restart does", async () => {
    // WARREN_TEST_SETUP_WINDOW_MS shortens the 5-minute window (never lengthens it); 0 = already closed.
    const w = await WarrenProcess.start({ env: { WARREN_TEST_SETUP_WINDOW_MS: "0" } });
    try {
      const api = new JsonApi(w.baseUrl, w.caPem);
      const state = await api.call("AuthService/GetSetupState", {});
      assert.equal(state.json.setupRequired, true);
      assert.equal(state.json.setupOpen ?? false, false);
      const r = await api.call("AuthService/SetupAdmin", { setupToken: w.setupToken(), username: "admin", password: ADMIN_PASSWORD });
      assert.equal(r.json.code, "failed_precondition");
      assert.match(String(r.json.message), /setup window closed .*restart warren serve to open it again/);
      await api.close();
    } finally {
      await w.stop();
    }
    const again = await WarrenProcess.start({ configDir: w.configDir });
    try {
      const api = new JsonApi(again.baseUrl, again.caPem);
      assert.notEqual(again.setupToken(), w.setupToken(), "each start generates a new token");
      const old = await api.call("AuthService/SetupAdmin", { setupToken: w.setupToken(), username: "admin", password: ADMIN_PASSWORD });
      assert.equal(old.json.code, "unauthenticated", "the previous run's token is dead");
      const ok = await api.call("AuthService/SetupAdmin", { setupToken: again.setupToken(), username: "admin", password: ADMIN_PASSWORD });
      assert.equal(ok.status, 200, ok.text);
      await api.close();
    } finally {
      await again.stop();
      again.cleanup();
    }
  });

  it("uses MANAGEMENT_SETUP_TOKEN when set and validates setup fields by name", async () => {
    const token = "fixed-setup-token-for-tests";
    const w = await WarrenProcess.start({ env: { MANAGEMENT_SETUP_TOKEN: token } });
    try {
      const api = new JsonApi(w.baseUrl, w.caPem);
      const missing = await api.call("AuthService/SetupAdmin", { username: "admin", password: ADMIN_PASSWORD });
      assert.equal(missing.json.code, "unauthenticated", missing.text);
      assert.match(String(missing.json.message), /^setup_token: is required/);
      const cases: [Record<string, string>, RegExp][] = [
        [{ setupToken: token, username: "a!", password: ADMIN_PASSWORD }, /^username: /],
        [{ setupToken: token, username: "admin", password: "short" }, /^password: must be at least 12 characters/],
      ];
      for (const [body, re] of cases) {
        const r = await api.call("AuthService/SetupAdmin", body);
        assert.equal(r.json.code, "invalid_argument", r.text);
        assert.match(String(r.json.message), re);
      }
      const ok = await api.call("AuthService/SetupAdmin", { setupToken: token, username: "admin", password: ADMIN_PASSWORD });
      assert.equal(ok.status, 200, ok.text);
      await api.close();
    } finally {
      await w.stop();
      w.cleanup();
    }
  });
});
