import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkFraming, checkHostHeader, checkRequestTarget, parseAuthority, type TargetCheck } from "../../../proxy/hygiene.ts";
import { isErrorCode, statusOf } from "../../../proxy/errors.ts";

function codeOf(r: TargetCheck): string {
  return r.ok ? "ok" : r.code;
}

function target(t: string, method = "GET", host: string | undefined = "example.com"): TargetCheck {
  return checkRequestTarget(t, method, host);
}

describe("checkRequestTarget", () => {
  it("rejects the issue's path cases before routing, and passes %2F raw when the route allows it", () => {
    assert.equal(codeOf(target("/a/../b")), "path_dot_segment");
    assert.equal(codeOf(target("/a/%2e%2e/b")), "path_dot_segment");
    assert.equal(codeOf(target("/a\\b")), "path_backslash");
    const enc = target("/a%2Fb");
    assert.ok(enc.ok && enc.encodedSeparator);
    assert.equal(enc.forwardTarget, "/a%2Fb", "forwarded raw");
    assert.equal(enc.routingPath, "/a%2Fb");
    for (const code of ["path_dot_segment", "path_backslash", "path_encoded_separator"]) {
      assert.ok(isErrorCode(code));
      assert.equal(statusOf(code), 400);
    }
  });

  it("rejects every spelling of a dot segment", () => {
    const dots = [
      "/..",
      "/.",
      "/a/.",
      "/a/..",
      "/a/./b",
      "/./a",
      "/a/../",
      "/%2e",
      "/%2E%2E",
      "/a/%2E./b",
      "/a/.%2e/b",
      "/a/%2e%2E",
      "/a/..;/b",
      "/a/..;jsessionid=1/b",
      "/a/.;x",
      "/a%2F..%2Fb",
      "/a%5c..%5cb",
      "/a/..%2Fb",
      "/a/..?x=1",
    ];
    for (const p of dots) assert.equal(codeOf(target(p)), "path_dot_segment", p);
  });

  it("accepts dots that are not whole segments", () => {
    for (const p of ["/...", "/a/.b", "/a/b.", "/.well-known/acme-challenge/x", "/v1%2e2", "/a..b", "/..a", "/a/...;x", "/a/;../b", "/x/%2e%2e%2e", "/a?x=/../"]) {
      const r = target(p);
      assert.ok(r.ok, `${p} → ${codeOf(r)}`);
    }
  });

  it("rejects backslashes, invalid or overlong percent-encoding and control characters", () => {
    assert.equal(codeOf(target("/a\\")), "path_backslash");
    assert.equal(codeOf(target("/a%")), "path_bad_encoding");
    assert.equal(codeOf(target("/a%2")), "path_bad_encoding");
    assert.equal(codeOf(target("/a%g0")), "path_bad_encoding");
    assert.equal(codeOf(target("/a%2?x")), "path_bad_encoding");
    assert.equal(codeOf(target("/%C0%AE%C0%AE/etc")), "path_bad_encoding");
    assert.equal(codeOf(target("/%c1%9c")), "path_bad_encoding");
    assert.equal(codeOf(target("/a\x00b")), "target_control_char");
    assert.equal(codeOf(target("/a\rb")), "target_control_char");
    assert.equal(codeOf(target("/a%00b")), "target_control_char");
    assert.equal(codeOf(target("/a%0d%0aSet-Cookie:x")), "target_control_char");
    assert.equal(codeOf(target("/a%7F")), "target_control_char");
    assert.equal(codeOf(target("/a?q=\x01")), "target_control_char");
    assert.equal(codeOf(target("/a b")), "bad_request_target");
    assert.equal(codeOf(target("/a#frag")), "bad_request_target");
    assert.equal(codeOf(target("/a?x#frag")), "bad_request_target");
  });

  it("leaves the query's percent-encoding alone and splits path from query", () => {
    const r = target("/p%41th/x?q=100%&a=%2F..%2F");
    assert.ok(r.ok);
    assert.equal(r.form, "origin");
    assert.equal(r.path, "/p%41th/x");
    assert.equal(r.query, "?q=100%&a=%2F..%2F");
    assert.equal(r.forwardTarget, "/p%41th/x?q=100%&a=%2F..%2F");
    assert.equal(r.routingPath, "/pAth/x");
    assert.equal(r.encodedSeparator, false, "an encoded slash in the query is not in the path");
  });

  it("flags %2F and %5C in either case, and nothing else", () => {
    for (const p of ["/a%2fb", "/a%2Fb", "/a%5cb", "/a%5Cb"]) {
      const r = target(p);
      assert.ok(r.ok && r.encodedSeparator, p);
    }
    for (const p of ["/a%2eb", "/a%25b", "/a%2Gb", "/a/b"]) {
      const r = target(p);
      assert.ok(!(r.ok && r.encodedSeparator), p);
    }
    const r = target("/a%252Fb");
    assert.ok(r.ok && !r.encodedSeparator);
  });

  it("accepts * only for OPTIONS and refuses other forms", () => {
    const r = target("*", "OPTIONS");
    assert.ok(r.ok && r.form === "asterisk");
    assert.equal(codeOf(target("*", "GET")), "bad_request_target");
    assert.equal(codeOf(target("example.com:443", "CONNECT")), "bad_request_target");
    assert.equal(codeOf(target("a/b")), "bad_request_target");
    assert.equal(codeOf(target("")), "bad_request_target");
    assert.equal(codeOf(target("ftp://example.com/x")), "bad_request_target");
  });

  it("reduces absolute-form to origin-form when the authority matches Host", () => {
    const r = target("http://Example.com/a/b?x=1", "GET", "example.com");
    assert.ok(r.ok);
    assert.equal(r.form, "absolute");
    assert.equal(r.path, "/a/b");
    assert.equal(r.forwardTarget, "/a/b?x=1");
    const bare = target("https://example.com", "GET", "example.com:443");
    assert.ok(bare.ok && bare.path === "/" && bare.forwardTarget === "/");
    const q = target("http://example.com?x", "GET", "example.com:80");
    assert.ok(q.ok && q.path === "/" && q.forwardTarget === "/?x");
    const noHost = checkRequestTarget("http://example.com:8080/x", "GET", undefined);
    assert.ok(noHost.ok, "HTTP/1.0 without Host: the authority is the host");
  });

  it("rejects absolute-form naming another host or port, userinfo, or bad paths", () => {
    assert.equal(codeOf(target("http://evil.com/x", "GET", "example.com")), "absolute_uri_host_mismatch");
    assert.equal(codeOf(target("http://example.com:8080/x", "GET", "example.com")), "absolute_uri_host_mismatch");
    assert.equal(codeOf(target("https://example.com/x", "GET", "example.com:80")), "absolute_uri_host_mismatch");
    assert.equal(codeOf(target("http://example.com/x", "GET", "bad host")), "absolute_uri_host_mismatch");
    assert.equal(codeOf(target("http://user@example.com/x", "GET", "example.com")), "bad_request_target");
    assert.equal(codeOf(target("http:///x", "GET", "example.com")), "bad_request_target");
    assert.equal(codeOf(target("http://example.com/a/../b", "GET", "example.com")), "path_dot_segment");
    assert.equal(codeOf(target("http://example.com#x", "GET", "example.com")), "bad_request_target");
  });
});

