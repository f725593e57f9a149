#!/usr/bin/env node
// `npm run build` (also run by `npm ci` through `prepare`, and by `npm test`): compiles the
// TypeScript that runs into dist/, then stamps the build so cli/bin.mjs can tell it is current.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const r = spawnSync(process.execPath, [tsc, "-p", "cli/tsconfig.build.json"], { cwd: root, stdio: "inherit" });
if (r.status !== 0) {
  console.error("build failed");
  process.exit(r.status ?? 1);
}
writeFileSync(new URL("../dist/.built", import.meta.url), `${new Date().toISOString()}\n`);
