// The WAF rule and template editors' pure helpers (management/ui/src/lib/policy-form.ts): where a CEL
// error points in the textarea, template offsets as line and column, scope text ↔ lists, rule spec
// ↔ form, and the priority changes that move a rule.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { CaptchaFallback, CaptchaKind, CaptchaProviderSchema, NoScriptFallback, WaitingRoomActivation, WafAction, WafRuleSchema, WafRuleSpecSchema } from "../../../proto/gen/warren/v1/policy_pb.ts";
import { actionSummary, FormError, formToProviderSpec, formToRuleSpec, providerToForm, hasInlineActiveContent, isHtml, lineColumnOf, movePriorities, offsetOf, parseLineColumn, parseOffset, ruleToForm, scopeSummary, specWith, splitList, whenErrorOffset } from "../../../management/ui/src/lib/policy-form.ts";

describe("CEL error positions", () => {
  it("parses line and column from the server's message", () => {
    assert.deepEqual(parseLineColumn("line 2, column 5: undeclared reference to 'foo'"), { line: 2, column: 5 });
    assert.equal(parseLineColumn("must be at most 4096 bytes"), undefined);
  });
  it("turns a 1-based line and column into an offset, clamped to the line and the text", () => {
    const src = "method == 'POST'\n&& path.matches(host)";
    assert.equal(offsetOf(src, 1, 1), 0);
    assert.equal(offsetOf(src, 1, 8), 7);
    assert.equal(offsetOf(src, 2, 1), 17);
    assert.equal(offsetOf(src, 2, 9), 25);
    assert.equal(src.slice(offsetOf(src, 2, 9)), "matches(host)");
    assert.equal(offsetOf(src, 1, 99), 16, "past the line's end: its end");
    assert.equal(offsetOf(src, 9, 1), src.length, "past the last line: the end");
    assert.equal(offsetOf("", 1, 1), 0);
  });
  it("counts from the first non-blank character, as the server trims before checking", () => {
    const src = "\n  path.matches(host)";
    assert.equal(whenErrorOffset(src, "line 1, column 6: bad"), 8);
    assert.equal(src.slice(8), "matches(host)");
    assert.equal(whenErrorOffset(src, "no position"), undefined);
  });
});

describe("template error positions", () => {
  it("reads the offset and turns it into a line and column", () => {
    const body = "<h1>{{status}}</h1>\n<p>{{x}}</p>";
    const msg = `unknown placeholder {{x}} at offset ${body.indexOf("{{x}}")} (known: status)`;
    const off = parseOffset(msg)!;
    assert.equal(off, 23);
    assert.deepEqual(lineColumnOf(body, off), { line: 2, column: 4 });
    assert.equal(parseOffset("must contain {{status}}"), undefined);
    assert.deepEqual(lineColumnOf("abc", 0), { line: 1, column: 1 });
  });
  it("tells HTML from text, and HTML with inline active content", () => {
    assert.equal(isHtml(""), true, "empty = text/html");
    assert.equal(isHtml("text/html; charset=utf-8"), true);
    assert.equal(isHtml("text/plain"), false);
    assert.equal(hasInlineActiveContent("<style>body{}</style>"), true);
    assert.equal(hasInlineActiveContent('<p style="color:red">'), true);
    assert.equal(hasInlineActiveContent('<img onerror="x">'), true);
    assert.equal(hasInlineActiveContent("<h1>Blocked</h1><p>styles are fine as words</p>"), false);
  });
});

