import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  buildDownstreamResponseHeaders,
  buildUpstreamRequestHeaders,
  compileHeaderRules,
  connectionTokens,
  HeaderRuleError,
  HOP_BY_HOP,
  hstsValue,
  isValidHeaderName,
  isValidHeaderValue,
  NO_HEADER_RULES,
  rawHeaderValue,
  stripHopByHop,
  validateHeaderValue,
  type UpstreamRequestOptions,
} from "../../../proxy/headers.ts";

/** Flat array → [lower-case name, value] pairs, for readable assertions. */
function pairs(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return out;
}

function names(raw: readonly string[]): string[] {
  return pairs(raw).map(([n]) => n);
}

function all(raw: readonly string[], name: string): string[] {
  return pairs(raw)
    .filter(([n]) => n === name)
    .map(([, v]) => v);
}

const base: UpstreamRequestOptions = {
  host: "origin.internal:8080",
  peer: "203.0.113.9",
  peerTrusted: false,
  clientIp: "203.0.113.9",
  proto: "https",
  originalHost: "app.example.com",
  httpVersion: "1.1",
};

describe("hop-by-hop removal", () => {
  it("drops every hop-by-hop header and every header named in Connection", () => {
    const raw = [
      "Host", "a",
      "Connection", "keep-alive, X-Secret, Upgrade",
      "connection", "x-other",
      "Keep-Alive", "timeout=5",
      "Proxy-Connection", "keep-alive",
      "TE", "trailers",
      "Trailer", "Expires",
      "Transfer-Encoding", "chunked",
      "Upgrade", "websocket",
      "Proxy-Authenticate", "Basic",
      "Proxy-Authorization", "Basic xyz",
      "X-Secret", "1",
      "X-Other", "2",
      "Accept", "*/*",
      "Set-Cookie", "a=1",
      "Set-Cookie", "b=2",
    ];
    assert.deepEqual(pairs(stripHopByHop(raw)), [
      ["host", "a"],
      ["accept", "*/*"],
      ["set-cookie", "a=1"],
      ["set-cookie", "b=2"],
    ]);
    assert.deepEqual([...connectionTokens(raw)!].sort(), ["upgrade", "x-other", "x-secret"]);
    assert.equal(connectionTokens(["Accept", "x"]), undefined);
    assert.equal(HOP_BY_HOP.size, 9);
  });
});

