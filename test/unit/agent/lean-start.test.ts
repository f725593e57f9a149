import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("./fixtures/lean-start-child.ts", import.meta.url));

function run(extra: string[]): string {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--trace-opt", ...extra, CHILD], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done/);
  return r.stdout;
}

/** Whether V8's trace shows TurboFan finishing a function of this name. */
const turbofanned = (trace: string, name: string) => trace.split("\n").some((l) => /completed (optimizing|compiling)/.test(l) && l.includes(`<JSFunction ${name} `) && /TURBOFAN/.test(l));

describe("agent start-up holds the optimizing compilers back (agent/lean-start.ts)", () => {
  it("no TurboFan while held, TurboFan again once released", () => {
    const trace = run([]);
    assert.equal(turbofanned(trace, "whileHeld"), false, "compiled while held");
    assert.equal(turbofanned(trace, "afterRelease"), true, "not compiled after release");
  });

  it("leaves the compilers alone when the operator chose them on the command line", () => {
    // --no-sparkplug is a choice about compilers: then holding is skipped, and TurboFan runs as usual.
    const trace = run(["--no-sparkplug"]);
    assert.equal(turbofanned(trace, "whileHeld"), true);
  });
});
