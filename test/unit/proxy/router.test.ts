import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compileRouter, RouterConfigError, validateHostPattern, validateMethod, validatePathPrefix, type RouteSpec } from "../../../proxy/routing/router.ts";
import { hostMatches, normalizeHost, parseHostPattern } from "../../../proxy/routing/host-pattern.ts";
import { matchPathPrefix, normalizePath, parsePathPrefix } from "../../../proxy/routing/path-prefix.ts";

function route(id: string, o: Partial<RouteSpec> = {}): RouteSpec {
  return { id, priority: 100, hosts: [], pathPrefix: "/", methods: [], isDefault: false, ...o };
}

function matchedId(r: ReturnType<typeof compileRouter>, host: string, path: string, method = "GET"): string {
  const m = r.match(host, path, method);
  return m.kind === "match" ? m.route.id : m.kind;
}

describe("host patterns", () => {
  it("wildcards match any depth of subdomain but not the apex", () => {
    const p = parseHostPattern("*.example.com");
    assert.equal(hostMatches(p, "a.example.com"), true);
    assert.equal(hostMatches(p, "a.b.c.example.com"), true);
    assert.equal(hostMatches(p, "example.com"), false);
    assert.equal(hostMatches(p, "badexample.com"), false);
    assert.equal(hostMatches(p, "example.com.evil.net"), false);
    assert.equal(hostMatches(p, ".example.com"), false, "at least one label in front");
  });

  it("normalizes case, port and one trailing dot, and leaves normalized input untouched", () => {
    assert.equal(normalizeHost("App.Example.COM:8443"), "app.example.com");
    assert.equal(normalizeHost("app.example.com."), "app.example.com");
    assert.equal(normalizeHost("app.example.com.:80"), "app.example.com");
    assert.equal(normalizeHost("[::1]:8080"), "[::1]");
    assert.equal(normalizeHost("[FE80::1]"), "[fe80::1]");
    assert.equal(normalizeHost("10.0.0.1:80"), "10.0.0.1");
    const s = "already.normal";
    assert.equal(normalizeHost(s), s);
    assert.deepEqual(parseHostPattern("*.Example.COM."), { kind: "wildcard", suffix: ".example.com" });
    assert.deepEqual(parseHostPattern("App.example.com"), { kind: "exact", host: "app.example.com" });
  });

  it("validates patterns with field-ready messages", () => {
    for (const ok of ["app.example.com", "*.example.com", "localhost", "10.0.0.1", "[::1]", "a_b.example.com", "xn--bcher-kva.example", "example.com."]) {
      assert.equal(validateHostPattern(ok), undefined, ok);
    }
    const bad: Record<string, RegExp> = {
      "": /empty/,
      "*": /lone \*/,
      "http://a.com": /scheme/,
      "a.com/x": /path/,
      "a.com:80": /port/,
      "a.*.com": /\* only/,
      "*a.com": /\* only/,
      "a.*": /\* only/,
      "**.a.com": /\* only/,
      "a .com": /spaces/,
      "a..com": /empty labels/,
      "-a.com": /label/,
      "bücher.example": /ASCII/,
      "[::1": /IPv6/,
      "[zz]": /IPv6/,
      [`${"a".repeat(64)}.com`]: /63/,
    };
    for (const [p, re] of Object.entries(bad)) {
      const err = validateHostPattern(p);
      assert.ok(err !== undefined && re.test(err), `${JSON.stringify(p)} → ${err}`);
    }
  });
});

describe("path prefixes", () => {
  it("are segment-aware", () => {
    assert.equal(matchPathPrefix("/api", "/api"), true);
    assert.equal(matchPathPrefix("/api", "/api/"), true);
    assert.equal(matchPathPrefix("/api", "/api/x/y"), true);
    assert.equal(matchPathPrefix("/api", "/apix"), false);
    assert.equal(matchPathPrefix("/api", "/ap"), false);
    assert.equal(matchPathPrefix("/api/", "/api/x"), true);
    assert.equal(matchPathPrefix("/api/", "/api"), false, "a prefix ending in / matches only what is under it");
    assert.equal(matchPathPrefix("/", "/anything"), true);
    assert.equal(matchPathPrefix("/api", "/api%2Fx"), false, "an encoded slash is not a segment boundary");
  });

  it("normalizePath decodes unreserved characters, upper-cases other escapes and merges slashes", () => {
    assert.equal(normalizePath("/%61pi/%7Euser"), "/api/~user");
    assert.equal(normalizePath("/a%2fb%3a"), "/a%2Fb%3A");
    assert.equal(normalizePath("//admin///x/"), "/admin/x/");
    assert.equal(normalizePath("/caf%c3%a9"), "/caf%C3%A9");
    assert.equal(normalizePath("/Case/Stays"), "/Case/Stays");
    const s = "/plain/path";
    assert.equal(normalizePath(s), s, "unchanged input is returned as is");
  });

  it("validates prefixes and normalizes them the same way as request paths", () => {
    for (const ok of ["/", "/api", "/api/", "/a-b_c.d~e", "/v1/%7Euser", "/x;y=1", "/@me"]) assert.equal(validatePathPrefix(ok), undefined, ok);
    const bad: Record<string, RegExp> = {
      api: /start with/,
      "/a?b": /query/,
      "/a#b": /fragment/,
      "/a b": /URL path characters/,
      "/a\\b": /URL path characters/,
      "/é": /URL path characters/,
      "/a%2": /percent/,
      "/a%zz": /percent/,
      "/a/../b": /segments/,
      "/a/%2e": /segments/,
      "/a/.": /segments/,
    };
    for (const [p, re] of Object.entries(bad)) {
      const err = validatePathPrefix(p);
      assert.ok(err !== undefined && re.test(err), `${JSON.stringify(p)} → ${err}`);
    }
    assert.equal(parsePathPrefix("/%61pi//v1"), "/api/v1");
  });
});

