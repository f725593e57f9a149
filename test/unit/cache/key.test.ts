import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mergeVary, normalizeQuery, parseVary, primaryKey, variantKey } from "../../../proxy/cache/key.ts";

const none = new Set<string>();

describe("cache keys", () => {
  it("full query mode sorts parameters by name then value and keeps their encoding", () => {
    assert.equal(normalizeQuery("?b=2&a=1", "full", none), "a=1&b=2");
    assert.equal(normalizeQuery("?a=2&a=1", "full", none), "a=1&a=2");
    assert.equal(normalizeQuery("?q=a%20b&&flag", "full", none), "flag&q=a%20b");
    assert.equal(normalizeQuery("", "full", none), "");
    assert.equal(normalizeQuery("?", "full", none), "");
  });

  it("ignore drops the query; allowlist keeps and denylist drops the named parameters (names compared decoded)", () => {
    assert.equal(normalizeQuery("?a=1", "ignore", none), "");
    const names = new Set(["a", "b c"]);
    assert.equal(normalizeQuery("?utm=1&a=1&b%20c=2&z=3", "allowlist", names), "a=1&b%20c=2");
    assert.equal(normalizeQuery("?utm=1&a=1&b+c=2&z=3", "denylist", names), "utm=1&z=3");
  });

  it("the primary key names host, path and query, and nothing else", () => {
    const a = primaryKey("example.com", "/x", "a=1");
    assert.match(a.primary, /^[0-9a-f]{64}$/);
    assert.equal(a.url, "example.com/x?a=1");
    assert.equal(primaryKey("example.com", "/x", "").url, "example.com/x");
    assert.notEqual(primaryKey("example.org", "/x", "a=1").primary, a.primary);
    assert.notEqual(primaryKey("example.com", "/y", "a=1").primary, a.primary);
    assert.notEqual(primaryKey("example.com", "/x", "a=2").primary, a.primary);
    // The separator keeps boundaries apart.
    assert.notEqual(primaryKey("example.com", "/xa=1", "").primary, primaryKey("example.com", "/x", "a=1").primary);
    assert.equal(primaryKey("example.com", "/x", "a=1").primary, a.primary);
  });

  it("vary names are merged lower case, sorted and unique; Vary values are parsed", () => {
    assert.deepEqual(mergeVary(["Accept-Encoding"], ["accept-language", "accept-encoding"]), ["accept-encoding", "accept-language"]);
    assert.deepEqual(parseVary("Accept-Encoding, Origin"), ["accept-encoding", "origin"]);
    assert.deepEqual(parseVary(["a", "B,c"]), ["a", "b", "c"]);
    assert.deepEqual(parseVary("*"), ["*"]);
    assert.deepEqual(parseVary(undefined), []);
  });

  it("the variant key separates vary values, and an absent header from an empty one", () => {
    const p = primaryKey("h", "/", "").primary;
    const gz = variantKey(p, ["accept-encoding"], { "accept-encoding": "gzip" });
    const id = variantKey(p, ["accept-encoding"], { "accept-encoding": "identity" });
    const empty = variantKey(p, ["accept-encoding"], { "accept-encoding": "" });
    const absent = variantKey(p, ["accept-encoding"], {});
    assert.equal(new Set([gz, id, empty, absent]).size, 4);
    assert.equal(variantKey(p, ["accept-encoding"], { "accept-encoding": "gzip", "x-other": "1" }), gz);
    assert.notEqual(variantKey(p, [], {}), absent);
  });
});
