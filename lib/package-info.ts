import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The warren package's root folder: the nearest folder above this module with a package.json. The
 * same from the TypeScript sources (tunnel/) and from the compiled build (dist/tunnel/).
 */
export const PACKAGE_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("warren: no package.json above the installed code");
    dir = up;
  }
  return dir;
})();

/** The package version, read once from package.json; both ends report it in the tunnel handshake. */
export const PACKAGE_VERSION: string = (JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;