describe("checkHostHeader", () => {
  it("requires exactly one valid Host on HTTP/1.1", () => {
    assert.deepEqual(checkHostHeader(["Host", "App.Example.com:8080", "Accept", "*/*"], "1.1"), {
      ok: true,
      host: "app.example.com",
      port: 8080,
      value: "App.Example.com:8080",
    });
    assert.deepEqual(checkHostHeader(["Accept", "*/*"], "1.1"), { ok: false, code: "missing_host" });
    assert.deepEqual(checkHostHeader(["Host", ""], "1.1"), { ok: false, code: "missing_host" });
    assert.deepEqual(checkHostHeader(["Host", "a.com", "host", "b.com"], "1.1"), { ok: false, code: "duplicate_host" });
    assert.deepEqual(checkHostHeader(["HOST", "a.com", "HoSt", "a.com"], "1.1"), { ok: false, code: "duplicate_host" }, "even when equal");
    assert.deepEqual(checkHostHeader([], "1.0"), { ok: true, host: "", port: undefined, value: undefined });
  });

  it("accepts names, IPv4 and bracketed IPv6 with an optional port, and nothing else", () => {
    for (const v of ["localhost", "a.b.c", "a_b.example", "example.com.", "10.0.0.1:80", "[::1]", "[2001:db8::1]:443", "x:65535"]) {
      assert.ok(checkHostHeader(["Host", v], "1.1").ok, v);
    }
    for (const v of ["a b", "a/b", "a@b", "user@example.com", "a.com:0", "a.com:65536", "a.com:", "a.com:8x", "[::1", "[::1]x", "::1", "[zz]", "a..b", "-a.com", "a.com:80:80", "é.com", "a".repeat(64) + ".com", `${"a.".repeat(130)}com`]) {
      const r = checkHostHeader(["Host", v], "1.1");
      assert.deepEqual(r, { ok: false, code: "bad_host" }, v);
    }
  });

  it("parseAuthority normalizes the host", () => {
    assert.deepEqual(parseAuthority("[2001:DB8::1]:8443"), { host: "[2001:db8::1]", port: 8443 });
    assert.deepEqual(parseAuthority("Example.COM."), { host: "example.com", port: undefined });
  });
});

describe("checkFraming", () => {
  it("refuses ambiguous or invalid Content-Length / Transfer-Encoding", () => {
    assert.equal(checkFraming(["Content-Length", "10"]), undefined);
    assert.equal(checkFraming(["Transfer-Encoding", "chunked"]), undefined);
    assert.equal(checkFraming(["Transfer-Encoding", "gzip, chunked"]), undefined);
    assert.equal(checkFraming(["Transfer-Encoding", "gzip", "Transfer-Encoding", "chunked"]), undefined);
    assert.equal(checkFraming(["Content-Length", "10", "content-length", "10"]), undefined, "repeats that agree");
    assert.equal(checkFraming(["Content-Length", "10, 10"]), undefined);
    assert.equal(checkFraming(["Content-Length", "10", "Transfer-Encoding", "chunked"]), "bad_framing");
    assert.equal(checkFraming(["Content-Length", "10", "Content-Length", "11"]), "bad_framing");
    assert.equal(checkFraming(["Content-Length", "10, 11"]), "bad_framing");
    assert.equal(checkFraming(["Content-Length", "-1"]), "bad_framing");
    assert.equal(checkFraming(["Content-Length", "1e3"]), "bad_framing");
    assert.equal(checkFraming(["Content-Length", ""]), "bad_framing");
    assert.equal(checkFraming(["Transfer-Encoding", "gzip"]), "bad_framing");
    assert.equal(checkFraming(["Transfer-Encoding", "chunked, gzip"]), "bad_framing");
    assert.equal(checkFraming(["Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked"]), "bad_framing");
    assert.equal(checkFraming(["Transfer-Encoding", "chunked,"]), "bad_framing");
    assert.equal(checkFraming(["Transfer-Encoding", " chunked\u000b"]), "bad_framing");
  });
});
