#!/usr/bin/env node
// `npm run build` (also run by `npm ci` through `prepare`, and by `npm test`): compiles the
// TypeScript that runs into dist/, then stamps the build so cli/bin.mjs can tell it is current.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);
const tsc = require.resolve("typescript/bin/tsc");
const r = spawnSync(process.execPath, [tsc, "-p", "cli/tsconfig.build.json"], { cwd: root, stdio: "inherit" });
if (r.status !== 0) {
  console.error("build failed");
  process.exit(r.status ?? 1);
}
// The management UI (management/ui) into dist/ui, which management serves. Vite is a dev dependency:
// an install without it (npm ci --omit=dev) gets a server whose UI page says how to build it.
let vite;
try {
  // bin/ is not in vite's package exports: resolve the package, then the file beside it.
  vite = join(dirname(require.resolve("vite/package.json")), "bin", "vite.js");
} catch {
  console.warn("vite is not installed: the management UI is not built (npm ci installs it)");
}
if (vite) {
  const ui = spawnSync(process.execPath, [vite, "build", "--config", "management/ui/vite.config.ts"], { cwd: root, stdio: "inherit" });
  if (ui.status !== 0) {
    console.error("UI build failed");
    process.exit(ui.status ?? 1);
  }
}
// The self-contained agent that management serves at /agent/download (esbuild, a dev dependency too).
try {
  const { buildAgentBundle } = await import("./build-agent.mjs");
  await buildAgentBundle();
} catch (e) {
  if (e?.code !== "ERR_MODULE_NOT_FOUND") {
    console.error("agent bundle failed:", e);
    process.exit(1);
  }
  console.warn("esbuild is not installed: the agent bundle is not built (npm ci installs it)");
}
writeFileSync(new URL("../dist/.built", import.meta.url), `${new Date().toISOString()}\n`);
