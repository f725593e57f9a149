import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { checkPass, clientNetwork, issueChallenge, issuePass, leadingZeroBits, readChallenge, safeReturnPath, solves } from "../../../proxy/policy/challenge.ts";
import { CHALLENGE_WORKER, challengeWidget } from "../../../proxy/policy/challenge-page.ts";
import { EndpointLimit } from "../../../proxy/policy/endpoint-limit.ts";

const key = randomBytes(32);
const claims = { ruleId: "waf_a", fingerprint: "fp1", host: "app.test", network: clientNetwork("203.0.113.9"), difficulty: 10, expiresAt: 1_000_300, check: "pow" as const };

/** The browser's worker, run here: its SHA-256 and its search loop. */
function worker(): { sha256(s: string): number[]; solve(token: string, difficulty: number): string } {
  let out = "";
  const api = new Function("postMessage", `var onmessage;${CHALLENGE_WORKER.replace('"use strict";', "")}; return { sha256: sha256, run: function (d) { onmessage({ data: d }); } };`)((x: string) => (out = x)) as {
    sha256(s: string): number[];
    run(d: unknown): void;
  };
  return {
    sha256: api.sha256,
    solve(token, difficulty) {
      api.run({ token, difficulty });
      return out;
    },
  };
}

describe("proof-of-work challenge", () => {
  it("reads back only tokens this key signed, before they expire", () => {
    const t = issueChallenge(key, claims);
    assert.deepEqual(readChallenge(key, t, 1_000_000), claims);
    assert.equal(readChallenge(key, t, 1_000_300), undefined, "expired");
    assert.equal(readChallenge(randomBytes(32), t, 1_000_000), undefined, "another key");
    const [payload, mac] = t.split(".");
    const forged = Buffer.from(Buffer.from(payload!, "base64url").toString().replace("app.test", "evil.test")).toString("base64url");
    assert.equal(readChallenge(key, `${forged}.${mac}`, 1_000_000), undefined, "a changed claim");
    assert.equal(readChallenge(key, "garbage", 1_000_000), undefined);
    assert.notEqual(issueChallenge(key, claims), t, "each token is unique");
    const cap = issueChallenge(key, { ...claims, difficulty: 0, check: "captcha" });
    assert.equal(readChallenge(key, cap, 1_000_000)?.check, "captcha", "the kind of check is a signed claim");
    const [cp, cm] = cap.split(".");
    const asPow = Buffer.from(Buffer.from(cp!, "base64url").toString().replace("|captcha|", "|pow|")).toString("base64url");
    assert.equal(readChallenge(key, `${asPow}.${cm}`, 1_000_000), undefined, "a captcha token relabelled as proof of work");
  });

  it("checks a solution with one hash; the browser's worker finds one", () => {
    const w = worker();
    for (const s of ["", "abc", "x".repeat(55), "x".repeat(56), "x".repeat(64), "é?".repeat(3).normalize("NFD").replace(/[^\x00-\x7f]/g, "a"), "tok.en:123"]) {
      const d = createHash("sha256").update(s).digest();
      assert.deepEqual(w.sha256(s), [d.readUInt32BE(0), d.readUInt32BE(4)], `sha256 of ${s.length} bytes`);
    }
    const token = issueChallenge(key, claims);
    const nonce = w.solve(token, 10);
    assert.equal(solves(token, nonce, 10), true);
    assert.ok(leadingZeroBits(createHash("sha256").update(`${token}:${nonce}`).digest()) >= 10);
    assert.equal(solves(token, nonce, 30), false);
    assert.equal(solves(token, "1e3", 0), false, "a nonce is digits only");
    assert.equal(solves(token, "0".repeat(17), 0), false);
  });

  it("binds passes to rule, fingerprint, host and expiry", () => {
    const v = issuePass(key, "waf_a", "fp1", "app.test", 2000);
    assert.equal(checkPass(key, v, "waf_a", "fp1", "app.test", 1999), true);
    assert.equal(checkPass(key, v, "waf_a", "fp1", "app.test", 2000), false, "expired");
    assert.equal(checkPass(key, v, "waf_a", "fp2", "app.test", 1000), false, "the rule was edited");
    assert.equal(checkPass(key, v, "waf_b", "fp1", "app.test", 1000), false, "another rule");
    assert.equal(checkPass(key, v, "waf_a", "fp1", "other.test", 1000), false, "another host");
    assert.equal(checkPass(key, v.replace(/^2000/, "9999"), "waf_a", "fp1", "app.test", 1000), false, "a lengthened expiry");
    assert.equal(checkPass(randomBytes(32), v, "waf_a", "fp1", "app.test", 1000), false, "forged with another key");
    assert.equal(checkPass(key, undefined, "waf_a", "fp1", "app.test", 1000), false);
  });

  it("takes only the canonical spelling of a pass (base64url decoding ignores the last character's unused bits)", () => {
    // A 32-byte MAC is 43 characters; the last one carries 2 bits and 4 unused ones. Flipping one of
    // those decodes to the same MAC: the e2e test's "forged pass" (last character A → B) got through
    // whenever the real last character was A.
    for (let i = 0; i < 64; i++) {
      const v = issuePass(key, `waf_${i}`, "fp1", "app.test", 2000);
      const last = v.at(-1)!;
      const sameBits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".indexOf(last)) ^ 1]!;
      assert.equal(checkPass(key, v, `waf_${i}`, "fp1", "app.test", 1000), true);
      assert.equal(checkPass(key, v.slice(0, -1) + sameBits, `waf_${i}`, "fp1", "app.test", 1000), false, `${last} → ${sameBits}`);
    }
  });

  it("binds challenges to the client's network", () => {
    assert.equal(clientNetwork("203.0.113.9"), clientNetwork("203.0.113.200"));
    assert.notEqual(clientNetwork("203.0.113.9"), clientNetwork("203.0.114.9"));
    assert.equal(clientNetwork("::ffff:203.0.113.9"), clientNetwork("203.0.113.1"));
    assert.equal(clientNetwork("2001:db8:1:2::1"), clientNetwork("2001:db8:1:2:ffff::9"));
    assert.notEqual(clientNetwork("2001:db8:1:2::1"), clientNetwork("2001:db8:1:3::1"));
  });

  it("returns only to a path on the same host, and escapes what it puts in the page", () => {
    assert.equal(safeReturnPath("/a/b?c=1"), "/a/b?c=1");
    for (const bad of ["//evil.test/x", "https://evil.test/", "/\\evil.test", "/a\r\nSet-Cookie: x", "", undefined, "x".repeat(3000)]) assert.equal(safeReturnPath(bad), "/", String(bad));
    const html = challengeWidget({ token: 'a"b', difficulty: 12, returnTo: '/"><script>', bodyDropped: true, noScript: "" });
    assert.ok(!html.includes('"><script>') && html.includes("&quot;&gt;&lt;script&gt;"));
    assert.match(html, /not forwarded/);
  });

  it("limits each client per window and forgets clients when the window turns", () => {
    const l = new EndpointLimit(2, 1000, 3);
    assert.deepEqual([l.take("a", 0), l.take("a", 10), l.take("a", 20), l.take("b", 30)], [true, true, false, true]);
    assert.equal(l.retryAfterS(500), 1);
    assert.equal(l.take("a", 1000), true, "a new window");
    l.take("c", 1001);
    l.take("d", 1002);
    assert.equal(l.take("e", 1003), false, "at most 3 clients tracked per window");
  });
});
