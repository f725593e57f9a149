import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { NODE_FLAGS } from "../../../cli/node-flags.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const read = (f: string) => readFileSync(`${root}${f}`, "utf8");
const flags = NODE_FLAGS.join(" ");

// V8 reads these flags only from node's command line, so they are written out where warren is started.
describe("the warren command's node flags (cli/node-flags.ts)", () => {
  it("are in the bin's shebang", () => {
    assert.equal(read("cli/bin.mjs").split("\n")[0], `#!/usr/bin/env -S node ${flags}`);
  });

  it("are in npm start", () => {
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, `node ${flags} cli/bin.mjs serve`);
  });

  it("are in compose.yaml's command", () => {
    assert.ok(read("compose.yaml").includes(`exec node ${flags} cli/bin.mjs serve`));
  });

  it("are detected on the command line and in NODE_OPTIONS, and missed when absent", () => {
    const probe = (args: string[], env: Record<string, string> = {}) => {
      const code = 'import("./cli/node-flags.ts").then((m) => process.stdout.write(String(m.startedWithNodeFlags())))';
      const r = spawnSync(process.execPath, [...args, "--import", "tsx", "-e", code], { cwd: root, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "", ...env } });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(probe([...NODE_FLAGS]), "true");
    assert.equal(probe([], { NODE_OPTIONS: flags }), "true");
    assert.equal(probe([]), "false");
  });
});
