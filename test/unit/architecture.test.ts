// DESIGN.md §2's dependency rules, checked on the import graph of the code that runs: lib/ imports
// nothing of ours, proxy/ never imports management/, management reaches proxy/ only through
// proxy/index.ts, nothing imports cli/, and there are no import cycles.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FOLDERS = ["lib", "cli", "management", "proxy", "agent", "tunnel"];

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== "node_modules" && name !== "dist" && name !== "ui") out.push(...walk(p));
    } else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) {
      out.push(p);
    }
  }
  return out;
}

/** Relative imports of a file (type-only ones too: they are part of the design's direction). */
function importsOf(file: string): string[] {
  const src = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of src.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"(\.{1,2}\/[^"]+)"/gms)) out.push(resolve(dirname(file), m[1]!));
  for (const m of src.matchAll(/import\("(\.{1,2}\/[^"]+)"\)/g)) out.push(resolve(dirname(file), m[1]!));
  for (const m of src.matchAll(/^\s*import\s+"(\.{1,2}\/[^"]+)"/gm)) out.push(resolve(dirname(file), m[1]!));
  return out;
}

const files = FOLDERS.flatMap((f) => walk(join(ROOT, f)));
const graph = new Map(files.map((f) => [relative(ROOT, f), importsOf(f).map((i) => relative(ROOT, i))]));
const top = (p: string) => p.split("/")[0]!;

describe("the import graph (DESIGN.md §2)", () => {
  it("lib/ imports nothing of ours", () => {
    for (const [f, deps] of graph) if (top(f) === "lib") for (const d of deps) assert.equal(top(d), "lib", `${f} imports ${d}`);
  });

  it("proxy/ never imports management/, agent/ or cli/", () => {
    for (const [f, deps] of graph) {
      if (top(f) !== "proxy") continue;
      for (const d of deps) assert.ok(!["management", "agent", "cli"].includes(top(d)), `${f} imports ${d}`);
    }
  });

  it("management/ reaches proxy/ only through proxy/index.ts", () => {
    for (const [f, deps] of graph) {
      if (top(f) !== "management") continue;
      for (const d of deps) if (top(d) === "proxy") assert.equal(d, "proxy/index.ts", `${f} imports ${d}`);
    }
  });

  it("agent/ and tunnel/ import neither management/ nor proxy/; nothing imports cli/", () => {
    for (const [f, deps] of graph) {
      for (const d of deps) {
        if (top(f) === "agent" || top(f) === "tunnel") assert.ok(!["management", "proxy"].includes(top(d)), `${f} imports ${d}`);
        if (top(f) !== "cli") assert.notEqual(top(d), "cli", `${f} imports ${d}`);
      }
    }
  });

  it("has no import cycles", () => {
    const state = new Map<string, "visiting" | "done">();
    const stack: string[] = [];
    const visit = (f: string): void => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "visiting") assert.fail(`import cycle: ${[...stack.slice(stack.indexOf(f)), f].join(" → ")}`);
      state.set(f, "visiting");
      stack.push(f);
      for (const d of graph.get(f) ?? []) if (graph.has(d)) visit(d);
      stack.pop();
      state.set(f, "done");
    };
    for (const f of graph.keys()) visit(f);
  });
});
