import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { CaptchaFailures, CaptchaVerifier, captchaPageCsp, providerUrlProblem } from "../../../proxy/policy/captcha.ts";
import { captchaWidget } from "../../../proxy/policy/challenge-page.ts";

/** A siteverify that holds every request until released. */
async function holdingServer() {
  const held: http.ServerResponse[] = [];
  let arrived: (() => void) | undefined;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      held.push(res);
      arrived?.();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    held,
    arrivals: (n: number) => new Promise<void>((r) => (arrived = () => held.length >= n && r())),
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

describe("captcha provider checks", () => {
  it("never has more than maxInFlight calls out: the extra ones are unavailable at once, and the bound frees up", async () => {
    const s = await holdingServer();
    after(s.close);
    const v = new CaptchaVerifier(2, 5000);
    const p = { verifyUrl: s.url, secret: "k" };
    const arrived = s.arrivals(2);
    const first = [v.verify(p, "a", "1.2.3.4"), v.verify(p, "b", "1.2.3.4")];
    await arrived;
    assert.equal(v.active, 2);
    assert.deepEqual(await v.verify(p, "c", "1.2.3.4"), { kind: "unavailable", reason: "too many checks in flight" });
    assert.equal(s.held.length, 2, "the third was never sent");
    for (const res of s.held) res.writeHead(200, { "content-type": "application/json" }).end('{"success":true}');
    assert.deepEqual(await Promise.all(first), [{ kind: "success" }, { kind: "success" }]);
    assert.equal(v.active, 0);
    const third = v.verify(p, "d", "1.2.3.4");
    await s.arrivals(3);
    s.held[2]!.writeHead(200).end('{"success":false}');
    assert.deepEqual(await third, { kind: "failure" });
  });

  it("times out and reads non-2xx and non-JSON answers as unavailable", async () => {
    const s = await holdingServer();
    after(s.close);
    const v = new CaptchaVerifier(4, 200);
    const p = { verifyUrl: s.url, secret: "k" };
    const t0 = Date.now();
    assert.deepEqual(await v.verify(p, "a", "::1"), { kind: "unavailable", reason: "timeout" });
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(v.active, 0);
    const five = v.verify(p, "b", "::1");
    await s.arrivals(2);
    s.held[1]!.writeHead(503).end("busy");
    assert.deepEqual(await five, { kind: "unavailable", reason: "status 503" });
    const junk = v.verify(p, "c", "::1");
    await s.arrivals(3);
    s.held[2]!.writeHead(200).end("<html>");
    assert.deepEqual(await junk, { kind: "unavailable", reason: "answer is not JSON" });
  });

  it("logs failures per rule at most once per interval, without the secret", () => {
    const lines: unknown[] = [];
    const log = { warn: (o: unknown) => lines.push(o) } as unknown as import("pino").Logger;
    const f = new CaptchaFailures(log, 60_000);
    const c = { providerId: "cap_1", kind: "turnstile", siteKey: "s", secret: "TOPSECRET", verifyUrl: "https://v.test/x", scriptUrl: "https://v.test/a.js", fallback: "block", csp: "" } as const;
    f.failed({ id: "waf_1", name: "r" }, c, "timeout", 1000);
    f.failed({ id: "waf_1", name: "r" }, c, "timeout", 2000);
    f.failed({ id: "waf_2", name: "r2" }, c, "timeout", 2000);
    f.failed({ id: "waf_1", name: "r" }, c, "timeout", 61_001);
    assert.equal(lines.length, 3);
    assert.equal(f.count("waf_1"), 3);
    assert.ok(!JSON.stringify(lines).includes("TOPSECRET"));
  });

  it("accepts https provider URLs, and http only on loopback", () => {
    assert.equal(providerUrlProblem("https://api.hcaptcha.com/siteverify"), undefined);
    assert.equal(providerUrlProblem("http://127.0.0.1:9/x"), undefined);
    assert.equal(providerUrlProblem("http://[::1]:9/x"), undefined);
    assert.equal(providerUrlProblem("http://localhost/x"), undefined);
    assert.match(providerUrlProblem("http://10.0.0.1/x")!, /https/);
    assert.match(providerUrlProblem("http://127.example.com/x")!, /https/);
    assert.match(providerUrlProblem("javascript:alert(1)")!, /https/);
    assert.match(providerUrlProblem("nope")!, /not a URL/);
    assert.match(providerUrlProblem("https://a:b@x.test/")!, /credentials/);
  });

  it("builds the page CSP from the script's origin, and the widget markup per provider", () => {
    const own = captchaPageCsp("hcaptcha", "https://cdn.example.com/hc.js");
    assert.match(own, /^default-src 'none'; script-src 'self' https:\/\/cdn\.example\.com; frame-src https:\/\/cdn\.example\.com; connect-src https:\/\/cdn\.example\.com;/);
    assert.match(captchaPageCsp("recaptcha_v2", "https://www.google.com/recaptcha/api.js"), /script-src 'self' https:\/\/www\.google\.com https:\/\/www\.gstatic\.com;/);
    const html = captchaWidget({ token: 'a"b', returnTo: "/x", bodyDropped: false, widgetClass: "g-recaptcha", siteKey: "k<1>", scriptUrl: "https://www.google.com/recaptcha/api.js", noScript: "" });
    assert.match(html, /<div class="g-recaptcha" data-sitekey="k&lt;1&gt;" data-callback="warrenCaptchaDone"><\/div>/);
    assert.match(html, /name="token" value="a&quot;b"/);
  });
});
