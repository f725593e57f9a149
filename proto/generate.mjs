#!/usr/bin/env node
// `npm run gen`: regenerates proto/gen from proto/ with buf + protoc-gen-es.
// The buf binary comes from its per-platform npm package: the @bufbuild/buf wrapper lists platform
// packages the registry mirror here does not carry, which breaks `npm ci`'s lockfile check.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

export function bufBinary() {
  const arch = { x64: "x64", arm64: "aarch64" }[process.arch];
  const bin = arch && process.platform === "linux" ? join(root, "node_modules", "@bufbuild", `buf-linux-${arch}`, "bin", "buf") : undefined;
  return bin && existsSync(bin) ? bin : undefined;
}

/** Runs `buf generate proto` in `cwd` (default: the repository). */
export function generate(cwd = root) {
  const buf = bufBinary();
  if (!buf) throw new Error(`no buf binary for ${process.platform}-${process.arch}; install @bufbuild/buf-${process.platform}-${process.arch}`);
  return spawnSync(buf, ["generate", "proto"], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH ?? ""}` },
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = generate();
  process.stdout.write(r.stdout ?? "");
  process.stderr.write(r.stderr ?? "");
  process.exit(r.status ?? 1);
}
