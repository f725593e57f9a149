import type { SpawnSyncReturns } from "node:child_process";
export declare function bufBinary(): string | undefined;
export declare function generate(cwd?: string): SpawnSyncReturns<string>;
