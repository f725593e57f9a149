import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bufBinary, generate } from "../../../proto/generate.mjs";
import { cpSync, mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe("generated protobuf code", () => {
  it("matches what `npm run gen` produces from proto/", (t) => {
    if (!bufBinary()) return t.skip("SKIPPED LOUDLY: no buf binary for this platform, generated code not checked");
    const work = mkdtempSync(join(tmpdir(), "warren-gen-"));
    cpSync(join(root, "proto"), join(work, "proto"), { recursive: true, filter: (src) => !src.includes(`${join(root, "proto", "gen")}`) });
    cpSync(join(root, "buf.gen.yaml"), join(work, "buf.gen.yaml"));
    const r = generate(work);
    assert.equal(r.status, 0, r.stderr);
    const want = files(join(work, "proto", "gen")).map((f) => relative(join(work, "proto", "gen"), f)).sort();
    const have = files(join(root, "proto", "gen")).map((f) => relative(join(root, "proto", "gen"), f)).sort();
    assert.deepEqual(have, want, "proto/gen has exactly the generated files: run `npm run gen`");
    for (const f of want) {
      assert.equal(readFileSync(join(root, "proto", "gen", f), "utf8"), readFileSync(join(work, "proto", "gen", f), "utf8"), `${f} is stale: run \`npm run gen\``);
    }
  });
});
