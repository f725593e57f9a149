import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RE2JS } from "@bufbuild/re2";
import { CelCheckError, CelEvalError, CelRequest, compileWhen, type CelRequestInput } from "../../../proxy/policy/cel.ts";

const base: CelRequestInput = {
  method: "POST",
  protocol: "https",
  host: "api.example.com",
  path: "/api/v1/items",
  rawQuery: "tag=a&tag=b&q=hello+world%21&empty=&flag&bad=%E0%A4%A",
  headers: {
    "user-agent": "curl/8.5.0",
    accept: "text/html",
    cookie: 'session=abc123; theme="dark"; session=second',
    "set-cookie": ["a=1", "b=2"],
    "x-multi": ["one", "two"],
  },
  clientIp: "10.1.2.3",
};

function req(over: Partial<CelRequestInput> = {}): CelRequest {
  return new CelRequest({ ...base, ...over });
}

function evaluate(source: string, over: Partial<CelRequestInput> = {}): boolean {
  return compileWhen(source).evaluate(req(over));
}

function refusal(source: string): CelCheckError {
  try {
    compileWhen(source);
  } catch (err) {
    assert.ok(err instanceof CelCheckError, `expected CelCheckError, got ${String(err)}`);
    assert.equal(err.code, "cel_check_failed");
    return err;
  }
  assert.fail(`${JSON.stringify(source)} was accepted`);
}

