import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isProxyErrorCode, PROXY_ERROR_CODES, ProxyError, publicMessage, renderErrorPage, statusOf } from "../../../proxy/errors.ts";
import { classifyUpstreamError, clientErrorCode, toProxyError } from "../../../proxy/node-error.ts";
import { TunnelError, type TunnelErrorCode } from "../../../tunnel/errors.ts";

describe("the error table", () => {
  it("maps the issue's codes to their statuses", () => {
    const expected: Record<string, number> = {
      path_dot_segment: 400,
      path_backslash: 400,
      path_encoded_separator: 400,
      bad_host: 400,
      bad_request: 400,
      route_not_found: 404,
      method_not_allowed: 405,
      body_too_large: 413,
      header_too_large: 431,
      upstream_connect_failed: 502,
      agent_disconnected: 502,
      agent_dial_failed: 502,
      agent_denied: 502,
      no_healthy_target: 503,
      upstream_timeout: 504,
      agent_dial_timeout: 504,
    };
    for (const [code, status] of Object.entries(expected)) {
      assert.ok(isProxyErrorCode(code), code);
      assert.equal(statusOf(code), status, code);
    }
    assert.equal(isProxyErrorCode("toString"), false, "inherited properties are not codes");
    assert.equal(isProxyErrorCode("nope"), false);
    for (const code of PROXY_ERROR_CODES) {
      const s = statusOf(code);
      assert.ok(s >= 400 && s <= 599, code);
      assert.ok(publicMessage(code).length > 0);
    }
  });

  it("ProxyError carries code and status, and keeps the cause out of the public message", () => {
    const cause = new Error("connect ECONNREFUSED 10.1.2.3:8080");
    const e = new ProxyError("upstream_connect_failed", undefined, { cause });
    assert.ok(e instanceof Error && e instanceof ProxyError);
    assert.equal(e.code, "upstream_connect_failed");
    assert.equal(e.status, 502);
    assert.equal(e.cause, cause);
    assert.equal(e.message, publicMessage("upstream_connect_failed"));
    assert.equal(new ProxyError("body_too_large", "for logs").message, "for logs");
  });
});

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
    for (const code of PROXY_ERROR_CODES) {
      for (const accept of ["text/html", "application/json"]) {
        const body = renderErrorPage(code, "rid", accept).body;
        assert.ok(!/\d+\.\d+\.\d+\.\d+|stack|Error:/.test(body), `${code} ${accept}`);
      }
    }
  });
});

describe("classifyUpstreamError", () => {
  const withCode = (code: string, msg = code) => Object.assign(new Error(msg), { code });

  it("maps connect failures (retryable, counted by passive health)", () => {
    for (const c of ["ECONNREFUSED", "EHOSTUNREACH", "ENOTFOUND", "DEPTH_ZERO_SELF_SIGNED_CERT", "ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_SOMETHING_NEW"]) {
      assert.deepEqual(classifyUpstreamError(withCode(c)), { code: "upstream_connect_failed", connectPhase: true, countsForHealth: true }, c);
    }
    assert.deepEqual(classifyUpstreamError(withCode("UND_ERR_CONNECT_TIMEOUT")), { code: "upstream_timeout", connectPhase: true, countsForHealth: true });
  });

  it("maps failures after connecting (not retryable)", () => {
    assert.deepEqual(classifyUpstreamError(withCode("UND_ERR_HEADERS_TIMEOUT")), { code: "upstream_timeout", connectPhase: false, countsForHealth: true });
    assert.equal(classifyUpstreamError(withCode("ECONNRESET")).code, "upstream_reset");
    assert.equal(classifyUpstreamError(withCode("UND_ERR_SOCKET")).connectPhase, false);
    assert.equal(classifyUpstreamError(withCode("HPE_INVALID_CHUNK_SIZE")).code, "upstream_bad_response");
  });

  it("maps tunnel errors to their own codes, through causes", () => {
    const codes: TunnelErrorCode[] = ["agent_disconnected", "agent_dial_failed", "agent_dial_timeout", "agent_denied"];
    for (const c of codes) {
      const t = new TunnelError(c, "x");
      assert.equal(classifyUpstreamError(t).code, c);
      assert.equal(classifyUpstreamError(new Error("wrapped", { cause: t })).code, c);
      assert.equal(classifyUpstreamError(t).connectPhase, true);
    }
    assert.equal(classifyUpstreamError(new TunnelError("agent_denied", "x")).countsForHealth, false, "a denial is configuration, not health");
  });

  it("falls back to internal_error and wraps with the cause kept", () => {
    assert.equal(classifyUpstreamError(new Error("?")).code, "internal_error");
    assert.equal(classifyUpstreamError("string").code, "internal_error");
    assert.equal(classifyUpstreamError(null).code, "internal_error");
    const orig = withCode("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.1:80");
    const pe = toProxyError(orig);
    assert.ok(pe instanceof ProxyError);
    assert.equal(pe.code, "upstream_connect_failed");
    assert.equal(pe.cause, orig);
    assert.equal(toProxyError(pe), pe);
  });

  it("maps node:http clientError codes", () => {
    const withC = (code: string) => Object.assign(new Error(code), { code });
    assert.equal(clientErrorCode(withC("HPE_HEADER_OVERFLOW")), "header_too_large");
    assert.equal(clientErrorCode(withC("ERR_HTTP_REQUEST_TIMEOUT")), "request_timeout");
    assert.equal(clientErrorCode(withC("HPE_UNEXPECTED_CONTENT_LENGTH")), "bad_framing");
    assert.equal(clientErrorCode(withC("HPE_INVALID_METHOD")), "bad_request");
    assert.equal(clientErrorCode(withC("ECONNRESET")), undefined);
  });
});
