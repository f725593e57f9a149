import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LoginThrottle } from "../../../management/auth/login-throttle.ts";

describe("LoginThrottle", () => {
  const opts = { maxFailures: 5, windowMs: 15 * 60_000, blockMs: 5 * 60_000, maxKeys: 100, userFailuresBeforeDelay: 20, userDelayStepMs: 250, userDelayMaxMs: 5_000 };

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

  it("reserves attempts before they are checked: parallel guesses cannot pass the limit", () => {
    const t = new LoginThrottle(opts);
    const let_through = Array.from({ length: 200 }, () => t.begin("1.2.3.4", "admin", 1000)).filter((w) => w === 0).length;
    assert.equal(let_through, 5, "five in flight at most, before any has failed");
    for (let i = 0; i < 5; i++) t.recordFailure("1.2.3.4", "admin", 1001);
    assert.ok(t.begin("1.2.3.4", "admin", 1002) >= 5 * 60_000 - 2, "then blocked");
  });

  it("counts an IPv6 client per /64", () => {
    const t = new LoginThrottle(opts);
    for (let i = 1; i <= 5; i++) t.recordFailure(`2001:db8:1:2::${i}`, "admin", 1000);
    assert.ok(t.blockedFor("2001:db8:1:2:ffff::9", "admin", 1001) > 0, "another address of the same /64 is blocked");
    assert.equal(t.blockedFor("2001:db8:1:3::1", "admin", 1001), 0, "another /64 is not");
  });

  it("slows a username attacked from many addresses instead of locking it", () => {
    const t = new LoginThrottle(opts);
    for (let i = 0; i < 20; i++) t.recordFailure(`10.0.0.${i}`, "admin", 1000);
    assert.equal(t.userDelay("admin", 1001), 0, "twenty failures: not slowed yet");
    for (let i = 20; i < 24; i++) t.recordFailure(`10.0.0.${i}`, "admin", 1000);
    assert.equal(t.userDelay("ADMIN", 1001), 1000, "four past the threshold: 4 × 250 ms");
    for (let i = 24; i < 100; i++) t.recordFailure(`10.0.0.${i}`, "admin", 1000);
    assert.equal(t.userDelay("admin", 1001), 5000, "capped");
    assert.equal(t.begin("10.0.1.1", "admin", 1001), 0, "a new address may still try: slowed, not locked");
    assert.equal(t.userDelay("admin", 1000 + 15 * 60_000), 0, "forgotten after the window");
  });
});
