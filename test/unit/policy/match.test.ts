import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ScopeMatcher, validateScope } from "../../../proxy/policy/match.ts";
import { normalizePath } from "../../../proxy/routing/path-prefix.ts";

describe("policy scope", () => {
  it("matches host × path × method, each list any-of, all three required; empty = any", () => {
    const m = new ScopeMatcher({ hosts: ["app.test", "*.api.test"], pathPrefixes: ["/admin", "/ops/"], methods: ["POST", "GET"] });
    const cases: [string, string, string, boolean][] = [
      ["app.test", "/admin", "POST", true],
      ["app.test", "/admin/x", "GET", true],
      ["app.test", "/admin", "HEAD", true], // GET covers HEAD
      ["app.test", "/adminx", "POST", false],
      ["app.test", "/ops", "POST", false], // "/ops/" matches only below it
      ["app.test", "/ops/x", "POST", true],
      ["app.test", "/admin", "PUT", false],
      ["v1.api.test", "/admin", "POST", true],
      ["api.test", "/admin", "POST", false], // the wildcard never matches the apex
      ["other.test", "/admin", "POST", false],
    ];
    for (const [host, path, method, want] of cases) assert.equal(m.matches(host, normalizePath(path), method), want, `${method} ${host}${path}`);
    const any = new ScopeMatcher({ hosts: [], pathPrefixes: [], methods: [] });
    assert.equal(any.any, true);
    assert.equal(any.matches("x", "/", "DELETE"), true);
    // Slashes merged and unreserved characters decoded before matching, as routes do.
    assert.equal(m.matches("app.test", normalizePath("//%61dmin"), "POST"), true);
  });

  it("names the first invalid entry by list and index", () => {
    assert.deepEqual(validateScope({ hosts: ["ok.test", "bad host"], pathPrefixes: [], methods: [] })?.index, 1);
    assert.equal(validateScope({ hosts: [], pathPrefixes: ["x"], methods: [] })?.field, "path_prefixes");
    assert.equal(validateScope({ hosts: [], pathPrefixes: [], methods: ["get"] })?.field, "methods");
    assert.equal(validateScope({ hosts: ["*.ok.test"], pathPrefixes: ["/a"], methods: ["PATCH"] }), undefined);
  });
});
