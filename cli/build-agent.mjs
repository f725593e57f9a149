// Bundles the agent (cli/agent-bundle.ts and what it imports) into one ESM file, dist/agent-bundle/warren-agent.mjs,
// that runs with plain Node on a host with nothing else installed. Called by cli/build.mjs.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
export const AGENT_BUNDLE = "dist/agent-bundle/warren-agent.mjs";

export async function buildAgentBundle() {
  const { build } = await import("esbuild");
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  await build({
    absWorkingDir: root,
    entryPoints: ["cli/agent-bundle.ts"],
    outfile: AGENT_BUNDLE,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20.19",
    minify: true,
    legalComments: "eof",
    logLevel: "warning",
    define: { __WARREN_BUNDLED_VERSION__: JSON.stringify(version) },
    // CommonJS dependencies (pino, commander's friends) call require() for Node built-ins.
    banner: { js: `#!/usr/bin/env node\nimport { createRequire as __warrenRequire } from "node:module"; const require = __warrenRequire(import.meta.url);` },
  });
}
