import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkNewPassword, normalizeUsername } from "../../../management/auth/credentials-policy.ts";
import { hashPassword, verifyPassword } from "../../../management/auth/password.ts";
import { safeEqual, sha256Hex } from "../../../management/auth/secrets.ts";
import { readCookie, sessionCookie } from "../../../management/auth/cookies.ts";
import { ApiError } from "../../../management/errors.ts";

const fails = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof ApiError && e.code === "invalid_argument" && re.test(e.message));

describe("credentials policy", () => {
  it("lower-cases usernames and enforces ^[a-z0-9_-]{3,64}$", () => {
    assert.equal(normalizeUsername("  Alice_01 "), "alice_01");
    fails(() => normalizeUsername("ab"), /^username: /);
    fails(() => normalizeUsername("a".repeat(65)), /^username: /);
    fails(() => normalizeUsername("al ice"), /^username: /);
    fails(() => normalizeUsername("ålice"), /^username: /);
    fails(() => normalizeUsername(""), /^username: is required/);
  });
  it("requires passwords of at least 12 characters", () => {
    fails(() => checkNewPassword("elevenchars"), /^password: must be at least 12/);
    fails(() => checkNewPassword("x".repeat(2000), "new_password"), /^new_password: /);
    checkNewPassword("twelve chars");
  });
});

describe("password hashing", () => {
  it("verifies the right password only, with a salted scrypt hash", async () => {
    const h = await hashPassword("correct horse battery");
    assert.match(h, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    assert.notEqual(h, await hashPassword("correct horse battery"), "salted");
    assert.equal(await verifyPassword("correct horse battery", h), true);
    assert.equal(await verifyPassword("correct horse batterY", h), false);
    assert.equal(await verifyPassword("x", "not-a-hash"), false);
  });
});

describe("secrets and cookies", () => {
  it("compares in constant time regardless of length", () => {
    assert.equal(safeEqual("abc", "abc"), true);
    assert.equal(safeEqual("abc", "abd"), false);
    assert.equal(safeEqual("abc", "abcd"), false);
    assert.equal(sha256Hex("x").length, 64);
  });
  it("reads and writes the session cookie", () => {
    assert.equal(readCookie("a=1; warren_session=tok; b=2", "warren_session"), "tok");
    assert.equal(readCookie("warren_sessionx=1", "warren_session"), undefined);
    assert.equal(readCookie(null, "warren_session"), undefined);
    assert.equal(sessionCookie("v", { secure: true, maxAgeSeconds: 60 }), "warren_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
    assert.doesNotMatch(sessionCookie("v", { secure: false, maxAgeSeconds: 60 }), /Secure/);
  });
});
