#!/usr/bin/env node
// Runs every *.test.ts under test/ (or under the folders named on the command line) with node:test.
// Node 20's --test does not expand globs, so the file list is built here.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const testDir = join(root, "test");

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (name === "node_modules" || name === "bin") continue;
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const wanted = process.argv.slice(2);
const dirs = wanted.length ? wanted.map((d) => join(testDir, d)) : [testDir];
const files = dirs.flatMap(walk).map((f) => relative(root, f));
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}

const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json", "--noEmit"], {
  cwd: root,
  stdio: "inherit",
});
if (tsc.status !== 0) {
  console.error("typecheck failed");
  process.exit(tsc.status ?? 1);
}
// The browser UI has its own settings (DOM, Preact's JSX).
const uiTsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "management/ui/tsconfig.json", "--noEmit"], { cwd: root, stdio: "inherit" });
if (uiTsc.status !== 0) {
  console.error("UI typecheck failed");
  process.exit(uiTsc.status ?? 1);
}

// The integration tests spawn `warren` (cli/bin.mjs), which runs dist/ when it is current: build it,
// so they exercise what `npm ci && npm start` runs.
const build = spawnSync(process.execPath, [join(root, "cli/build.mjs")], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

// Nothing may hang forever: a test still running after TEST_TIMEOUT_MS fails. Node 20 applies the
// bound to each test file as a whole (newer Node to each test); the slowest file, agent-tunnel, takes
// about a minute on a loaded 2-core machine. Inside a file the helpers' own deadlines (waitForLog,
// pollUntil, ready) fail first, naming what they waited for.
const timeoutMs = Number(process.env.TEST_TIMEOUT_MS ?? 300_000);

// The fault suites (test/integration/fault-*) kill and restart real processes and time how fast
// they come back; a process start is what they mostly measure, and on two cores it doubles when
// another suite runs beside it. They run last, on their own, so their bounds measure Warren.
const alone = (f) => /(^|\/)fault-[^/]*\.test\.ts$/.test(f);
const run = (list, concurrency) =>
  spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", "--test-reporter=spec", `--test-concurrency=${concurrency}`, `--test-timeout=${timeoutMs}`, ...list],
    { cwd: root, stdio: "inherit" },
  ).status ?? 1;
const shared = files.filter((f) => !alone(f));
const serial = files.filter(alone);
const first = shared.length ? run(shared, process.env.TEST_CONCURRENCY ?? 2) : 0;
const second = serial.length ? run(serial, 1) : 0;
process.exit(first || second);
