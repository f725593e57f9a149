// The entry of the self-contained agent, dist/agent-bundle/warren-agent.cjs (cli/build.mjs bundles it with
// its dependencies into one CommonJS file; management serves it at /agent/download). It runs on a host
// that has only Node: no checkout, no npm install, nothing of the server (SQLite, the UI, the proxy).
// CommonJS, not ESM: Node's ESM loader alone keeps ~1.8 MB more resident in an idle process.
//   node warren-agent.cjs            run the agent (settings from the environment, `.env` read first)
//   node warren-agent.cjs --version
import { existsSync } from "node:fs";
import v8 from "node:v8";
import { PACKAGE_VERSION } from "../lib/package-info.ts";
import { agentCommand } from "./agent.ts";

if (process.argv.includes("--version") || process.argv.includes("-v")) {
  process.stdout.write(`${PACKAGE_VERSION}\n`);
  process.exit(0);
}
// The same GC setting as the `warren` bin (cli/bin.mjs says why: full GCs driven by socket-read buffers).
const flag = "--heap-growing-percent";
if (!process.execArgv.some((a) => a.startsWith(flag)) && !(process.env.NODE_OPTIONS ?? "").includes(flag)) v8.setFlagsFromString(`${flag}=400`);
if (existsSync(".env")) process.loadEnvFile(".env");
agentCommand().catch((e: unknown) => {
  process.stderr.write(`warren agent: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