describe("compileWhen: evaluation", () => {
  const cases: Array<[string, string, Partial<CelRequestInput>, boolean]> = [
    ["method", 'method == "POST"', {}, true],
    ["method mismatch", 'method == "GET"', {}, false],
    ["protocol", 'protocol == "https"', {}, true],
    ["host", 'host == "api.example.com"', {}, true],
    ["path", 'path == "/api/v1/items"', {}, true],
    ["path is the routing form", 'path == "/api/v1"', { path: "//%61pi/v1" }, true],
    ["path startsWith", 'path.startsWith("/api/")', {}, true],
    ["client_ip", 'client_ip == "10.1.2.3"', {}, true],
    ["query repeated", 'query["tag"] == ["a", "b"]', {}, true],
    ["query decoded, + as space", 'query.q[0] == "hello world!"', {}, true],
    ["query empty value", 'query.empty == [""] && query.flag == [""]', {}, true],
    ["query malformed escape kept", 'query.bad[0].startsWith("%E0")', {}, true],
    ["query absent key", '!("nope" in query)', {}, true],
    ["empty query", "size(query) == 0", { rawQuery: "" }, true],
    ["header list", 'headers["user-agent"] == ["curl/8.5.0"]', {}, true],
    ["repeated header", 'size(headers["x-multi"]) == 2 && headers["x-multi"][1] == "two"', {}, true],
    ["set-cookie as node gives it", 'headers["set-cookie"] == ["a=1", "b=2"]', {}, true],
    ["in headers", '"accept" in headers && !("x" in headers)', {}, true],
    ["has() on headers", "has(headers.accept) && !has(headers.x)", {}, true],
    ["cookies, first wins", 'cookies.session == "abc123"', {}, true],
    ["cookie quotes dropped", 'cookies["theme"] == "dark"', {}, true],
    ["no cookie header", "size(cookies) == 0", { headers: {} }, true],
    ["cidr IPv4", 'cidr(client_ip, "10.0.0.0/8")', {}, true],
    ["cidr IPv4 outside", 'cidr(client_ip, "192.168.0.0/16")', {}, false],
    ["cidr IPv6", 'cidr(client_ip, "2001:db8::/32")', { clientIp: "2001:db8::1" }, true],
    ["cidr IPv6 outside", 'cidr(client_ip, "2001:db8::/32")', { clientIp: "2001:db9::1" }, false],
    ["cidr mapped IPv4 in IPv6", 'cidr(client_ip, "127.0.0.0/8")', { clientIp: "::ffff:127.0.0.1" }, true],
    ["cidr not an IP", 'cidr(client_ip, "0.0.0.0/0")', { clientIp: "" }, false],
    ["host_match wildcard", 'host_match(host, "*.example.com")', {}, true],
    ["host_match wildcard any depth", 'host_match(host, "*.example.com")', { host: "a.b.example.com" }, true],
    ["host_match wildcard not apex", 'host_match(host, "*.example.com")', { host: "example.com" }, false],
    ["host_match exact", 'host_match(host, "API.example.com")', {}, true],
    ["path_prefix", 'path_prefix(path, "/api")', {}, true],
    ["path_prefix exact", 'path_prefix(path, "/api")', { path: "/api" }, true],
    ["path_prefix segment-aware", 'path_prefix(path, "/api")', { path: "/apix" }, false],
    ["path_prefix trailing slash", 'path_prefix(path, "/api/")', { path: "/api" }, false],
    ["path_prefix merged slashes", 'path_prefix(path, "/admin")', { path: "//admin/x" }, true],
    ["exists", 'headers["x-multi"].exists(v, v == "two")', {}, true],
    ["all", 'headers["x-multi"].all(v, v.size() == 3)', {}, true],
    ["exists_one", 'query.tag.exists_one(v, v == "a")', {}, true],
    ["map/filter", 'query.tag.map(v, v.upperAscii()) == ["A", "B"] && query.tag.filter(v, v != "a") == ["b"]', {}, true],
    ["lowerAscii", 'headers["user-agent"][0].upperAscii().lowerAscii().contains("curl")', {}, true],
    ["endsWith", 'host.endsWith(".com")', {}, true],
    ["conversions", 'int(query.tag.size()) == 2 && string(1) == "1"', {}, true],
    ["in list", 'method in ["GET", "POST"]', {}, true],
    ["ternary", 'method == "POST" ? true : false', {}, true],
    ["matches", 'path.matches("^/api/v[0-9]+/")', {}, true],
  ];
  for (const [name, source, over, want] of cases) {
    it(name, () => assert.equal(evaluate(source, over), want, source));
  }

  it("acceptance: loopback curl is matched, a browser is not", () => {
    const when = compileWhen('cidr(client_ip, "127.0.0.0/8") && headers["user-agent"].exists(v, v.matches("(?i)curl"))');
    assert.equal(when.evaluate(req({ clientIp: "127.0.0.1", headers: { "user-agent": "CURL/8.5.0" } })), true);
    assert.equal(
      when.evaluate(req({ clientIp: "127.0.0.1", headers: { "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0" } })),
      false,
    );
    assert.equal(when.source.startsWith("cidr("), true);
  });

  it("a missing header is an evaluation error", () => {
    const when = compileWhen('headers["x"][0] == "a"');
    assert.throws(() => when.evaluate(req()), (err: unknown) => err instanceof CelEvalError && err.code === "cel_eval_failed");
    assert.equal(when.evaluate(req({ headers: { x: "a" } })), true);
  });

  it("shares one CelRequest across expressions", () => {
    const r = req();
    assert.equal(compileWhen('"accept" in headers').evaluate(r), true);
    assert.equal(compileWhen('headers.accept[0] == "text/html"').evaluate(r), true);
    assert.equal(r.celVars().headers, r.celVars().headers);
  });

  it("compiles each regex once, when saved, never per evaluation", () => {
    const original = RE2JS.compile;
    let calls = 0;
    RE2JS.compile = (pattern: string, flags?: number) => {
      calls++;
      return original.call(RE2JS, pattern, flags);
    };
    try {
      const when = compileWhen('path.matches("^/api/") && path.matches("^/api/")');
      assert.equal(calls, 1);
      for (let i = 0; i < 10; i++) assert.equal(when.evaluate(req()), true);
      assert.equal(calls, 1);
    } finally {
      RE2JS.compile = original;
    }
  });

  it("runs a catastrophic regex in linear time", () => {
    const when = compileWhen('headers["x-long"].exists(v, v.matches("^(a+)+$"))');
    const time = (n: number): number => {
      const r = req({ headers: { "x-long": "a".repeat(n) + "b" } });
      when.evaluate(r); // warm up
      const t = performance.now();
      assert.equal(when.evaluate(r), false);
      return performance.now() - t;
    };
    const small = time(10_000);
    const big = time(40_000);
    assert.ok(big < 200, `took ${big} ms`);
    assert.ok(big < small * 12 + 5, `not linear: ${small} ms → ${big} ms`);
  });
});

