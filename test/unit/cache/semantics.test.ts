import { describe, it } from "node:test";
import assert from "node:assert/strict";
import CachePolicy from "http-cache-semantics";
import { freshness, notModified, policyClass, requestBypass, requestWantsRevalidation, responseRefusal } from "../../../proxy/cache/semantics.ts";
import { cacheRule } from "../../helpers/cache-rule.ts";

const rule = cacheRule({ id: "r" });
const req = { url: "/x", method: "GET", headers: { host: "h" } };

function refusal(status: number, headers: Record<string, string>, r = rule): string | undefined {
  return responseRefusal(status, headers, r, new CachePolicy(req, { status, headers }, { shared: true, cacheHeuristic: 0 }));
}

describe("cache refusals and freshness", () => {
  it("requests that bypass the cache", () => {
    const o = { hasBody: false, upgrade: false, rule };
    assert.equal(requestBypass("GET", {}, o), undefined);
    assert.equal(requestBypass("HEAD", {}, o), undefined);
    assert.equal(requestBypass("POST", {}, o), "method");
    assert.equal(requestBypass("GET", { authorization: "x" }, o), "authorization");
    assert.equal(requestBypass("GET", { cookie: "a=1" }, o), "cookie");
    assert.equal(requestBypass("GET", { cookie: "a=1" }, { ...o, rule: cacheRule({ id: "c", ignoreRequestCookies: true }) }), undefined);
    assert.equal(requestBypass("GET", { range: "bytes=0-1" }, o), "range");
    assert.equal(requestBypass("GET", {}, { ...o, hasBody: true }), "body");
    assert.equal(requestBypass("GET", {}, { ...o, upgrade: true }), "upgrade");
    assert.equal(requestBypass("GET", { "cache-control": "no-store" }, o), "no-store");
  });

  it("responses that are never stored, whatever http-cache-semantics says", () => {
    assert.equal(refusal(200, { "cache-control": "max-age=60" }), undefined);
    assert.equal(refusal(200, { "cache-control": "max-age=60", "set-cookie": "a=1" }), "set-cookie");
    assert.equal(refusal(200, { "cache-control": "max-age=60", vary: "Accept, *" }), "vary-star");
    assert.equal(refusal(200, { "cache-control": "private, max-age=60" }), "private");
    assert.equal(refusal(200, { "cache-control": 'max-age=60, private="x"' }), "private");
    assert.equal(refusal(200, { "cache-control": "max-age=60,no-store" }), "no-store");
    assert.equal(refusal(200, { "cache-control": "max-age=60", "content-type": "text/event-stream; charset=utf-8" }), "event-stream");
    assert.equal(refusal(404, { "cache-control": "max-age=60" }), "status");
    assert.equal(refusal(206, { "cache-control": "max-age=60" }, cacheRule({ id: "p", statuses: [206] })), "not-storable");
    assert.equal(refusal(200, { "cache-control": "max-age=60", "content-length": "2000" }, cacheRule({ id: "s", maxObjectBytes: 1000 })), "too-big");
    // A directive name inside another's value is not that directive.
    assert.equal(refusal(200, { "cache-control": "max-age=60, x-not-private" }), undefined);
  });

  it("freshness: origin mode takes s-maxage > max-age > Expires, else the rule's TTL; fixed mode the rule's TTL", () => {
    let now = 1_000_000_000_000;
    const P = policyClass(() => now);
    const make = (headers: Record<string, string>, heuristic = false) => new P(req, { status: 200, headers }, { shared: true, cacheHeuristic: heuristic ? 0.1 : 0 });
    const origin = cacheRule({ id: "o", ttlMs: 7_000 });
    assert.equal(freshness(make({ "cache-control": "max-age=60, s-maxage=30" }), origin).lifetimeMs, 30_000);
    assert.equal(freshness(make({ "cache-control": "max-age=60" }), origin).lifetimeMs, 60_000);
    assert.equal(freshness(make({ date: new Date(now).toUTCString(), expires: new Date(now + 20_000).toUTCString() }), origin).lifetimeMs, 20_000);
    // No explicit freshness: the rule's TTL, not the library's 10 % heuristic…
    const lm = { date: new Date(now).toUTCString(), "last-modified": new Date(now - 1_000_000).toUTCString() };
    assert.equal(freshness(make(lm), origin).lifetimeMs, 7_000);
    // …unless the rule allows heuristics.
    assert.equal(freshness(make(lm, true), cacheRule({ id: "h", heuristic: true })).lifetimeMs, 100_000);
    assert.equal(freshness(make({ "cache-control": "max-age=60" }), cacheRule({ id: "f", ttlMode: "fixed", ttlMs: 5_000 })).lifetimeMs, 5_000);
    assert.equal(freshness(make({ "cache-control": "no-cache, max-age=60" }), origin).lifetimeMs, 0);
    const p = make({ "cache-control": "max-age=10, stale-while-revalidate=5, stale-if-error=30", age: "2" });
    now += 3_000;
    const f = freshness(p, origin);
    assert.equal(f.ageMs, 5_000);
    assert.equal(f.staleWhileRevalidateMs, 5_000);
    assert.equal(f.staleIfErrorMs, 30_000);
    assert.equal(freshness(make({ "cache-control": "max-age=10, must-revalidate, stale-if-error=30" }), origin).staleIfErrorMs, 0);
  });

  it("client conditionals: If-None-Match (weak comparison) wins over If-Modified-Since", () => {
    assert.equal(notModified({ "if-none-match": '"a"' }, '"a"', undefined), true);
    assert.equal(notModified({ "if-none-match": 'W/"a"' }, '"a"', undefined), true);
    assert.equal(notModified({ "if-none-match": '"b", "a"' }, 'W/"a"', undefined), true);
    assert.equal(notModified({ "if-none-match": "*" }, '"a"', undefined), true);
    assert.equal(notModified({ "if-none-match": '"b"' }, '"a"', "Mon, 01 Jan 2024 00:00:00 GMT"), false);
    assert.equal(notModified({ "if-none-match": '"b"', "if-modified-since": "Tue, 02 Jan 2024 00:00:00 GMT" }, '"a"', "Mon, 01 Jan 2024 00:00:00 GMT"), false);
    assert.equal(notModified({ "if-modified-since": "Tue, 02 Jan 2024 00:00:00 GMT" }, undefined, "Mon, 01 Jan 2024 00:00:00 GMT"), true);
    assert.equal(notModified({ "if-modified-since": "Sun, 31 Dec 2023 00:00:00 GMT" }, undefined, "Mon, 01 Jan 2024 00:00:00 GMT"), false);
    assert.equal(notModified({}, '"a"', "Mon, 01 Jan 2024 00:00:00 GMT"), false);
  });

  it("requests that ask for revalidation", () => {
    assert.equal(requestWantsRevalidation({ "cache-control": "no-cache" }), true);
    assert.equal(requestWantsRevalidation({ "cache-control": "max-age=0" }), true);
    assert.equal(requestWantsRevalidation({ pragma: "no-cache" }), true);
    assert.equal(requestWantsRevalidation({ "cache-control": "max-age=10" }), false);
    assert.equal(requestWantsRevalidation({}), false);
  });
});