describe("rule form", () => {
  it("splits comma-separated scope text and summarizes a scope", () => {
    assert.deepEqual(splitList(" app.test, *.example.org ,, "), ["app.test", "*.example.org"]);
    assert.equal(scopeSummary(undefined), "every request");
    assert.equal(scopeSummary(create(WafRuleSpecSchema, { scope: { hosts: ["app.test"], pathPrefixes: ["/admin"], methods: ["POST", "PUT"] } }).scope), "hosts app.test · prefixes /admin · methods POST, PUT");
    assert.equal(scopeSummary(create(WafRuleSpecSchema, { scope: { methods: ["GET"] } }).scope), "methods GET");
  });

  it("round-trips a block rule with a template, and one with an inline body", () => {
    const tpl = create(WafRuleSpecSchema, { name: "r", priority: -3, enabled: false, scope: { hosts: ["app.test"], pathPrefixes: ["/admin", "/x"], methods: ["POST"] }, when: 'method == "POST"', action: WafAction.BLOCK, block: { status: 451, templateId: "tpl_1", headers: [{ name: "x-why", value: "legal" }] } });
    const f = ruleToForm(tpl);
    assert.deepEqual([f.hosts, f.pathPrefixes, f.methods, f.priority, f.enabled, f.bodySource, f.status], ["app.test", "/admin, /x", "POST", "-3", false, "template", "451"]);
    assert.deepEqual(formToRuleSpec(f), tpl);
    const inline = create(WafRuleSpecSchema, { name: "i", enabled: true, scope: {}, action: WafAction.BLOCK, block: { body: "no", contentType: "text/plain" } });
    assert.equal(ruleToForm(inline).bodySource, "inline");
    assert.deepEqual(formToRuleSpec(ruleToForm(inline)), inline);
  });

  it("sends only the chosen body source, no block for allow, methods upper case; refuses a non-number", () => {
    const f = ruleToForm(undefined);
    assert.deepEqual([f.enabled, f.action, f.bodySource], [true, WafAction.BLOCK, "default"]);
    f.name = "n";
    f.methods = "post get";
    f.templateId = "tpl_1";
    f.body = "left over";
    const s = formToRuleSpec(f);
    assert.deepEqual(s.scope?.methods, ["POST", "GET"]);
    assert.deepEqual([s.block?.templateId, s.block?.body, s.block?.status], ["", "", 0]);
    f.action = WafAction.ALLOW;
    assert.equal(formToRuleSpec(f).block, undefined);
    f.priority = "first";
    assert.throws(() => formToRuleSpec(f), (e: unknown) => e instanceof FormError && e.problem.field === "priority");
  });
});

describe("captcha in the rule form and the provider form", () => {
  it("round-trips a captcha challenge (provider and fallback), sending no difficulty for it", () => {
    const spec = create(WafRuleSpecSchema, { name: "c", enabled: true, scope: {}, action: WafAction.CHALLENGE, challenge: { passTtlSeconds: 600, captchaProviderId: "cap_1", providerFallback: CaptchaFallback.ALLOW } });
    const f = ruleToForm(spec);
    assert.deepEqual([f.captchaProviderId, f.providerFallback], ["cap_1", CaptchaFallback.ALLOW]);
    assert.deepEqual(formToRuleSpec(f), spec);
    f.difficulty = "20";
    assert.equal(formToRuleSpec(f).challenge?.difficulty, 0, "difficulty is for proof of work only");
    assert.equal(actionSummary(spec), "challenge (captcha)");
  });

  it("sends proof of work with the block fallback when no provider is chosen", () => {
    const f = ruleToForm(undefined);
    f.name = "p";
    f.action = WafAction.CHALLENGE;
    f.difficulty = "12";
    f.providerFallback = CaptchaFallback.ALLOW;
    const ch = formToRuleSpec(f).challenge!;
    assert.deepEqual([ch.captchaProviderId, ch.providerFallback, ch.difficulty], ["", CaptchaFallback.BLOCK, 12]);
    assert.equal(ruleToForm(undefined).providerFallback, CaptchaFallback.BLOCK, "block by default");
  });

  it("never fills the secret into the provider form; an untouched secret is sent empty (kept by the server)", () => {
    const p = create(CaptchaProviderSchema, { id: "cap_1", spec: { name: "ts", kind: CaptchaKind.HCAPTCHA, siteKey: "site", verifyUrl: "https://v.test/x" }, secretKeySet: true });
    const f = providerToForm(p);
    assert.deepEqual([f.name, f.kind, f.siteKey, f.secretKey, f.verifyUrl, f.scriptUrl], ["ts", CaptchaKind.HCAPTCHA, "site", "", "https://v.test/x", ""]);
    assert.equal(formToProviderSpec(f).secretKey, "");
    f.secretKey = "  new-secret ";
    f.name = " ts2 ";
    const spec = formToProviderSpec(f);
    assert.deepEqual([spec.name, spec.secretKey], ["ts2", "new-secret"]);
    assert.equal(providerToForm(undefined).kind, CaptchaKind.TURNSTILE, "a new provider starts as Turnstile");
  });
});

