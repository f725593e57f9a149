export interface SnippetInput {
  readonly agentId: string;
  readonly agentName: string;
  readonly managementUrl: string;
  /** Empty when management does not use Warren's CA (provided certificate): then no pin. */
  readonly caFingerprint: string;
  /** The token, only right after create/rotate; otherwise a placeholder is written. */
  readonly token: string | undefined;
  /** SHA-256 (hex) of the self-contained agent at /agent/download; empty when this installation has none. */
  readonly bundleSha256?: string;
}

const AGENT_FILE = "warren-agent.cjs";

/**
 * One shell command that needs nothing but Node: fetches the agent from management and keeps it only
 * when its SHA-256 is the pinned one. The TLS certificate is not checked here (the host does not
 * trust Warren's CA yet); the pinned hash is what makes the download safe.
 */
export function downloadCommand(managementUrl: string, sha256: string): string {
  const js =
    'const[u,h]=process.argv.slice(1);require("node:https").get(u,{rejectUnauthorized:false},r=>{const b=[];r.on("data",c=>b.push(c)).on("end",()=>{const f=Buffer.concat(b);' +
    'if(r.statusCode!==200||require("node:crypto").createHash("sha256").update(f).digest("hex")!==h){console.error("warren-agent.cjs: download failed or checksum mismatch");process.exit(1)}' +
    `require("node:fs").writeFileSync("${AGENT_FILE}",f)})}).on("error",e=>{console.error(e.message);process.exit(1)})`;
  return `node -e ${sh(js)} ${sh(`${managementUrl}/agent/download`)} ${sha256}`;
}

export interface InstallSnippet {
  systemdUnit: string;
  envFile: string;
  composeService: string;
  commandLine: string;
}

const TOKEN_PLACEHOLDER = "<paste the token shown when the agent was created or its token rotated>";

/** Single-quotes a value for POSIX shells. */
function sh(v: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(v) ? v : `'${v.replace(/'/g, `'"'"'`)}'`;
}

/** Ready-to-paste ways to run the agent: systemd, compose, one command line. */
export function installSnippet(i: SnippetInput): InstallSnippet {
  const env: [string, string][] = [
    ["MANAGEMENT_URL", i.managementUrl],
    ["AGENT_ID", i.agentId],
    ["AGENT_TOKEN", i.token ?? TOKEN_PLACEHOLDER],
  ];
  if (i.caFingerprint) env.push(["MANAGEMENT_CA_SHA256", i.caFingerprint]);
  const unitName = `warren-agent-${i.agentId}`;

  const bundled = (i.bundleSha256 ?? "") !== "";
  const download = bundled ? downloadCommand(i.managementUrl, i.bundleSha256!) : "";
  // With the bundle: plain Node runs the one file. Without (a build with no agent bundle): the warren package's CLI.
  const run = bundled ? `/usr/bin/env node /opt/warren/${AGENT_FILE}` : "/usr/bin/env warren agent";

  const envFile = [`# /etc/warren/${unitName}.env (mode 0600: it holds the agent token)`, ...env.map(([k, v]) => `${k}=${v}`), "AGENT_STATE_DIR=/var/lib/" + unitName, ""].join("\n");

  const systemdUnit = [
    `# /etc/systemd/system/${unitName}.service`,
    ...(bundled ? ["# Install the agent first (needs only Node 20.19+):", `#   sudo mkdir -p /opt/warren && cd /opt/warren && ${download}`] : []),
    "[Unit]",
    `Description=Warren agent ${i.agentName} (${i.agentId})`,
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    `EnvironmentFile=/etc/warren/${unitName}.env`,
    `ExecStart=${run}`,
    "Restart=always",
    "RestartSec=2",
    "DynamicUser=yes",
    `StateDirectory=${unitName}`,
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");

  const composeService = [
    "services:",
    `  warren-agent-${i.agentName.toLowerCase().replace(/[^a-z0-9-]/g, "-")}:`,
    ...(bundled
      ? ["    image: node:22-alpine", "    working_dir: /var/lib/warren-agent", `    command: ${JSON.stringify(["sh", "-c", `${download} && exec node ${AGENT_FILE}`])}`]
      : ["    image: ${WARREN_IMAGE:-warren:latest}", '    command: ["agent"]']),
    "    restart: unless-stopped",
    "    environment:",
    ...env.map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`),
    '      AGENT_STATE_DIR: "/var/lib/warren-agent"',
    "    volumes:",
    "      - warren-agent-state:/var/lib/warren-agent",
    "volumes:",
    "  warren-agent-state: {}",
    "",
  ].join("\n");

  const vars = env.map(([k, v]) => `${k}=${sh(v)}`).join(" ");
  // Run in an empty folder: it holds warren-agent.cjs and the agent's state (./agent-data).
  const commandLine = bundled ? `${download} && ${vars} node ${AGENT_FILE}` : `${vars} warren agent`;
  return { systemdUnit, envFile, composeService, commandLine };
}
