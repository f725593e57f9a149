// Hosted captcha challenges end to end: a real `warren serve`, providers and rules written through
// PolicyService, real requests on the public listener. The real providers are not reachable here,
// so a fake siteverify (node:http on 127.0.0.1) stands in, named by the provider's verify_url: the
// same code path as production, only the URL differs.
import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { withWarren } from "../helpers/with-warren.ts";
import { originRoute, wafRule } from "../helpers/policy-fixture.ts";
import { pollUntil } from "../helpers/wait.ts";

const SECRET = "captcha-secret-0f9e8d7c6b5a";
const SECRET2 = "captcha-secret-rotated-1a2b3c";

type Mode = "accept" | "reject" | "hold" | "error500";

interface FakeCall {
  readonly form: URLSearchParams;
  readonly contentType: string | undefined;
}

/** A fake siteverify: answers as `mode` says, records every call; "hold" never answers. */
async function startFakeSiteverify() {
  const calls: FakeCall[] = [];
  // Each waiter stays until the count it waits for has arrived (a call that is not yet enough keeps it).
  let waiters: { n: number; resolve: () => void }[] = [];
  let mode: Mode = "accept";
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      calls.push({ form: new URLSearchParams(Buffer.concat(chunks).toString()), contentType: req.headers["content-type"] });
      waiters = waiters.filter((w) => (calls.length >= w.n ? (w.resolve(), false) : true));
      if (mode === "hold") return;
      if (mode === "error500") {
        res.writeHead(500).end("oops");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(mode === "accept" ? { success: true } : { success: false, "error-codes": ["invalid-input-response"] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/siteverify`,
    scriptUrl: `http://127.0.0.1:${port}/api.js`,
    origin: `http://127.0.0.1:${port}`,
    calls,
    set mode(m: Mode) {
      mode = m;
    },
    /** Resolves once `n` calls have arrived. */
    until(n: number): Promise<void> {
      return calls.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback URL nothing listens on. */
async function closedPortUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}/siteverify`;
}

describe("captcha challenges", () => {
  const warren = withWarren({ admin: true });
  let fake: Awaited<ReturnType<typeof startFakeSiteverify>>;
  before(async () => {
    fake = await startFakeSiteverify();
  });
  after(() => fake?.close());

  const call = (method: string, body: Record<string, unknown>) => warren.api.call(`PolicyService/${method}`, body, warren.admin);
  /** Pass cookie values handed out: bearer credentials, so never to be logged either. */
  const passCookies: string[] = [];

  async function provider(t: TestContext, spec: Record<string, unknown>): Promise<string> {
    const r = await call("CreateCaptchaProvider", { spec: { kind: "CAPTCHA_KIND_TURNSTILE", siteKey: "0x4AAAAAAAsitekey", secretKey: SECRET, verifyUrl: fake.url, scriptUrl: fake.scriptUrl, ...spec } });
    assert.equal(r.status, 200, r.text);
    const id = String((r.json.provider as { id: string }).id);
    t.after(() => call("DeleteCaptchaProvider", { id }));
    return id;
  }

  const rule = (t: TestContext, spec: Record<string, unknown>) => wafRule(t, warren, spec);

  async function setup(t: TestContext) {
    const { origin, listener: l, base } = await originRoute(t, warren, "captcha");
    const send = async (host: string, path: string, headers: Record<string, string> = {}) => {
      const res = await request(`${base}${path}`, { headers: { host, ...headers } });
      return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
    };
    const verify = async (host: string, form: Record<string, string>) => {
      const res = await request(`${base}/.well-known/warren/challenge/verify`, {
        method: "POST",
        headers: { host, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form).toString(),
        // Warren answers within its 3 s provider timeout; if it ever did not, fail here, naming the wait.
        headersTimeout: 20_000,
      });
      return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
    };
    /** The challenge page's token for `host`. */
    const token = async (host: string) => {
      const page = await send(host, "/x");
      assert.equal(page.status, 403, page.body);
      return /name="token" value="([^"]+)"/.exec(page.body)![1]!;
    };
    return { base, send, verify, token };
  }

  it("keeps the secret write-only (list answers, audit rows, logs); keeps it on an update that sends none; refuses bad fields by name", async (t) => {
    const id = await provider(t, { name: "turnstile" });
    const list = await call("ListCaptchaProviders", {});
    assert.equal(list.status, 200, list.text);
    const p = (list.json.providers as { id: string; secretKeySet?: boolean; spec: Record<string, unknown> }[]).find((x) => x.id === id)!;
    assert.equal(p.secretKeySet, true);
    assert.equal(p.spec.siteKey, "0x4AAAAAAAsitekey");
    assert.equal(p.spec.kind, "CAPTCHA_KIND_TURNSTILE");
    assert.ok(!list.text.includes(SECRET), "the list answer never carries the secret");

    const upd = await call("UpdateCaptchaProvider", { id, spec: { name: "turnstile", kind: "CAPTCHA_KIND_TURNSTILE", siteKey: "0x4AAAAAAAsitekey2", verifyUrl: fake.url, scriptUrl: fake.scriptUrl } });
    assert.equal(upd.status, 200, upd.text);
    assert.equal((upd.json.provider as { secretKeySet?: boolean }).secretKeySet, true);
    const { openServerStore } = await import("../helpers/open-store.ts");
    const readRow = () => {
      const store = openServerStore(warren.configDir);
      try {
        return { row: store.policy.captchaProvider(id)!, audit: JSON.stringify(store.audit.recent(200)) };
      } finally {
        store.close();
      }
    };
    assert.equal(readRow().row.secret_key, SECRET, "an update without a secret keeps the stored one");
    assert.ok(!readRow().row.spec.includes(SECRET), "the spec column has no secret");
    const rot = await call("UpdateCaptchaProvider", { id, spec: { name: "turnstile", kind: "CAPTCHA_KIND_TURNSTILE", siteKey: "0x4AAAAAAAsitekey2", secretKey: SECRET2, verifyUrl: fake.url } });
    assert.equal(rot.status, 200, rot.text);
    assert.ok(!rot.text.includes(SECRET2));
    const after = readRow();
    assert.equal(after.row.secret_key, SECRET2);
    for (const s of [SECRET, SECRET2]) {
      assert.ok(!after.audit.includes(s), "audit rows never hold the secret");
      assert.ok(!JSON.stringify(warren.w.logs).includes(s), "logs never hold the secret");
    }
    assert.ok(after.audit.includes("warren.v1.PolicyService/UpdateCaptchaProvider"), "the writes are audited");

    const base = { name: "x", kind: "CAPTCHA_KIND_HCAPTCHA", siteKey: "site", secretKey: "secret" };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, name: "" }, /^spec\.name: is required/],
      [{ ...base, kind: "CAPTCHA_KIND_UNSPECIFIED" }, /^spec\.kind: /],
      [{ ...base, siteKey: "" }, /^spec\.site_key: is required/],
      [{ ...base, siteKey: "has space" }, /^spec\.site_key: /],
      [{ ...base, secretKey: "" }, /^spec\.secret_key: is required/],
      [{ ...base, verifyUrl: "http://example.com/siteverify" }, /^spec\.verify_url: must be https/],
      [{ ...base, verifyUrl: "not a url" }, /^spec\.verify_url: is not a URL/],
      [{ ...base, scriptUrl: "ftp://127.0.0.1/api.js" }, /^spec\.script_url: must be https/],
      [{ ...base, scriptUrl: "https://user:pw@js.hcaptcha.com/1/api.js" }, /^spec\.script_url: must not carry credentials/],
    ];
    for (const [spec, re] of cases) {
      const r = await call("CreateCaptchaProvider", { spec });
      assert.equal(r.json.code, "invalid_argument", `${JSON.stringify(spec)}: ${r.text}`);
      assert.match(String(r.json.message), re);
    }
    const dup = await call("CreateCaptchaProvider", { spec: { ...base, name: "turnstile" } });
    assert.equal(dup.json.code, "already_exists");

    // Rules name providers that exist; a provider in use is not deleted.
    const missing = await call("CreateWafRule", { spec: { name: "x", action: "WAF_ACTION_CHALLENGE", challenge: { captchaProviderId: "cap_nope" } } });
    assert.match(String(missing.json.message), /^spec\.challenge\.captcha_provider_id: no captcha provider cap_nope/);
    const ruleId = await rule(t, { name: "captcha <all>", action: "WAF_ACTION_CHALLENGE", challenge: { captchaProviderId: id } });
    const inUse = await call("DeleteCaptchaProvider", { id });
    assert.equal(inUse.json.code, "failed_precondition");
    assert.match(String(inUse.json.message), /used by rule "captcha <all>"/);
    assert.equal((await call("DeleteWafRule", { id: ruleId })).status, 200);
    assert.equal((await call("DeleteCaptchaProvider", { id })).status, 200);
    assert.equal((await call("ListCaptchaProviders", {})).json.providers, undefined);
  });

  it("serves the provider's widget, site key, Warren's script and the provider's, with a CSP naming the script's origin", async (t) => {
    const { send } = await setup(t);
    const hc = await provider(t, { name: "hcaptcha", kind: "CAPTCHA_KIND_HCAPTCHA", siteKey: "10000000-ffff-ffff-ffff-000000000001" });
    await rule(t, { name: "hc", scope: { hosts: ["hc.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { captchaProviderId: hc } });
    const page = await send("hc.test", "/x");
    assert.equal(page.status, 403);
    assert.match(page.body, /<div class="h-captcha" data-sitekey="10000000-ffff-ffff-ffff-000000000001" data-callback="warrenCaptchaDone"><\/div>/);
    assert.match(page.body, /<input type="hidden" name="response" value="">/);
    assert.ok(page.body.includes(`<script src="/.well-known/warren/captcha.js" defer></script><script src="${fake.scriptUrl}" defer></script>`), page.body);
    assert.ok(!/<script>/.test(page.body), "no inline script");
    assert.ok(!page.body.includes("challenge.js"), "no proof-of-work script");
    const csp = String(page.headers["content-security-policy"]);
    assert.match(csp, new RegExp(`script-src 'self' ${fake.origin};`));
    assert.match(csp, new RegExp(`frame-src ${fake.origin};`));
    assert.match(csp, new RegExp(`connect-src ${fake.origin};`));
    assert.match(csp, /form-action 'self'/);
    const js = await send("hc.test", "/.well-known/warren/captcha.js");
    assert.equal(js.status, 200);
    assert.match(js.body, /window\.warrenCaptchaDone = function \(response\)/);
    assert.match(js.body, /elements\.response\.value = response/);

    // Turnstile with its defaults: the real script and its origin.
    const ts = await provider(t, { name: "turnstile", scriptUrl: "", verifyUrl: "" });
    await rule(t, { name: "ts", scope: { hosts: ["ts.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { captchaProviderId: ts } });
    const tsPage = await send("ts.test", "/x");
    assert.match(tsPage.body, /<div class="cf-turnstile" data-sitekey="0x4AAAAAAAsitekey"/);
    assert.ok(tsPage.body.includes('<script src="https://challenges.cloudflare.com/turnstile/v0/api.js" defer>'));
    assert.match(String(tsPage.headers["content-security-policy"]), /script-src 'self' https:\/\/challenges\.cloudflare\.com; frame-src https:\/\/challenges\.cloudflare\.com;/);
  });

  it("passes a response the provider accepts (it sees secret, response and remote ip); refuses one it rejects, and proof-of-work tokens", async (t) => {
    const { send, verify, token } = await setup(t);
    const cap = await provider(t, { name: "ok" });
    const id = await rule(t, { name: "cap", scope: { hosts: ["app.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { captchaProviderId: cap, passTtlSeconds: 600 } });
    fake.mode = "accept";
    const before = fake.calls.length;
    const ok = await verify("app.test", { token: await token("app.test"), response: "widget-response-1", return: "/x?y=1" });
    assert.equal(ok.status, 303, ok.body);
    assert.equal(ok.headers.location, "/x?y=1");
    assert.match(String(ok.headers["set-cookie"]), new RegExp(`^warren_pass_${id}=\\d+\\.[A-Za-z0-9_-]+; Path=/; Max-Age=600; HttpOnly; SameSite=Lax$`));
    assert.equal(fake.calls.length, before + 1);
    const seen = fake.calls.at(-1)!;
    assert.equal(seen.contentType, "application/x-www-form-urlencoded");
    assert.deepEqual([seen.form.get("secret"), seen.form.get("response"), seen.form.get("remoteip")], [SECRET, "widget-response-1", "127.0.0.1"]);
    const pass = String(ok.headers["set-cookie"]).split(";")[0]!;
    passCookies.push(pass.split("=")[1]!);
    assert.equal((await send("app.test", "/x", { cookie: pass })).status, 200);

    fake.mode = "reject";
    const no = await verify("app.test", { token: await token("app.test"), response: "widget-response-bad" });
    assert.equal(no.status, 403);
    assert.match(no.body, /challenge_failed|The check failed/);
    assert.equal(no.headers["set-cookie"], undefined);
    assert.equal(fake.calls.length, before + 2);
    const empty = await verify("app.test", { token: await token("app.test"), response: "" });
    assert.equal(empty.status, 403, "no response: refused without asking");
    assert.equal(fake.calls.length, before + 2);

    // A proof-of-work token for this very rule (signed with the gateway's key, same fingerprint,
    // host and network) is refused even with a solving nonce and a response the provider accepts.
    fake.mode = "accept";
    const { openServerStore } = await import("../helpers/open-store.ts");
    const { policyKey } = await import("../../management/config/seed.ts");
    const { issueChallenge, clientNetwork } = await import("../../proxy/policy/challenge.ts");
    const store = openServerStore(warren.configDir);
    let key: Buffer, fingerprint: string;
    try {
      key = policyKey(store);
      fingerprint = createHash("sha256").update(store.policy.waf.get(id)!.spec).digest("base64url").slice(0, 16);
    } finally {
      store.close();
    }
    const claims = { ruleId: id, fingerprint, host: "app.test", network: clientNetwork("127.0.0.1"), expiresAt: Math.floor(Date.now() / 1000) + 60 };
    const sanity = await verify("app.test", { token: issueChallenge(key, { ...claims, difficulty: 0, check: "captcha" }), response: "r" });
    assert.equal(sanity.status, 303, "a forged captcha token passes: the key and claims are right");
    const pow = issueChallenge(key, { ...claims, difficulty: 0, check: "pow" });
    const calls = fake.calls.length;
    const refused = await verify("app.test", { token: pow, nonce: "0", response: "widget-response-1" });
    assert.equal(refused.status, 403);
    assert.equal(fake.calls.length, calls, "the provider was not asked");

    // And a captcha token is no proof of work: a PoW rule refuses one with a solving nonce.
    const powRule = await rule(t, { name: "pow", scope: { hosts: ["pow.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { difficulty: 8 } });
    const store2 = openServerStore(warren.configDir);
    let powFp: string;
    try {
      powFp = createHash("sha256").update(store2.policy.waf.get(powRule)!.spec).digest("base64url").slice(0, 16);
    } finally {
      store2.close();
    }
    const solveAndPost = async (check: "pow" | "captcha") => {
      const tok = issueChallenge(key, { ...claims, ruleId: powRule, fingerprint: powFp, host: "pow.test", difficulty: 8, check });
      let nonce = 0;
      while (createHash("sha256").update(`${tok}:${nonce}`).digest()[0] !== 0) nonce++;
      return (await verify("pow.test", { token: tok, nonce: String(nonce) })).status;
    };
    assert.equal(await solveAndPost("pow"), 303, "sanity: the PoW token passes");
    assert.equal(await solveAndPost("captcha"), 403);
  });

  it("offers a proof-of-work rule's visitors without JavaScript reCAPTCHA's no-JavaScript form, checked like any captcha", async (t) => {
    const { send, verify } = await setup(t);
    const turnstile = await provider(t, { name: "ts-nojs" });
    const recaptcha = await provider(t, { name: "rc-nojs", kind: "CAPTCHA_KIND_RECAPTCHA_V2", siteKey: "6Lc-site" });
    const wrong = await call("CreateWafRule", { spec: { name: "x", action: "WAF_ACTION_CHALLENGE", challenge: { noScript: "NO_SCRIPT_FALLBACK_CAPTCHA", noScriptCaptchaProviderId: turnstile } } });
    assert.match(String(wrong.json.message), /^spec\.challenge\.no_script_captcha_provider_id: must be a RECAPTCHA_V2 provider/);
    const ruleId = await rule(t, { name: "pow, captcha without js", scope: { hosts: ["nojs.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { difficulty: 8, noScript: "NO_SCRIPT_FALLBACK_CAPTCHA", noScriptCaptchaProviderId: recaptcha } });
    const page = await send("nojs.test", "/deep?x=1");
    assert.equal(page.status, 403);
    // The puzzle for browsers that run it, and a <noscript> form with reCAPTCHA's fallback frame for the rest.
    assert.match(page.body, /id="warren-challenge"/);
    const ns = /<noscript><form method="post" action="\/\.well-known\/warren\/challenge\/verify"><input type="hidden" name="token" value="([^"]+)">/.exec(page.body);
    assert.ok(ns, page.body);
    assert.ok(page.body.includes(`<iframe src="${fake.origin}/recaptcha/api/fallback?k=6Lc-site"`), "the provider's no-JavaScript frame");
    assert.match(String(page.headers["content-security-policy"]), new RegExp(`frame-src ${fake.origin.replace(/[.]/g, "\\.")}`));
    fake.mode = "accept";
    const n = fake.calls.length;
    const ok = await verify("nojs.test", { token: ns[1]!, response: "pasted-code", return: "/deep?x=1" });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.location, "/deep?x=1");
    assert.match(String(ok.headers["set-cookie"]), new RegExp(`^warren_pass_${ruleId}=`));
    assert.equal(fake.calls[n]?.form.get("response"), "pasted-code");
    // The no-JavaScript token is not a puzzle token, and the puzzle's is not a captcha one.
    const puzzle = /id="warren-challenge"[^>]*>.*?name="token" value="([^"]+)"/s.exec(page.body)![1]!;
    assert.equal((await verify("nojs.test", { token: puzzle, response: "pasted-code" })).status, 403);
    assert.equal((await verify("nojs.test", { token: ns[1]!, nonce: "1" })).status, 403);
  });

  it("falls back when the provider does not answer within 3 s: block → 403 waf_blocked, allow → a pass; logs the failure without the secret", async (t) => {
    const { verify, token } = await setup(t);
    const blockP = await provider(t, { name: "slow-block" });
    const allowP = await provider(t, { name: "slow-allow" });
    await rule(t, { name: "blocker", scope: { hosts: ["b.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { captchaProviderId: blockP } });
    const allowId = await rule(t, { name: "allower", scope: { hosts: ["a.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { captchaProviderId: allowP, providerFallback: "CAPTCHA_FALLBACK_ALLOW" } });
    fake.mode = "hold";
    const timed = async (host: string, tok: string) => {
      const t0 = Date.now();
      const r = await verify(host, { token: tok, response: `held-${host}` });
      return { ...r, ms: Date.now() - t0 };
    };
    const [tb, ta] = [await token("b.test"), await token("a.test")];
    const n = fake.calls.length;
    const [blocked, allowed] = await Promise.all([timed("b.test", tb), timed("a.test", ta)]);
    assert.deepEqual(
      fake.calls
        .slice(n)
        .map((c) => c.form.get("response"))
        .sort(),
      ["held-a.test", "held-b.test"],
      "the provider was asked both times",
    );
    t.diagnostic(`block fallback after ${blocked.ms} ms, allow fallback after ${allowed.ms} ms`);
    assert.equal(blocked.status, 403);
    assert.match(blocked.body, /waf_blocked|blocked/i);
    assert.equal(blocked.headers["set-cookie"], undefined);
    assert.equal(allowed.status, 303);
    assert.match(String(allowed.headers["set-cookie"]), new RegExp(`^warren_pass_${allowId}=`));
    for (const r of [blocked, allowed]) {
      assert.ok(r.ms >= 2500, `waited for the timeout (${r.ms} ms)`);
    }
    const logged = await pollUntil(
      "the provider failures in the log",
      async () => warren.w.logs.filter((x) => x.msg === "captcha provider could not be asked"),
      (v) => v.length >= 2,
    );
    assert.ok(logged.some((x) => x.rule === "blocker" && x.reason === "timeout" && x.level === 40));
    assert.ok(!JSON.stringify(warren.w.logs).includes(SECRET), "never the secret");
  });

  it("falls back at once when the provider is down (port closed) or answers 5xx", async (t) => {
    const { verify, token } = await setup(t);
    const down = await closedPortUrl();
    const blockP = await provider(t, { name: "down-block", verifyUrl: down });
    const allowP = await provider(t, { name: "down-allow", verifyUrl: down });
    await rule(t, { name: "down blocker", scope: { hosts: ["b.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { captchaProviderId: blockP, providerFallback: "CAPTCHA_FALLBACK_BLOCK" } });
    await rule(t, { name: "down allower", scope: { hosts: ["a.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { captchaProviderId: allowP, providerFallback: "CAPTCHA_FALLBACK_ALLOW" } });
    const t0 = Date.now();
    const blocked = await verify("b.test", { token: await token("b.test"), response: "r" });
    const allowed = await verify("a.test", { token: await token("a.test"), response: "r" });
    const ms = Date.now() - t0;
    t.diagnostic(`both answered in ${ms} ms`);
    assert.equal(blocked.status, 403);
    assert.match(blocked.body, /waf_blocked|blocked/i);
    assert.equal(allowed.status, 303);
    assert.ok(ms < 2000, `at once, not after the timeout (${ms} ms)`);

    // A 5xx from the provider is "cannot be asked" too, not a failed check.
    const p5 = await provider(t, { name: "five-hundred" });
    await rule(t, { name: "fiver", scope: { hosts: ["c.test"] }, action: "WAF_ACTION_CHALLENGE", challenge: { captchaProviderId: p5, providerFallback: "CAPTCHA_FALLBACK_ALLOW" } });
    fake.mode = "error500";
    const five = await verify("c.test", { token: await token("c.test"), response: "r" });
    assert.equal(five.status, 303);
  });

  it("never logged a provider secret, the challenge signing key or a pass cookie", async () => {
    await warren.stop();
    const { openServerStore } = await import("../helpers/open-store.ts");
    const store = openServerStore(warren.configDir);
    let signingKey: string;
    try {
      signingKey = store.proxy.secretMeta("policy_hmac_key")!;
    } finally {
      store.close();
    }
    assert.ok(passCookies.length > 0);
    warren.assertNoSecretsLogged([SECRET, SECRET2, signingKey, warren.adminCookie, ...passCookies]);
  });
});
