import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CelRequest, type CelRequestInput } from "../../../proxy/policy/cel.ts";
import { compileKey, validateKeyParts } from "../../../proxy/policy/key-parts.ts";

const base: CelRequestInput = {
  method: "GET",
  protocol: "https",
  host: "api.example.com",
  path: "/api/items",
  rawQuery: "user=al+ice&user=bob&k=%C3%A9",
  headers: { "x-tenant": "acme", "x-multi": ["a", "b"], cookie: "sid=s1; sid=s2; theme=dark" },
  clientIp: "192.0.2.7",
};

function key(parts: readonly string[], over: Partial<CelRequestInput> = {}): string {
  return compileKey(parts)(new CelRequest({ ...base, ...over }));
}

describe("validateKeyParts", () => {
  it("accepts every kind of part", () => {
    assert.equal(validateKeyParts(["client_ip", "host", "method", "path", "header:X-Tenant", "cookie:sid", "query:user"]), undefined);
    assert.equal(validateKeyParts([]), undefined);
  });

  const refusals: Array<[string, readonly string[], number, RegExp]> = [
    ["unknown part", ["client_ip", "ip"], 1, /unknown key part "ip"/],
    ["missing name", ["header:"], 0, /needs a name/],
    ["bare kind", ["cookie"], 0, /needs a name/],
    ["bad header name", ["header:x tenant"], 0, /not a valid header name/],
    ["bad cookie name", ["cookie:a;b"], 0, /not a valid cookie name/],
    ["duplicate", ["host", "host"], 1, /duplicate/],
    ["duplicate header in another case", ["header:X-A", "header:x-a"], 1, /duplicate/],
    ["too many", ["client_ip", "host", "method", "path", "header:a", "header:b", "header:c", "header:d", "header:e"], 8, /at most 8/],
  ];
  for (const [name, parts, index, message] of refusals) {
    it(name, () => {
      const err = validateKeyParts(parts);
      assert.ok(err !== undefined);
      assert.equal(err.index, index);
      assert.match(err.message, message);
    });
  }

  it("compileKey refuses what validateKeyParts refuses", () => {
    assert.throws(() => compileKey(["nope"]), TypeError);
  });
});

describe("compileKey", () => {
  it("is a fixed-length base64url string", () => {
    for (const parts of [[], ["client_ip"], ["header:x-tenant", "query:user", "cookie:sid"]]) {
      assert.match(key(parts), /^[A-Za-z0-9_-]{22}$/);
    }
    assert.match(key(["header:x"], { headers: { x: "v".repeat(100_000) } }), /^[A-Za-z0-9_-]{22}$/);
  });

  it("is stable and depends on each part", () => {
    const parts = ["client_ip", "host", "method", "path", "header:x-tenant", "cookie:sid", "query:user"];
    assert.equal(key(parts), key(parts));
    const changes: Array<Partial<CelRequestInput>> = [
      { clientIp: "192.0.2.8" },
      { host: "www.example.com" },
      { method: "POST" },
      { path: "/api/other" },
      { headers: { ...base.headers, "x-tenant": "other" } },
      { headers: { ...base.headers, cookie: "sid=s9" } },
      { rawQuery: "user=carol" },
    ];
    for (const over of changes) assert.notEqual(key(parts, over), key(parts), JSON.stringify(over));
  });

  it("reads each part as documented", () => {
    const same = (a: readonly string[], ao: Partial<CelRequestInput>, bo: Partial<CelRequestInput>) => assert.equal(key(a, ao), key(a, bo));
    same(["header:X-Tenant"], {}, { headers: { "x-tenant": "acme" } }); // header names are case-insensitive
    same(["header:x-multi"], {}, { headers: { "x-multi": "a, b" } }); // repeated values joined as one
    same(["cookie:sid"], {}, { headers: { cookie: "sid=s1" } }); // first cookie wins
    same(["query:user"], {}, { rawQuery: "user=al%20ice" }); // first value, decoded, + as space
    same(["query:k"], {}, { rawQuery: "k=é" });
    same(["path"], {}, { path: "//%61pi/items" }); // the routing form of the path
  });

  it("keeps part boundaries and absence apart", () => {
    const parts = ["header:a", "header:b"];
    assert.notEqual(key(parts, { headers: { a: "ab", b: "c" } }), key(parts, { headers: { a: "a", b: "bc" } }));
    assert.notEqual(key(["header:a"], { headers: {} }), key(["header:a"], { headers: { a: "" } }));
    assert.notEqual(key(["header:a"], { headers: { a: "-;" } }), key(["header:a"], { headers: {} }));
    assert.notEqual(key(["cookie:a", "query:b"], { headers: { cookie: "a=1" }, rawQuery: "" }), key(["cookie:a", "query:b"], { headers: {}, rawQuery: "b=1" }));
  });

  it("is SHA-256 over the length-prefixed parts, whether remembered or not", () => {
    const expect = (s: string) => createHash("sha256").update(s).digest().subarray(0, 16).toString("base64url");
    const parts = ["client_ip", "header:x-v"];
    // Short encodings are remembered (asked twice: computed, then from the memo), long ones never;
    // more distinct keys than the memo holds empty it on the way.
    for (const v of ["é", "v".repeat(300), "", "ü".repeat(200)]) {
      for (let i = 0; i < 2; i++) assert.equal(key(parts, { headers: { "x-v": v } }), expect(`9:192.0.2.7;${v.length}:${v};`), v.slice(0, 10));
    }
    for (let i = 0; i < 5000; i++) {
      const ip = `10.0.${i >> 8}.${i & 255}`;
      assert.equal(key(["client_ip"], { clientIp: ip }), expect(`${ip.length}:${ip};`));
    }
    assert.equal(key(["client_ip"], { clientIp: "10.0.0.1" }), expect("8:10.0.0.1;"));
    assert.equal(key(["header:a"], { headers: {} }), expect("-;"));
  });

  it("shares the request's parsed cookies and query with expressions", () => {
    const req = new CelRequest(base);
    compileKey(["cookie:sid", "query:user"])(req);
    assert.equal(req.cookies(), req.cookies());
    assert.equal(req.query().get("user")?.length, 2);
  });
});
