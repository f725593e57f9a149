// The entry of the self-contained agent, dist/agent-bundle/warren-agent.mjs (cli/build.mjs bundles it with
// its dependencies into one file; management serves it at /agent/download). It runs on a host that
// has only Node: no checkout, no npm install, nothing of the server (SQLite, the UI, the proxy).
//   node warren-agent.mjs            run the agent (settings from the environment, `.env` read first)
//   node warren-agent.mjs --version
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
await agentCommand();
