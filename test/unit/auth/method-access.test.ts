import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { METHOD_POLICIES, SERVICES, policyFor } from "../../../management/auth/method-access.ts";

describe("method access table", () => {
  it("lists every method of every service, and nothing else", () => {
    const declared = SERVICES.flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`)).sort();
    assert.deepEqual([...METHOD_POLICIES.keys()].sort(), declared);
  });
  it("fails closed for an unknown method", () => {
    assert.deepEqual(policyFor("warren.v1.Nope", "Do"), { access: "admin", audited: true });
  });
  it("lets viewers call only reads, and audits every write", () => {
    for (const [name, p] of METHOD_POLICIES) {
      const isRead = /\/(Get|List)[A-Z]/.test(name);
      if (p.access === "read") assert.ok(isRead, `${name} is marked read but is not a Get/List`);
      if (p.access === "admin" && !isRead) assert.ok(p.audited, `${name} is a write and must be audited`);
    }
  });
});