describe("compileWhen: refusals", () => {
  const cases: Array<[string, string, number, number, RegExp]> = [
    ["syntax error", 'method == "GET" &&', 1, 17, /syntax error/],
    ["syntax error on a later line", 'method == "GET"\n  && (', 2, 3, /syntax error/],
    ["unknown variable", 'method == "GET" && user == "x"', 1, 20, /unknown variable "user"/],
    ["iteration variable outside its macro", 'headers.accept.exists(v, v == "a") && v == "a"', 1, 39, /unknown variable "v"/],
    ["unknown function", 'method == "GET" && lookup(path)', 1, 20, /unknown function "lookup"/],
    ["strings format is not offered", 'path.format([]) == ""', 1, 5, /unknown function "format"/],
    ["dynamic regex", "path.matches(host)", 1, 14, /pattern of matches\(\) must be a string literal/],
    ["invalid regex", 'path.matches("(")', 1, 14, /invalid regular expression/],
    ["backreference", 'path.matches("(a)\\\\1")', 1, 14, /invalid regular expression.*\\1/],
    ["bad CIDR", 'cidr(client_ip, "10.0.0.0/33")', 1, 17, /invalid CIDR.*prefix length/],
    ["non-literal CIDR", "cidr(client_ip, host)", 1, 17, /cidr\(\) must be a string literal/],
    ["bad host pattern", 'host_match(host, "a.*.com")', 1, 18, /invalid host pattern/],
    ["bad path prefix", 'path_prefix(path, "api")', 1, 19, /invalid path prefix/],
    ["helper called as a method", 'client_ip.cidr("10.0.0.0/8")', 1, 10, /cidr\(value, "literal"\)/],
    ["non-bool result", "path", 1, 1, /must be a bool.*string/],
    ["non-bool result in a ternary", 'method == "GET" ? 1 : 2', 1, 1, /must be a bool.*int/],
    ["messages", "google.protobuf.Duration{seconds: 1} != null", 1, 1, /messages are not available/],
  ];
  for (const [name, source, line, column, message] of cases) {
    it(name, () => {
      const err = refusal(source);
      assert.match(err.message, message);
      assert.deepEqual([err.line, err.column], [line, column], err.message);
      assert.ok(err.message.startsWith(`line ${line}, column ${column}: `));
    });
  }

  it("over-size expression", () => {
    const err = refusal(`path == "${"a".repeat(4100)}"`);
    assert.match(err.message, /4110 bytes; at most 4096/);
    assert.deepEqual([err.line, err.column], [1, 4097]);
  });

  it("accepts an expression of exactly 4096 bytes", () => {
    const source = `path == "${"a".repeat(4096 - 10)}"`;
    assert.equal(Buffer.byteLength(source), 4096);
    assert.equal(compileWhen(source).evaluate(req()), false);
  });

  it("too slow: nested comprehensions over a big literal list", () => {
    const list = `[${Array.from({ length: 400 }, (_, i) => i).join(",")}]`;
    const err = refusal(`method == "GET" || ${list}.all(x, ${list}.all(y, x + y >= 0))`);
    assert.match(err.message, /too slow: its loops may evaluate over 200000 steps/);
    assert.deepEqual([err.line, err.column], [1, 1511]);
  });

  it("too slow: the trial evaluation exceeds its budget", () => {
    // Few steps statically, but each one runs a regex over a long string.
    const list = `[${Array.from({ length: 150 }, (_, i) => i).join(",")}]`;
    const t = performance.now();
    const err = refusal(`${list}.exists(i, "${"a".repeat(3000)}b".matches("^(a+)+$"))`);
    assert.match(err.message, /too slow: trial evaluations took over 50 ms/);
    assert.ok(performance.now() - t < 500, "the trial stops near its budget");
  });

  it("an expression that errors on the trial requests is still accepted", () => {
    assert.doesNotThrow(() => compileWhen('headers["x-token"][0] == "s3cret"'));
  });
});
