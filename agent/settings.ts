// `warren agent` settings from the environment (DESIGN.md §7). Every invalid value throws
// SettingsError (lib/env.ts) with one line naming the variable and what it accepts; the token never
// appears in a message.
import { X509Certificate, createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { AGENT_ID_RE, splitAgentToken } from "../tunnel/handshake.ts";
import { AllowlistError, parseAllowlist, type AllowRule } from "./allowlist.ts";
import { SettingsError, readBool, readEnum, readString, type Env } from "../lib/env.ts";

export { SettingsError };
export type { Env };
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/** How the agent authenticates management's TLS certificate. */
export type ManagementTrust =
  /** MANAGEMENT_CA_FILE: normal verification against these CA certificates (PEM), host name checked. */
  | { readonly kind: "ca"; readonly caPem: string; readonly caFile: string }
  /** MANAGEMENT_CA_SHA256: the CA is whichever certificate in the server's chain has this SHA-256 (lower-case hex, no colons). */
  | { readonly kind: "pin"; readonly sha256: string }
  /** http: management (AGENT_ALLOW_INSECURE_MANAGEMENT=true): nothing to verify. */
  | { readonly kind: "insecure" };

export interface AgentSettings {
  readonly managementUrl: URL;
  readonly agentId: string;
  /** The secret part of AGENT_TOKEN. Not enumerable, so logging or serialising the settings leaves it out. */
  readonly secret: string;
  readonly trust: ManagementTrust;
  /** Absolute; holds agent.key.pem and agent.crt.pem. */
  readonly stateDir: string;
  /** AGENT_ALLOW rules, or "all" (unset): everything except the management endpoint. */
  readonly allow: readonly AllowRule[] | "all";
  readonly logLevel: LogLevel;
}

/** SHA-256 fingerprint as users paste it ("AB:CD:…", "abcd…", "sha256:…") → 64 lower-case hex digits, or undefined. */
export function normalizeSha256(input: string): string | undefined {
  const hex = input.trim().toLowerCase().replace(/^sha-?256[:=]/, "").replace(/[:\s-]/g, "");
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

/** SHA-256 over a certificate's DER, lower-case hex without colons. */
export function certSha256(cert: X509Certificate): string {
  return createHash("sha256").update(cert.raw).digest("hex");
}

/** Every CERTIFICATE block of a PEM text, parsed. Throws if a block does not parse. */
export function parsePemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

function readManagementUrl(env: Env, allowInsecure: boolean): URL {
  const name = "MANAGEMENT_URL";
  const v = readString(env, name);
  if (v === undefined) throw new SettingsError(name, "required: the management server's URL, e.g. https://warren.example.com:8081");
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new SettingsError(name, `got "${v}", expected an absolute URL such as https://warren.example.com:8081`);
  }
  if (u.username !== "" || u.password !== "") throw new SettingsError(name, "must not contain credentials; use AGENT_TOKEN");
  if (u.protocol === "https:") return u;
  if (u.protocol === "http:") {
    if (allowInsecure) return u;
    throw new SettingsError(name, `got "${v}": http sends the agent token in clear text; use https, or set AGENT_ALLOW_INSECURE_MANAGEMENT=true to accept that`);
  }
  throw new SettingsError(name, `got "${v}", expected an https URL`);
}

function readIdentity(env: Env): { agentId: string; secret: string } {
  const idRaw = readString(env, "AGENT_ID");
  if (idRaw !== undefined && !AGENT_ID_RE.test(idRaw)) {
    throw new SettingsError("AGENT_ID", `got "${idRaw.slice(0, 64)}", expected an agent id such as agt_abcdefghijklmnop (agt_ and 16 characters a–z, 2–7)`);
  }
  const token = readString(env, "AGENT_TOKEN");
  if (token === undefined) throw new SettingsError("AGENT_TOKEN", "required: the agent token shown when the agent was created (<agent id>.<secret>)");
  if (/\s/.test(token)) throw new SettingsError("AGENT_TOKEN", "must not contain whitespace");
  const split = splitAgentToken(token);
  if (split !== undefined) {
    if (idRaw !== undefined && idRaw !== split.agentId) {
      throw new SettingsError("AGENT_ID", `is ${idRaw} but AGENT_TOKEN belongs to ${split.agentId}; unset AGENT_ID or fix one of them`);
    }
    return split;
  }
  if (idRaw === undefined) {
    throw new SettingsError("AGENT_TOKEN", "expected <agent id>.<secret> as shown when the agent was created, or set AGENT_ID and give the secret alone");
  }
  if (token.startsWith("agt_") && token.includes(".")) {
    throw new SettingsError("AGENT_TOKEN", "looks like <agent id>.<secret> but the agent id part is malformed");
  }
  return { agentId: idRaw, secret: token };
}

function readTrust(env: Env, url: URL, cwd: string): ManagementTrust {
  if (url.protocol === "http:") return { kind: "insecure" };
  const file = readString(env, "MANAGEMENT_CA_FILE");
  const pinRaw = readString(env, "MANAGEMENT_CA_SHA256");
  const pin = pinRaw === undefined ? undefined : normalizeSha256(pinRaw);
  if (pinRaw !== undefined && pin === undefined) {
    throw new SettingsError("MANAGEMENT_CA_SHA256", "expected the CA certificate's SHA-256 fingerprint: 64 hex digits, colons optional");
  }
  if (file === undefined) {
    if (pin !== undefined) return { kind: "pin", sha256: pin };
    throw new SettingsError(
      "MANAGEMENT_CA_FILE",
      "required for an https MANAGEMENT_URL unless MANAGEMENT_CA_SHA256 is set: the path of the management CA certificate (PEM), or its SHA-256 fingerprint in MANAGEMENT_CA_SHA256 (the system trust store is not used)",
    );
  }
  const path = resolve(cwd, file);
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (e) {
    throw new SettingsError("MANAGEMENT_CA_FILE", `cannot read "${file}": ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
  let certs: X509Certificate[];
  try {
    certs = parsePemCertificates(pem);
  } catch {
    throw new SettingsError("MANAGEMENT_CA_FILE", `"${file}" holds a certificate that does not parse; expected PEM CA certificates`);
  }
  if (certs.length === 0) throw new SettingsError("MANAGEMENT_CA_FILE", `"${file}" holds no PEM certificate; expected the management CA certificate`);
  if (pin !== undefined && !certs.some((c) => certSha256(c) === pin)) {
    throw new SettingsError("MANAGEMENT_CA_SHA256", `matches no certificate in MANAGEMENT_CA_FILE "${file}"; set one of them, or make them agree`);
  }
  return { kind: "ca", caPem: pem, caFile: path };
}

function readAllow(env: Env): readonly AllowRule[] | "all" {
  const v = readString(env, "AGENT_ALLOW");
  if (v === undefined) return "all";
  try {
    return parseAllowlist(v);
  } catch (e) {
    if (e instanceof AllowlistError) {
      throw new SettingsError("AGENT_ALLOW", `${e.message}; expected comma-separated CIDR blocks (10.0.0.0/8), IPs, or host:port globs (127.0.0.1:9000, *.internal:443, db.local:*, [::1]:8080)`);
    }
    throw e;
  }
}

/** Reads `warren agent`'s settings; throws SettingsError naming the variable. */
export function loadAgentSettings(env: Env, cwd: string = process.cwd()): AgentSettings {
  const allowInsecure = readBool(env, "AGENT_ALLOW_INSECURE_MANAGEMENT", false);
  const managementUrl = readManagementUrl(env, allowInsecure);
  const { agentId, secret } = readIdentity(env);
  const trust = readTrust(env, managementUrl, cwd);
  const settings = {
    managementUrl,
    agentId,
    trust,
    stateDir: resolve(cwd, readString(env, "AGENT_STATE_DIR") ?? "./agent-data"),
    allow: readAllow(env),
    logLevel: readEnum<LogLevel>(env, "LOG_LEVEL", "info", LOG_LEVELS),
  };
  Object.defineProperty(settings, "secret", { value: secret, enumerable: false, writable: false });
  return settings as AgentSettings;
}

/** host and port of MANAGEMENT_URL (port defaulted from the scheme); host without IPv6 brackets. */
export function managementEndpoint(url: URL): { host: string; port: number } {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  return { host, port };
}
