import type { Logger } from "pino";
import { loadManagementSettings } from "../management/settings/management-settings.ts";
import { startWarren } from "../management/app.ts";
import { DataPlane } from "../proxy/index.ts";
import { createLogger } from "./logger.ts";
import { NODE_FLAGS, startedWithNodeFlags } from "./node-flags.ts";

export async function serve(): Promise<void> {
  const settings = loadManagementSettings(process.env);
  const log: Logger = createLogger(settings.logLevel, "warren");
  if (!startedWithNodeFlags()) {
    log.warn({ nodeFlags: NODE_FLAGS }, "node was started without Warren's node flags: V8's young generation is not capped, so memory can exceed the cache budgets; run the warren command or npm start, or add these flags to node");
  }
  // The composition root: management gets the data plane through its control interface only.
  const warren = await startWarren(settings, log, (o) => new DataPlane(o));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    warren.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "error while shutting down");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}