describe("buildUpstreamRequestHeaders", () => {
  it("sets Host, strips hop-by-hop and Expect, and adds X-Forwarded-* and X-Real-IP (no Via by default)", () => {
    const out = buildUpstreamRequestHeaders(
      ["Host", "app.example.com", "User-Agent", "curl", "Connection", "close, X-Hop", "X-Hop", "1", "Accept", "a", "Accept", "b", "Content-Length", "3", "Keep-Alive", "5", "Expect", "100-continue"],
      base,
    );
    assert.deepEqual(pairs(out), [
      ["host", "origin.internal:8080"],
      ["user-agent", "curl"],
      ["accept", "a"],
      ["accept", "b"],
      ["content-length", "3"],
      ["x-forwarded-for", "203.0.113.9"],
      ["x-forwarded-proto", "https"],
      ["x-forwarded-host", "app.example.com"],
      ["x-real-ip", "203.0.113.9"],
    ]);
    assert.deepEqual(all(buildUpstreamRequestHeaders([], { ...base, via: "warren" }), "via"), ["1.1 warren"], "the route's add_via");
  });

  it("replaces a spoofed chain from an untrusted peer and drops its forwarding headers", () => {
    const raw = [
      "X-Forwarded-For", "6.6.6.6",
      "X-Forwarded-Proto", "http",
      "X-Forwarded-Host", "evil.com",
      "X-Forwarded-Port", "1",
      "Forwarded", "for=6.6.6.6",
      "X-Real-IP", "6.6.6.6",
    ];
    const out = buildUpstreamRequestHeaders(raw, base);
    assert.deepEqual(all(out, "x-forwarded-for"), ["203.0.113.9"]);
    assert.deepEqual(all(out, "x-forwarded-proto"), ["https"]);
    assert.deepEqual(all(out, "x-forwarded-host"), ["app.example.com"]);
    assert.deepEqual(all(out, "x-real-ip"), ["203.0.113.9"]);
    assert.deepEqual(all(out, "x-forwarded-port"), []);
    assert.deepEqual(all(out, "forwarded"), []);
  });

  it("extends the chain from a trusted peer and keeps its forwarding headers", () => {
    const raw = [
      "X-Forwarded-For", "1.1.1.1",
      "x-forwarded-for", "10.0.0.7",
      "X-Forwarded-Proto", "https",
      "X-Forwarded-Host", "public.example",
      "Forwarded", "for=1.1.1.1",
      "X-Real-IP", "6.6.6.6",
    ];
    const out = buildUpstreamRequestHeaders(raw, { ...base, peer: "::ffff:10.0.0.2", peerTrusted: true, clientIp: "1.1.1.1", proto: "http" });
    assert.deepEqual(all(out, "x-forwarded-for"), ["1.1.1.1, 10.0.0.7, 10.0.0.2"]);
    assert.deepEqual(all(out, "x-forwarded-proto"), ["https"], "the trusted proxy's proto wins over the listener's");
    assert.deepEqual(all(out, "x-forwarded-host"), ["public.example"]);
    assert.deepEqual(all(out, "forwarded"), ["for=1.1.1.1"]);
    assert.deepEqual(all(out, "x-real-ip"), ["1.1.1.1"], "X-Real-IP is always ours");
  });

  it("cannot be tricked into dropping Warren's headers through Connection", () => {
    const out = buildUpstreamRequestHeaders(["Connection", "X-Forwarded-For, X-Real-IP, Via, Host", "X-Forwarded-For", "6.6.6.6"], { ...base, via: "warren" });
    assert.deepEqual(all(out, "x-forwarded-for"), ["203.0.113.9"]);
    assert.deepEqual(all(out, "x-real-ip"), ["203.0.113.9"]);
    assert.deepEqual(all(out, "host"), ["origin.internal:8080"]);
    assert.deepEqual(all(out, "via"), ["1.1 warren"]);
  });

  it("never forwards Upgrade or Connection (undici's upgrade option writes them)", () => {
    const out = buildUpstreamRequestHeaders(["Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Key", "k"], base);
    assert.deepEqual(names(out).filter((n) => n === "upgrade" || n === "connection"), []);
    assert.deepEqual(all(out, "sec-websocket-key"), ["k"]);
  });

  it("keeps an incoming Via and reports HTTP/1.0 as such", () => {
    const out = buildUpstreamRequestHeaders(["Via", "1.1 cdn"], { ...base, httpVersion: "1.0", originalHost: undefined, via: "edge" });
    assert.deepEqual(all(out, "via"), ["1.1 cdn", "1.0 edge"]);
    assert.deepEqual(all(out, "x-forwarded-host"), [], "no Host sent, no X-Forwarded-Host");
  });

  it("applies route rules: remove, set (replace) and add (append), including Warren's own headers", () => {
    const rules = compileHeaderRules({
      remove: ["Cookie", "X-Forwarded-Host", "Via"],
      set: [{ name: "X-Env", value: "prod" }],
      add: [{ name: "Accept", value: "c" }],
    });
    const out = buildUpstreamRequestHeaders(["Cookie", "s=1", "X-Env", "dev", "Accept", "a"], { ...base, rules });
    assert.deepEqual(all(out, "cookie"), []);
    assert.deepEqual(all(out, "x-env"), ["prod"]);
    assert.deepEqual(all(out, "accept"), ["a", "c"]);
    assert.deepEqual(all(out, "x-forwarded-host"), []);
    assert.deepEqual(all(out, "via"), []);
    assert.deepEqual(all(out, "x-forwarded-for"), ["203.0.113.9"]);
  });
});

