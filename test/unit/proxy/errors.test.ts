import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { publicMessage, renderErrorPage } from "../../../proxy/errors.ts";
import { ERROR_CODES } from "../../../lib/errors.ts";

describe("renderErrorPage", () => {
  it("renders HTML by default, carrying code and request id, escaping the id", () => {
    for (const accept of [undefined, "", "text/html", "*/*", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/json;q=0.5, text/html"]) {
      const p = renderErrorPage("no_healthy_target", "req_<b>1", accept);
      assert.equal(p.status, 503);
      assert.equal(p.contentType, "text/html; charset=utf-8", String(accept));
      assert.match(p.body, /503 Service Unavailable/);
      assert.match(p.body, /no_healthy_target/);
      assert.match(p.body, /req_&lt;b&gt;1/);
      assert.ok(!p.body.includes("<b>1"));
    }
  });

  it("renders JSON when Accept prefers it", () => {
    for (const accept of ["application/json", "application/problem+json", "text/html;q=0.5, application/json", "application/json, */*;q=0.1", "APPLICATION/JSON", "application/*"]) {
      const p = renderErrorPage("upstream_timeout", "req_1", accept);
      assert.equal(p.contentType, "application/json; charset=utf-8", accept);
      assert.deepEqual(JSON.parse(p.body), {
        error: { code: "upstream_timeout", status: 504, message: publicMessage("upstream_timeout"), request_id: "req_1" },
      });
    }
    assert.equal(renderErrorPage("upstream_timeout", "r", "application/json;q=0").contentType, "text/html; charset=utf-8");
    assert.equal(renderErrorPage("upstream_timeout", "r", "text/html, application/json").contentType, "text/html; charset=utf-8", "ties go to HTML");
  });

  it("never leaks anything but the table's message", () => {
    for (const code of ERROR_CODES) {
      for (const accept of ["text/html", "application/json"]) {
        const body = renderErrorPage(code, "rid", accept).body;
        assert.ok(!/\d+\.\d+\.\d+\.\d+|stack|Error:/.test(body), `${code} ${accept}`);
      }
    }
  });
});
