// Worker entry: registers the TypeScript loader (as cli/bin.mjs does for the main thread; loader
// hooks are not inherited by workers), then runs the worker.
import { register } from "tsx/esm/api";

register();
await import("./event-store-worker.ts");
