import { PACKAGE_VERSION } from "../tunnel/package-info.ts";

/** The package version, read once from package.json. */
export const VERSION: string = PACKAGE_VERSION;