describe("buildDownstreamResponseHeaders", () => {
  it("strips hop-by-hop, keeps repeats, adds Via when asked and the route's response rules", () => {
    const rules = compileHeaderRules({ remove: ["Server"], set: [{ name: "Strict-Transport-Security", value: hstsValue({ maxAgeSeconds: 31536000, includeSubDomains: true }) }] });
    const out = buildDownstreamResponseHeaders(
      [
        "Content-Type", "text/plain",
        "Transfer-Encoding", "chunked",
        "Connection", "keep-alive, X-Internal",
        "Keep-Alive", "timeout=5",
        "X-Internal", "1",
        "Server", "gunicorn",
        "Set-Cookie", "a=1",
        "Set-Cookie", "b=2",
        "Strict-Transport-Security", "max-age=0",
      ],
      { rules, via: "warren" },
    );
    assert.deepEqual(pairs(out), [
      ["content-type", "text/plain"],
      ["set-cookie", "a=1"],
      ["set-cookie", "b=2"],
      ["via", "1.1 warren"],
      ["strict-transport-security", "max-age=31536000; includeSubDomains"],
    ]);
  });

  it("keeps Upgrade and sends Connection: upgrade for a relayed 101", () => {
    const out = buildDownstreamResponseHeaders(["Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", "x"], { upgrade: true, via: false });
    assert.deepEqual(pairs(out), [
      ["upgrade", "websocket"],
      ["sec-websocket-accept", "x"],
      ["connection", "upgrade"],
    ]);
    const normal = buildDownstreamResponseHeaders(["Upgrade", "h2c"], { via: false });
    assert.deepEqual(normal, []);
  });
});

describe("header rules and validity", () => {
  it("refuses invalid or Warren-managed names and CR/LF/NUL in values, naming the field", () => {
    const cases: [Parameters<typeof compileHeaderRules>[0], string][] = [
      [{ remove: ["Bad Name"] }, "remove[0]"],
      [{ remove: ["ok", "Transfer-Encoding"] }, "remove[1]"],
      [{ set: [{ name: "Host", value: "x" }] }, "set[0].name"],
      [{ set: [{ name: "Content-Length", value: "1" }] }, "set[0].name"],
      [{ add: [{ name: "X-A", value: "a\r\nInjected: 1" }] }, "add[0].value"],
      [{ add: [{ name: "X-A", value: "ok" }, { name: "X-B", value: "a\u0000b" }] }, "add[1].value"],
      [{ add: [{ name: "X-A", value: "a\nb" }] }, "add[0].value"],
      [{ set: [{ name: "", value: "a" }] }, "set[0].name"],
      [{ set: [{ name: "X-Big", value: "x".repeat(8193) }] }, "set[0].value"],
      [{ set: [{ name: "X-Pad", value: " x" }] }, "set[0].value"],
    ];
    for (const [spec, field] of cases) {
      assert.throws(
        () => compileHeaderRules(spec),
        (e: unknown) => e instanceof HeaderRuleError && e.field === field,
        field,
      );
    }
    assert.equal(compileHeaderRules({}), NO_HEADER_RULES);
  });

  it("checks names and values like node:http does", () => {
    assert.ok(isValidHeaderName("X-Custom_1"));
    assert.ok(!isValidHeaderName("X Custom"));
    assert.ok(!isValidHeaderName("X:Custom"));
    assert.ok(!isValidHeaderName(""));
    assert.ok(isValidHeaderValue("a\tb ü"));
    for (const bad of ["a\rb", "a\nb", "a\u0000b", "a\u007fb", "a\u0001b", "€"]) assert.ok(!isValidHeaderValue(bad), JSON.stringify(bad));
    assert.equal(validateHeaderValue("fine"), undefined);
  });

  it("rawHeaderValue finds the first value case-insensitively", () => {
    assert.equal(rawHeaderValue(["A", "1", "x-Y", "2", "X-y", "3"], "x-y"), "2");
    assert.equal(rawHeaderValue(["A", "1"], "b"), undefined);
  });

  it("hstsValue", () => {
    assert.equal(hstsValue({ maxAgeSeconds: 600 }), "max-age=600");
    assert.equal(hstsValue({ maxAgeSeconds: 63072000, includeSubDomains: true, preload: true }), "max-age=63072000; includeSubDomains; preload");
  });
});
