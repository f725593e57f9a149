import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../../management/store/index.ts";

describe("agent certificates in the store", () => {
  it("finds a serial however it is spelled: case and leading zeros do not matter", () => {
    const store = openStore(join(mkdtempSync(join(tmpdir(), "warren-certs-")), "w.db"));
    try {
      const now = Date.now();
      store.agents.insert({ id: "agt_a", name: "a", labels: "{}", enabled: 1, require_mtls: 1, token_hash: "x", created_at: now, updated_at: now });
      // The PKI writes 16 random bytes as hex, so one serial in sixteen starts with a 0 nibble;
      // X509Certificate.serialNumber spells the same number in upper case.
      store.agents.insertCertificate({ serial: "05ab", agent_id: "agt_a", not_before: now, not_after: now + 1, issued_at: now });
      for (const spelling of ["05ab", "5ab", "05AB", "5AB", "0005AB"]) {
        assert.equal(store.agents.certificate(spelling)?.agent_id, "agt_a", spelling);
      }
      assert.equal(store.agents.certificate("5ac"), undefined);
    } finally {
      store.close();
    }
  });
});
