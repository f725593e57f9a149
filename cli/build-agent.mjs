// Bundles the agent (cli/agent-bundle.ts and what it imports) into one CommonJS file, dist/agent-bundle/warren-agent.cjs,
// that runs with plain Node on a host with nothing else installed. Called by cli/build.mjs.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
export const AGENT_BUNDLE = "dist/agent-bundle/warren-agent.cjs";

export async function buildAgentBundle() {
  const { build } = await import("esbuild");
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  await build({
    absWorkingDir: root,
    entryPoints: ["cli/agent-bundle.ts"],
    outfile: AGENT_BUNDLE,
    bundle: true,
    platform: "node",
    // CommonJS: an idle Node process with the ESM loader keeps ~1.8 MB more resident (bench/agent-rss).
    format: "cjs",
    target: "node20.19",
    minify: true,
    legalComments: "eof",
    logLevel: "warning",
    // import.meta.url is read only outside the bundle (lib/package-info.ts), but must still be a URL.
    define: { __WARREN_BUNDLED_VERSION__: JSON.stringify(version), "import.meta.url": "__warrenModuleUrl" },
    banner: { js: `#!/usr/bin/env node\nconst __warrenModuleUrl = require("node:url").pathToFileURL(__filename).href;` },
  });
}
