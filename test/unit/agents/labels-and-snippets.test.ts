import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { effectiveLabels, validateLabels } from "../../../management/agents/labels.ts";
import { installSnippet } from "../../../management/agents/install-snippet.ts";
import { ApiError } from "../../../management/errors.ts";

describe("agent labels", () => {
  it("accepts Kubernetes-style keys and values and adds the system label", () => {
    assert.deepEqual(validateLabels({ "example.com/zone": "eu-1", tier: "", "a.b_c-d": "X.Y" }), { "a.b_c-d": "X.Y", "example.com/zone": "eu-1", tier: "" });
    assert.deepEqual(effectiveLabels("agt_x", { a: "1" }), { a: "1", "warren.io/agent-id": "agt_x" });
  });
  it("rejects bad keys, values, reserved keys and too many labels, naming the label", () => {
    const bad = (l: Record<string, string>, re: RegExp) =>
      assert.throws(() => validateLabels(l), (e: unknown) => e instanceof ApiError && e.code === "invalid_argument" && re.test(e.message));
    bad({ "-a": "1" }, /^labels\["-a"\]: key/);
    bad({ ["x".repeat(64)]: "1" }, /key/);
    bad({ a: "-v" }, /^labels\["a"\]: value/);
    bad({ a: "v".repeat(64) }, /value/);
    bad({ "warren.io/agent-id": "x" }, /reserved/);
    bad(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"])), /^labels: at most 32/);
  });
});

describe("install snippets", () => {
  const base = { agentId: "agt_abcdefghijklmnop", agentName: "edge 1", managementUrl: "https://warren.example:8081", caFingerprint: "ab:cd" };
  it("quotes values so the command line is safe to paste into a shell", () => {
    const s = installSnippet({ ...base, token: "agt_abcdefghijklmnop.it's; rm -rf /" });
    const out = execFileSync("sh", ["-c", `${s.commandLine.replace(/ warren agent$/, "")} sh -c 'printf %s "$AGENT_TOKEN"'`], { encoding: "utf8" });
    assert.equal(out, "agt_abcdefghijklmnop.it's; rm -rf /");
  });
  it("uses a placeholder without the token, and omits the pin without a CA fingerprint", () => {
    const s = installSnippet({ ...base, caFingerprint: "", token: undefined });
    assert.match(s.envFile, /AGENT_TOKEN=<paste the token/);
    assert.doesNotMatch(s.envFile, /MANAGEMENT_CA_SHA256/);
    assert.match(s.systemdUnit, /EnvironmentFile=\/etc\/warren\/warren-agent-agt_abcdefghijklmnop\.env/);
    assert.match(s.composeService, /warren-agent-edge-1:/);
  });
});
