import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ERROR_CODES, WarrenError, connectCodeOf, isErrorCode, publicMessage, statusOf } from "../../../lib/errors.ts";
import { clientErrorCode, mapError, toWarrenError } from "../../../lib/error-mapper.ts";
import { TunnelError, type TunnelErrorCode } from "../../../tunnel/errors.ts";
import { YamuxError } from "../../../tunnel/yamux/errors.ts";
import { PkiError } from "../../../management/pki/errors.ts";

describe("the error table", () => {
  it("maps codes to their statuses and Connect codes", () => {
    const expected: Record<string, [number, string]> = {
      path_dot_segment: [400, "invalid_argument"],
      bad_request: [400, "invalid_argument"],
      route_not_found: [404, "not_found"],
      method_not_allowed: [405, "unimplemented"],
      body_too_large: [413, "resource_exhausted"],
      header_too_large: [431, "resource_exhausted"],
      upstream_connect_failed: [502, "unavailable"],
      upstream_reset: [502, "unavailable"],
      agent_disconnected: [502, "unavailable"],
      agent_denied: [502, "permission_denied"],
      no_healthy_target: [503, "unavailable"],
      upstream_timeout: [504, "deadline_exceeded"],
      invalid_argument: [400, "invalid_argument"],
      unauthenticated: [401, "unauthenticated"],
      login_throttled: [429, "resource_exhausted"],
      tunnel_version_unsupported: [426, "failed_precondition"],
      tunnel_already_connected: [409, "already_exists"],
      yamux_session_closed: [502, "unavailable"],
      pki_bad_csr: [400, "invalid_argument"],
      internal_error: [500, "internal"],
    };
    for (const [code, [status, connect]] of Object.entries(expected)) {
      assert.ok(isErrorCode(code), code);
      assert.equal(statusOf(code), status, code);
      assert.equal(connectCodeOf(code), connect, code);
    }
    assert.equal(isErrorCode("toString"), false, "inherited properties are not codes");
    assert.equal(isErrorCode("nope"), false);
    for (const code of ERROR_CODES) {
      assert.match(code, /^[a-z][a-z0-9_]*$/, "codes are lower snake case");
      const s = statusOf(code);
      assert.ok(s >= 400 && s <= 599, code);
      assert.ok(publicMessage(code).length > 0);
    }
  });

  it("WarrenError carries code and status, and keeps the cause out of the public message", () => {
    const cause = new Error("connect ECONNREFUSED 10.1.2.3:8080");
    const e = new WarrenError("upstream_connect_failed", undefined, { cause });
    assert.ok(e instanceof Error);
    assert.equal(e.code, "upstream_connect_failed");
    assert.equal(e.status, 502);
    assert.equal(e.connectCode, "unavailable");
    assert.equal(e.cause, cause);
    assert.equal(e.message, publicMessage("upstream_connect_failed"));
    assert.equal(new WarrenError("body_too_large", "for logs").message, "for logs");
  });

  it("every module's error is a WarrenError with a table code", () => {
    for (const e of [new TunnelError("agent_denied", "x"), new YamuxError("yamux_stream_reset"), new PkiError("pki_bad_csr", "x")]) {
      assert.ok(e instanceof WarrenError, e.name);
      assert.ok(isErrorCode(e.code));
    }
    assert.equal(new YamuxError("yamux_stream_reset").message, publicMessage("yamux_stream_reset"));
  });
});

describe("mapError", () => {
  const withCode = (code: string, msg = code) => Object.assign(new Error(msg), { code });

  it("maps connect failures (the connect phase: nothing reached the upstream)", () => {
    for (const c of ["ECONNREFUSED", "EHOSTUNREACH", "ENOTFOUND", "DEPTH_ZERO_SELF_SIGNED_CERT", "ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_SOMETHING_NEW"]) {
      assert.deepEqual(mapError(withCode(c)), { code: "upstream_connect_failed", phase: "connect", known: true }, c);
    }
    assert.deepEqual(mapError(withCode("UND_ERR_CONNECT_TIMEOUT")), { code: "upstream_timeout", phase: "connect", known: true });
  });

  it("maps failures after connecting", () => {
    assert.deepEqual(mapError(withCode("UND_ERR_HEADERS_TIMEOUT")), { code: "upstream_timeout", phase: "exchange", known: true });
    assert.equal(mapError(withCode("ECONNRESET")).code, "upstream_reset");
    assert.equal(mapError(withCode("UND_ERR_SOCKET")).phase, "exchange");
    assert.equal(mapError(withCode("HPE_INVALID_CONSTANT")).code, "upstream_bad_response");
    assert.equal(mapError(withCode("HPE_INVALID_CHUNK_SIZE")).code, "upstream_bad_response");
    assert.equal(mapError(Object.assign(new Error("Response does not match the HTTP/1.1 protocol"), { name: "HTTPParserError" })).code, "upstream_bad_response", "undici's parser error may have no code");
  });

  it("maps tunnel errors to their own codes, through causes", () => {
    const codes: TunnelErrorCode[] = ["agent_disconnected", "agent_dial_failed", "agent_dial_timeout", "agent_denied"];
    for (const c of codes) {
      const t = new TunnelError(c, "x");
      assert.equal(mapError(t).code, c);
      assert.equal(mapError(new Error("wrapped", { cause: t })).code, c);
      assert.equal(mapError(t).phase, "connect");
    }
  });

  it("maps Yamux errors to what they mean for a request, never internal_error", () => {
    assert.equal(mapError(new YamuxError("yamux_session_closed")).code, "agent_disconnected");
    assert.equal(mapError(new YamuxError("yamux_keepalive_timeout")).code, "agent_disconnected");
    assert.equal(mapError(new YamuxError("yamux_stream_reset")).code, "upstream_reset");
    assert.equal(mapError(Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET", cause: new YamuxError("yamux_session_closed") })).code, "upstream_reset");
    assert.equal(mapError(new Error("wrapped", { cause: new YamuxError("yamux_session_closed") })).code, "agent_disconnected");
  });

  it("falls back to internal_error and wraps with the cause kept", () => {
    assert.deepEqual(mapError(new Error("?")), { code: "internal_error", phase: "exchange", known: false });
    assert.equal(mapError("string").code, "internal_error");
    assert.equal(mapError(null).code, "internal_error");
    const orig = withCode("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.1:80");
    const we = toWarrenError(orig);
    assert.ok(we instanceof WarrenError);
    assert.equal(we.code, "upstream_connect_failed");
    assert.equal(we.cause, orig);
    assert.equal(toWarrenError(we), we);
  });

  it("maps node:http clientError codes", () => {
    assert.equal(clientErrorCode(withCode("HPE_HEADER_OVERFLOW")), "header_too_large");
    assert.equal(clientErrorCode(withCode("ERR_HTTP_REQUEST_TIMEOUT")), "request_timeout");
    assert.equal(clientErrorCode(withCode("HPE_UNEXPECTED_CONTENT_LENGTH")), "bad_framing");
    assert.equal(clientErrorCode(withCode("HPE_INVALID_METHOD")), "bad_request");
    assert.equal(clientErrorCode(withCode("ECONNRESET")), undefined);
  });
});
