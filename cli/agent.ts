import type { Logger } from "pino";
import { runAgent } from "../agent/agent.ts";
import { SettingsError, loadAgentSettings } from "../agent/settings.ts";
import { createLogger } from "./logger.ts";

/**
 * `warren agent`: reads the agent settings from the environment, runs the tunnel until SIGTERM/SIGINT,
 * then goes away gracefully (open streams get up to 10 s) and exits 0. A bad setting prints one line
 * naming the variable and exits 2.
 */
export async function agentCommand(): Promise<void> {
  let log: Logger | undefined;
  try {
    const settings = loadAgentSettings(process.env);
    log = createLogger(settings.logLevel, "warren-agent");
    const agent = await runAgent(settings, log);
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log?.warn({ signal }, "second signal: exiting now");
        process.exit(1);
      }
      stopping = true;
      log?.info({ signal }, "shutting down");
      // Backstop in case something hangs beyond the 10 s grace period.
      setTimeout(() => process.exit(1), 15_000).unref();
      void agent.stop().then(() => process.exit(0));
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  } catch (e) {
    if (e instanceof SettingsError) {
      process.stderr.write(`warren agent: ${e.message}\n`);
      process.exit(2);
    }
    if (log) log.fatal({ err: e }, "agent failed to start");
    else process.stderr.write(`warren agent: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  }
}
