import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Agent, request } from "undici";
import { ADMIN_PASSWORD } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";

describe("setup window (acceptance 4)", () => {
  it("refuses setup after the window with a message that a restart reopens it; a restart does", async (t) => {
    // WARREN_TEST_SETUP_WINDOW_MS shortens the 5-minute window (never lengthens it); 0 = already closed.
    const first = await withWarren(t, { env: { WARREN_TEST_SETUP_WINDOW_MS: "0" } });
    const w = first.w;
    {
      const api = first.api;
      const state = await api.call("AuthService/GetSetupState", {});
      assert.equal(state.json.setupRequired, true);
      assert.equal(state.json.setupOpen ?? false, false);
      const r = await api.call("AuthService/SetupAdmin", { setupToken: w.setupToken(), username: "admin", password: ADMIN_PASSWORD });
      assert.equal(r.json.code, "failed_precondition");
      assert.match(String(r.json.message), /setup window closed .*restart warren serve to open it again/);
      await first.stop();
    }
    const second = await withWarren(t, { configDir: w.configDir });
    const again = second.w;
    {
      const api = second.api;
      assert.notEqual(again.setupToken(), w.setupToken(), "each start generates a new token");
      const old = await api.call("AuthService/SetupAdmin", { setupToken: w.setupToken(), username: "admin", password: ADMIN_PASSWORD });
      assert.equal(old.json.code, "unauthenticated", "the previous run's token is dead");
      const ok = await api.call("AuthService/SetupAdmin", { setupToken: again.setupToken(), username: "admin", password: ADMIN_PASSWORD });
      assert.equal(ok.status, 200, ok.text);
    }
  });

  it("uses MANAGEMENT_SETUP_TOKEN when set, validates setup fields by name and throttles guessing per peer", async (t) => {
    const token = "fixed-setup-token-for-tests";
    const { w, api } = await withWarren(t, { env: { MANAGEMENT_SETUP_TOKEN: token } });
    // A fixed token is the operator's secret: the setup URL is logged with a placeholder, never the token.
    assert.ok(!w.allOutput().includes(token), "the fixed setup token is not in the log");
    assert.equal(w.setupToken(), "<MANAGEMENT_SETUP_TOKEN>");
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
    // Guessing is throttled per peer: after five wrong tokens even the right one is refused…
    for (let i = 0; i < 5; i++) {
      const r = await api.call("AuthService/SetupAdmin", { setupToken: `wrong-setup-token-${i}`, username: "admin", password: ADMIN_PASSWORD });
      assert.equal(r.json.code, "unauthenticated", r.text);
    }
    const blocked = await api.call("AuthService/SetupAdmin", { setupToken: token, username: "admin", password: ADMIN_PASSWORD });
    assert.equal(blocked.json.code, "resource_exhausted", blocked.text);
    assert.match(String(blocked.json.message), /too many wrong setup tokens/);
    // …while another peer (127.0.0.2 → 127.0.0.1) still may set up.
    const other = new Agent({ localAddress: "127.0.0.2", connect: { ca: w.caPem } });
    try {
      const res = await request(`${w.baseUrl}/warren.v1.AuthService/SetupAdmin`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ setupToken: token, username: "admin", password: ADMIN_PASSWORD }),
        dispatcher: other,
      });
      assert.equal(res.statusCode, 200, await res.body.text());
    } finally {
      await other.close();
    }
  });
});
