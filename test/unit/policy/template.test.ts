import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CompiledTemplate, MAX_TEMPLATE_BYTES, TemplateError } from "../../../proxy/policy/template.ts";

describe("response templates", () => {
  it("escapes {{x}} in HTML, never {{{x}}}, and leaves other content types raw", () => {
    const html = CompiledTemplate.compile("generic_body", "", "<p>{{ path }}</p>{{{path}}}");
    assert.equal(html.contentType, "text/html; charset=utf-8");
    assert.equal(html.render({ path: `/<a href="x">'&` }), `<p>/&lt;a href=&quot;x&quot;&gt;&#39;&amp;</p>/<a href="x">'&`);
    const text = CompiledTemplate.compile("generic_body", "text/plain", "{{path}}");
    assert.equal(text.render({ path: "<b>" }), "<b>");
    assert.equal(html.render({}), "<p></p>", "missing values render empty");
    assert.deepEqual([...html.uses], ["path"]);
  });

  it("refuses unknown, malformed and unclosed placeholders with their offset, and oversize bodies", () => {
    const refuse = (body: string, re: RegExp, offset?: number) =>
      assert.throws(
        () => CompiledTemplate.compile("generic_body", "", body),
        (e: unknown) => e instanceof TemplateError && re.test(e.message) && (offset === undefined || e.offset === offset),
        body.slice(0, 40),
      );
    refuse("ab{{secret}}", /unknown placeholder \{\{secret\}\} at offset 2/, 2);
    refuse("{{status", /unclosed \{\{ at offset 0/, 0);
    refuse("x {{ two words }}", /is not a placeholder/, 2);
    refuse("{{{status}", /unclosed \{\{\{/);
    refuse("x".repeat(MAX_TEMPLATE_BYTES + 1), /at most/);
  });
});

describe("built-in policy pages", () => {
  it("are light: each page with its scripts under 20 KiB, nothing loaded from elsewhere", async () => {
    const { BLOCKED_PAGE, CHALLENGE_PAGE, WAITING_ROOM_PAGE } = await import("../../../management/config/seed.ts");
    const { CHALLENGE_SCRIPT, CHALLENGE_WORKER, CAPTCHA_SCRIPT } = await import("../../../proxy/policy/challenge-page.ts");
    const pages: [string, string][] = [
      ["blocked", BLOCKED_PAGE],
      ["challenge", CHALLENGE_PAGE + CHALLENGE_SCRIPT + CHALLENGE_WORKER + CAPTCHA_SCRIPT],
      ["waiting room", WAITING_ROOM_PAGE],
    ];
    for (const [name, body] of pages) {
      assert.ok(Buffer.byteLength(body) < 20 * 1024, `${name}: ${Buffer.byteLength(body)} bytes`);
      assert.doesNotMatch(body, /(src|href)=["']?(https?:)?\/\//, `${name} loads nothing from elsewhere`);
    }
  });
});