describe("validateMethod", () => {
  it("accepts upper-case method tokens only", () => {
    for (const ok of ["GET", "POST", "PROPFIND", "M-SEARCH"]) assert.equal(validateMethod(ok), undefined);
    for (const bad of ["", "get", "G ET", "GET\r\n", "1GET", "X".repeat(33)]) assert.ok(validateMethod(bad), bad);
  });
});

describe("compileRouter", () => {
  it("matches host, then path prefix, then method", () => {
    const r = compileRouter([
      route("app", { hosts: ["app.example.com"], pathPrefix: "/api", methods: ["GET", "POST"] }),
      route("other", { hosts: ["other.example.com"] }),
    ]);
    assert.equal(matchedId(r, "app.example.com", "/api/users"), "app");
    assert.equal(matchedId(r, "APP.example.com.:8080", "/api"), "app", "case, trailing dot and port are ignored");
    assert.equal(matchedId(r, "app.example.com", "/apix"), "not_found");
    assert.equal(matchedId(r, "app.example.com", "/other"), "not_found");
    assert.equal(matchedId(r, "other.example.com", "/anything", "DELETE"), "other");
    assert.equal(matchedId(r, "nope.example.com", "/api"), "not_found");
    assert.equal(matchedId(r, "app.example.com", "/%61pi/x"), "app", "paths are compared in normalized form");
  });

  it("answers 405 with the union of methods when only the method misses, GET implying HEAD", () => {
    const r = compileRouter([
      route("a", { hosts: ["x.test"], pathPrefix: "/api", methods: ["POST", "GET"] }),
      route("b", { hosts: ["*.test"], pathPrefix: "/", methods: ["PUT"] }),
      route("c", { hosts: ["y.test"], methods: ["PATCH"] }),
      route("d", { hosts: ["x.test"], pathPrefix: "/static", methods: ["DELETE"] }),
    ]);
    const m = r.match("x.test", "/api/1", "DELETE");
    assert.deepEqual(m, { kind: "method_not_allowed", allow: ["GET", "HEAD", "POST", "PUT"] });
    assert.equal(matchedId(r, "x.test", "/api/1", "HEAD"), "a");
    assert.equal(matchedId(r, "x.test", "/api/1", "get"), "method_not_allowed", "methods are case-sensitive");
  });

  it("a later route matching the method wins over 405", () => {
    const r = compileRouter([route("strict", { priority: 1, pathPrefix: "/api", methods: ["GET"] }), route("any", { priority: 2, pathPrefix: "/api" })]);
    assert.equal(matchedId(r, "h", "/api", "POST"), "any");
    assert.equal(matchedId(r, "h", "/api", "GET"), "strict");
  });

  it("falls back to the default route (ignoring its own matchers), 405 still wins over it", () => {
    const r = compileRouter([
      route("def", { isDefault: true, hosts: ["never.test"], pathPrefix: "/never", methods: ["PATCH"], priority: -5 }),
      route("api", { hosts: ["api.test"], methods: ["GET"] }),
    ]);
    assert.equal(r.defaultRoute?.id, "def");
    assert.equal(matchedId(r, "else.test", "/x", "POST"), "def");
    assert.equal(matchedId(r, "api.test", "/x", "GET"), "api", "a default route's low priority does not make it win");
    assert.equal(matchedId(r, "api.test", "/x", "POST"), "method_not_allowed");
  });

  it("orders by priority first, then host specificity, then prefix length, then id", () => {
    const r = compileRouter([
      route("any-long", { priority: 10, pathPrefix: "/a/b/c" }),
      route("wild-short", { priority: 10, hosts: ["*.example.com"], pathPrefix: "/a" }),
      route("wild-deeper", { priority: 10, hosts: ["*.x.example.com"], pathPrefix: "/" }),
      route("exact-root", { priority: 10, hosts: ["www.x.example.com"], pathPrefix: "/" }),
      route("low-prio", { priority: 50, hosts: ["www.x.example.com"], pathPrefix: "/a/b/c/d" }),
      route("first", { priority: 1, pathPrefix: "/" }),
    ]);
    // Priority beats everything.
    assert.equal(matchedId(r, "www.x.example.com", "/a/b/c/d"), "first");
    const r2 = compileRouter([
      route("any-long", { priority: 10, pathPrefix: "/a/b/c" }),
      route("wild-short", { priority: 10, hosts: ["*.example.com"], pathPrefix: "/a" }),
      route("wild-deeper", { priority: 10, hosts: ["*.x.example.com"], pathPrefix: "/" }),
      route("exact-root", { priority: 10, hosts: ["www.x.example.com"], pathPrefix: "/" }),
      route("low-prio", { priority: 50, hosts: ["www.x.example.com"], pathPrefix: "/a/b/c/d" }),
    ]);
    assert.equal(matchedId(r2, "www.x.example.com", "/a/b/c/d"), "exact-root", "exact host beats wildcard and any");
    assert.equal(matchedId(r2, "api.x.example.com", "/a/b/c/d"), "wild-deeper", "the longer wildcard suffix wins");
    assert.equal(matchedId(r2, "api.example.com", "/a/b/c/d"), "wild-short", "any wildcard beats any host");
    assert.equal(matchedId(r2, "other.net", "/a/b/c/d"), "any-long");
    // Equal priority and host: longer prefix, then id.
    const r3 = compileRouter([
      route("b", { pathPrefix: "/api" }),
      route("z", { pathPrefix: "/api/v1" }),
      route("a", { pathPrefix: "/api" }),
    ]);
    assert.equal(matchedId(r3, "h", "/api/v1/x"), "z");
    assert.equal(matchedId(r3, "h", "/api/v2"), "a");
  });

  it("is independent of input order", () => {
    const routes = [
      route("r1", { priority: 5, hosts: ["*.t"], pathPrefix: "/x" }),
      route("r2", { priority: 5, hosts: ["a.t"] }),
      route("r3", { priority: 5, pathPrefix: "/x/y" }),
      route("r4", { priority: 5, hosts: ["*.a.t"], pathPrefix: "/x" }),
      route("r5", { priority: 5, hosts: ["a.t"], pathPrefix: "/x" }),
    ];
    const probes: [string, string][] = [
      ["a.t", "/x/y"],
      ["b.a.t", "/x/y"],
      ["b.t", "/x"],
      ["c", "/x/y/z"],
      ["a.t", "/q"],
    ];
    const expected = probes.map(([h, p]) => matchedId(compileRouter(routes), h, p));
    assert.deepEqual(expected, ["r5", "r4", "r1", "r3", "r2"]);
    for (let i = 0; i < 10; i++) {
      const shuffled = [...routes].sort(() => Math.random() - 0.5);
      assert.deepEqual(
        probes.map(([h, p]) => matchedId(compileRouter(shuffled), h, p)),
        expected,
      );
    }
  });

  it("a route with several hosts competes with the host that matched", () => {
    const r = compileRouter([
      route("multi", { hosts: ["*.example.com", "special.test"], pathPrefix: "/" }),
      route("exact", { hosts: ["a.example.com"], pathPrefix: "/" }),
    ]);
    assert.equal(matchedId(r, "a.example.com", "/"), "exact");
    assert.equal(matchedId(r, "b.example.com", "/"), "multi");
    assert.equal(matchedId(r, "special.test", "/"), "multi");
  });

  it("wildcards never match the apex, and empty hosts match requests without Host", () => {
    const r = compileRouter([route("w", { hosts: ["*.example.com"] }), route("any", { priority: 200 })]);
    assert.equal(matchedId(r, "example.com", "/"), "any");
    assert.equal(matchedId(r, "a.b.example.com", "/"), "w");
    assert.equal(matchedId(r, "", "/"), "any");
  });

  it("returns the same frozen result object for repeated matches (no per-request allocation)", () => {
    const r = compileRouter([route("a", { hosts: ["a.test"] })]);
    const m1 = r.match("a.test", "/x", "GET");
    const m2 = r.match("A.TEST", "/y", "POST");
    assert.equal(m1, m2);
    assert.ok(Object.isFrozen(m1));
  });

  it("rejects bad configuration naming the route and field", () => {
    const cases: [RouteSpec[], string][] = [
      [[route("x", { hosts: ["bad host"] })], "hosts"],
      [[route("x", { pathPrefix: "nope" })], "pathPrefix"],
      [[route("x", { methods: ["get"] })], "methods"],
      [[route("x", { priority: Number.NaN })], "priority"],
      [[route("d1", { isDefault: true }), route("d2", { isDefault: true })], "isDefault"],
    ];
    for (const [routes, field] of cases) {
      assert.throws(
        () => compileRouter(routes),
        (e: unknown) => e instanceof RouterConfigError && e.field === field && e.message.includes(routes.at(-1)!.id),
        field,
      );
    }
  });

  it("treats an empty prefix as /", () => {
    const r = compileRouter([route("a", { pathPrefix: "" })]);
    assert.equal(matchedId(r, "h", "/anything"), "a");
  });
});
