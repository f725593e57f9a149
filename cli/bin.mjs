#!/usr/bin/env -S node --max-semi-space-size=4
// The installed `warren` command. It runs the compiled CLI from dist/ (built by `npm ci` through
// `prepare`, or by `npm run build`): plain Node starts in a fraction of the time and ~30 MB smaller
// than through a TypeScript loader. When a source file is newer than that build (a checkout being
// edited) or there is none, it runs the TypeScript sources through tsx instead, so what runs is
// always what is checked out.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";

// The shebang's node flags are cli/node-flags.ts's NODE_FLAGS (why is said there).
// GC tuning, before the heap grows: every socket read and TLS record is a fresh ArrayBuffer, which
// V8 (Node 20) counts against the old generation's limit until a scavenge frees it. With the default
// growth the limit stays ~12 MB above a small heap and a proxy under load runs ~100 full
// mark-compacts per 10 s (40–50 % of the agent's CPU on the tunnel path). Letting the limit grow 4×
// per step removes them: tunnel 64 KiB req/s +70 % in bench/http, for ~35 MiB more RSS. An explicit
// --heap-growing-percent in NODE_OPTIONS or on the node command line wins.
const flag = "--heap-growing-percent";
if (!process.execArgv.some((a) => a.startsWith(flag)) && !(process.env.NODE_OPTIONS ?? "").includes(flag)) {
  v8.setFlagsFromString(`${flag}=400`);
}

const root = fileURLToPath(new URL("..", import.meta.url));
const SOURCES = ["lib", "cli", "management", "proxy", "agent", "tunnel", "proto/gen"];

function newestSource(dir, newest = 0) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (e.name !== "node_modules" && e.name !== "dist") newest = newestSource(join(dir, e.name), newest);
    } else if (e.name.endsWith(".ts")) {
      newest = Math.max(newest, statSync(join(dir, e.name)).mtimeMs);
    }
  }
  return newest;
}

function buildIsCurrent() {
  const stamp = join(root, "dist", ".built");
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  return SOURCES.every((d) => newestSource(join(root, d)) <= built);
}

if (buildIsCurrent()) {
  await import("../dist/cli/warren.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("./warren.ts");
}
