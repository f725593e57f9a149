import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LoginThrottle } from "../../../management/auth/login-throttle.ts";

describe("LoginThrottle", () => {
  const opts = { maxFailures: 5, windowMs: 15 * 60_000, blockMs: 5 * 60_000, maxKeys: 100 };

  it("blocks after five failures inside the window, for five minutes", () => {
    const t = new LoginThrottle(opts);
    for (let i = 0; i < 4; i++) t.recordFailure("1.2.3.4", "admin", 1000 + i);
    assert.equal(t.blockedFor("1.2.3.4", "admin", 1010), 0);
    t.recordFailure("1.2.3.4", "admin", 1010);
    assert.equal(t.blockedFor("1.2.3.4", "admin", 1010), 5 * 60_000);
    assert.equal(t.blockedFor("1.2.3.4", "ADMIN", 1010 + 5 * 60_000 - 1), 1, "usernames compare case-insensitively");
    assert.equal(t.blockedFor("1.2.3.4", "admin", 1010 + 5 * 60_000), 0);
    assert.equal(t.blockedFor("1.2.3.5", "admin", 1010), 0, "another peer is not blocked");
    assert.equal(t.blockedFor("1.2.3.4", "other", 1010), 0, "another user is not blocked");
  });

  it("forgets failures older than the window", () => {
    const t = new LoginThrottle(opts);
    for (let i = 0; i < 4; i++) t.recordFailure("ip", "u", i);
    t.recordFailure("ip", "u", 15 * 60_000 + 10);
    assert.equal(t.blockedFor("ip", "u", 15 * 60_000 + 10), 0);
  });

  it("clears on success", () => {
    const t = new LoginThrottle(opts);
    for (let i = 0; i < 4; i++) t.recordFailure("ip", "u", i);
    t.recordSuccess("ip", "u");
    t.recordFailure("ip", "u", 10);
    assert.equal(t.blockedFor("ip", "u", 10), 0);
  });

  it("keeps memory bounded, evicting unblocked keys before blocked ones", () => {
    const t = new LoginThrottle({ ...opts, maxKeys: 10 });
    for (let i = 0; i < 5; i++) t.recordFailure("attacker", "admin", 0);
    for (let i = 0; i < 1000; i++) t.recordFailure(`10.0.${i >> 8}.${i & 255}`, "x", 1);
    assert.ok(t.size <= 10);
    assert.ok(t.blockedFor("attacker", "admin", 2) > 0, "a blocked key survives a flood of other keys");
  });
});