describe("waiting room rule form", () => {
  it("round-trips an automatic waiting room with a custom page", () => {
    const spec = create(WafRuleSpecSchema, {
      name: "busy",
      enabled: true,
      scope: { pathPrefixes: ["/shop"] },
      action: WafAction.WAITING_ROOM,
      waitingRoom: { maxAdmitted: 50, admissionTtlSeconds: 120, pollIntervalSeconds: 3, queueTimeoutSeconds: 30, maxQueued: 500, activation: WaitingRoomActivation.AUTOMATIC, requestsPerSecondThreshold: 200, minActiveSeconds: 10, quietSeconds: 60, templateId: "tpl_w" },
    });
    const f = ruleToForm(spec);
    assert.deepEqual([f.action, f.waitingRoom.maxAdmitted, f.waitingRoom.automatic, f.waitingRoom.activeRequests, f.waitingRoom.requestsPerSecond], [WafAction.WAITING_ROOM, "50", true, "", "200"]);
    assert.deepEqual(formToRuleSpec(f), spec);
    assert.equal(actionSummary(spec), "waiting room (50 at once, automatic)");
  });

  it("sends no thresholds when always on, no waiting room for other actions; names the field of a non-number", () => {
    const f = ruleToForm(undefined);
    f.name = "q";
    f.action = WafAction.WAITING_ROOM;
    f.waitingRoom.maxAdmitted = "2";
    f.waitingRoom.requestsPerSecond = "9"; // typed, then automatic left off
    const s = formToRuleSpec(f);
    assert.deepEqual([s.waitingRoom?.maxAdmitted, s.waitingRoom?.activation, s.waitingRoom?.requestsPerSecondThreshold, s.waitingRoom?.admissionTtlSeconds], [2, WaitingRoomActivation.ALWAYS, 0, 0]);
    assert.equal(actionSummary(s), "waiting room (2 at once)");
    f.action = WafAction.BLOCK;
    assert.equal(formToRuleSpec(f).waitingRoom, undefined);
    f.action = WafAction.WAITING_ROOM;
    f.waitingRoom.pollInterval = "soon";
    assert.throws(() => formToRuleSpec(f), (e: unknown) => e instanceof FormError && e.problem.field === "waiting_room.poll_interval_seconds");
  });
});

describe("moving a rule", () => {
  const rule = (id: string, priority: number) => create(WafRuleSchema, { id, spec: { name: id, priority } });
  it("swaps priorities with the neighbour, or steps past it when they are equal", () => {
    const rules = [rule("a", 0), rule("b", 10), rule("c", 10)];
    assert.deepEqual(movePriorities(rules, 1, -1), [
      { id: "b", priority: 0 },
      { id: "a", priority: 10 },
    ]);
    assert.deepEqual(movePriorities(rules, 1, 1), [{ id: "b", priority: 11 }]);
    assert.deepEqual(movePriorities(rules, 2, -1), [{ id: "c", priority: 9 }]);
    assert.deepEqual(movePriorities(rules, 0, -1), [], "the first cannot go up");
    assert.deepEqual(movePriorities(rules, 2, 1), [], "the last cannot go down");
  });
  it("copies the spec with the change, leaving the rule as it was", () => {
    const r = rule("a", 5);
    const s = specWith(r, { enabled: false });
    assert.deepEqual([s.enabled, s.priority, r.spec?.enabled], [false, 5, undefined]);
  });
});

describe("the no-JavaScript answer in the rule form", () => {
  it("round-trips block and reCAPTCHA answers, and sends no provider unless the answer is the captcha", () => {
    const spec = create(WafRuleSpecSchema, { name: "n", enabled: true, scope: {}, action: WafAction.CHALLENGE, challenge: { difficulty: 12, passTtlSeconds: 600, noScript: NoScriptFallback.CAPTCHA, noScriptCaptchaProviderId: "cap_rc" } });
    const f = ruleToForm(spec);
    assert.deepEqual([f.noScript, f.noScriptProviderId], [NoScriptFallback.CAPTCHA, "cap_rc"]);
    assert.deepEqual(formToRuleSpec(f), spec);
    f.noScript = NoScriptFallback.BLOCK;
    assert.deepEqual([formToRuleSpec(f).challenge?.noScript, formToRuleSpec(f).challenge?.noScriptCaptchaProviderId], [NoScriptFallback.BLOCK, ""]);
    assert.equal(ruleToForm(undefined).noScript, NoScriptFallback.ASK, "asking is the default");
  });
});
