import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Set by the build of the self-contained agent (cli/build.mjs): that file runs from any folder, with
// no package.json beside it.
declare const __WARREN_BUNDLED_VERSION__: string | undefined;

/** True in the self-contained agent bundle (dist/agent-bundle/warren-agent.cjs). */
export const BUNDLED: boolean = typeof __WARREN_BUNDLED_VERSION__ === "string";

let root: string | undefined;
/**
 * The warren package's root folder: the nearest folder above this module with a package.json. The
 * same from the TypeScript sources (tunnel/) and from the compiled build (dist/tunnel/).
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("warren: no package.json above the installed code");
    dir = up;
  }
  return (root = dir);
}

/** The package version; both ends report it in the tunnel handshake. */
export const PACKAGE_VERSION: string =
  typeof __WARREN_BUNDLED_VERSION__ === "string" ? __WARREN_BUNDLED_VERSION__ : (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
