export interface SnippetInput {
  readonly agentId: string;
  readonly agentName: string;
  readonly managementUrl: string;
  /** Empty when management does not use Warren's CA (provided certificate): then no pin. */
  readonly caFingerprint: string;
  /** The token, only right after create/rotate; otherwise a placeholder is written. */
  readonly token: string | undefined;
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

/** Ready-to-paste ways to run `warren agent` for one agent: systemd, compose, one command line. */
export function installSnippet(i: SnippetInput): InstallSnippet {
  const env: [string, string][] = [
    ["MANAGEMENT_URL", i.managementUrl],
    ["AGENT_ID", i.agentId],
    ["AGENT_TOKEN", i.token ?? TOKEN_PLACEHOLDER],
  ];
  if (i.caFingerprint) env.push(["MANAGEMENT_CA_SHA256", i.caFingerprint]);
  const unitName = `warren-agent-${i.agentId}`;

  const envFile = [`# /etc/warren/${unitName}.env (mode 0600: it holds the agent token)`, ...env.map(([k, v]) => `${k}=${v}`), "AGENT_STATE_DIR=/var/lib/" + unitName, ""].join("\n");

  const systemdUnit = [
    `# /etc/systemd/system/${unitName}.service`,
    "[Unit]",
    `Description=Warren agent ${i.agentName} (${i.agentId})`,
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    `EnvironmentFile=/etc/warren/${unitName}.env`,
    "ExecStart=/usr/bin/env warren agent",
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
    "    image: ${WARREN_IMAGE:-warren:latest}",
    '    command: ["agent"]',
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

  const commandLine = `${env.map(([k, v]) => `${k}=${sh(v)}`).join(" ")} warren agent`;
  return { systemdUnit, envFile, composeService, commandLine };
}
