import { isAbsolute, resolve } from "node:path";
import { readFileSync } from "node:fs";
import { checkRateLimitStoreUrl, parseTrustedProxies } from "../../proxy/index.ts";
import { loadSecretsSettings, type SecretsSettings } from "../secrets/key-files.ts";
import { SettingsError, readBool, readEnum, readInt, readList, readString, readUrl, type Env } from "../../lib/env.ts";

export type TlsMode = "auto" | "provided" | "off";
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export const SETUP_WINDOW_MS = 5 * 60_000;

export interface ManagementSettings {
  readonly port: number;
  readonly bindAddress: string;
  readonly publicUrl: URL | undefined;
  readonly configDir: string;
  readonly databasePath: string;
  readonly tlsMode: TlsMode;
  readonly tlsCertFile: string | undefined;
  readonly tlsKeyFile: string | undefined;
  readonly tlsExtraHosts: readonly string[];
  readonly tlsClientCaFile: string | undefined;
  readonly allowInsecureHttp: boolean;
  /** Fixed setup token from the environment; undefined means one is generated at start. */
  readonly setupToken: string | undefined;
  readonly uiDisabled: boolean;
  readonly cookieSecure: boolean;
  readonly production: boolean;
  readonly logLevel: LogLevel;
  /** How long after start the first admin may be created. Only shortened by a test knob. */
  readonly setupWindowMs: number;
  /** Test-only endpoints (WARREN_TEST_HOOKS=true); never enable in production. */
  readonly testHooks: boolean;
  /** Port of the HTTP listener seeded into a fresh database (0 = any free port). */
  readonly publicHttpPort: number;
  /** PUBLIC_MAX_CONNECTIONS and PUBLIC_MAX_CONNECTIONS_PER_IP: concurrent connections per public listener and per client IP. */
  readonly publicConnectionLimits: { readonly perListener: number; readonly perIp: number };
  /** TRUSTED_PROXIES: peers whose X-Forwarded-For is believed. */
  readonly trustedProxies: string;
  readonly observabilityRetentionDays: number;
  readonly observabilityMaxEvents: number;
  /** RATE_LIMIT_STORE: "memory" (the default), or a redis:// / rediss:// URL several gateways share. */
  readonly rateLimitStore: string;
  /** SECRETS_ENCRYPTION_KEY_FILE and SECRETS_ENCRYPTION_PREVIOUS_KEYS, read and checked. */
  readonly secrets: SecretsSettings;
}

const HOST_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

function isHostOrIp(h: string): boolean {
  return HOST_RE.test(h) || IPV4_RE.test(h) || (h.includes(":") && /^[0-9a-f:.]+$/i.test(h));
}

function readTrustedProxies(env: Env): string {
  const v = readString(env, "TRUSTED_PROXIES", "");
  try {
    parseTrustedProxies(v);
  } catch (e) {
    throw new SettingsError("TRUSTED_PROXIES", `${(e as Error).message} (expected comma-separated IPs or CIDRs such as 10.0.0.0/8, fd00::/8)`);
  }
  return v;
}

function readRateLimitStore(env: Env): string {
  const v = readString(env, "RATE_LIMIT_STORE", "memory").trim();
  checkRateLimitStoreUrl(v);
  return v === "" ? "memory" : v;
}

/** CONFIG_DIR and DATABASE_PATH, resolved against cwd: all the CLI's offline commands need. */
export function resolveStatePaths(env: Env, cwd: string = process.cwd()): { configDir: string; databasePath: string } {
  const configDir = resolve(cwd, readString(env, "CONFIG_DIR", "./data"));
  const dbRaw = readString(env, "DATABASE_PATH");
  const databasePath = dbRaw === undefined ? resolve(configDir, "warren.db") : isAbsolute(dbRaw) ? dbRaw : resolve(cwd, dbRaw);
  return { configDir, databasePath };
}

/** Reads the management server's settings from the environment; throws SettingsError naming the variable. */
export function loadManagementSettings(env: Env, cwd: string = process.cwd()): ManagementSettings {
  const { configDir, databasePath } = resolveStatePaths(env, cwd);

  const tlsMode = readEnum<TlsMode>(env, "MANAGEMENT_TLS_MODE", "auto", ["auto", "provided", "off"]);
  const allowInsecureHttp = readBool(env, "MANAGEMENT_ALLOW_INSECURE_HTTP", false);
  if (tlsMode === "off" && !allowInsecureHttp) {
    throw new SettingsError("MANAGEMENT_TLS_MODE", "off serves logins and tokens in clear text; set MANAGEMENT_ALLOW_INSECURE_HTTP=true to accept that");
  }
  const tlsCertFile = readString(env, "MANAGEMENT_TLS_CERT_FILE");
  const tlsKeyFile = readString(env, "MANAGEMENT_TLS_KEY_FILE");
  if (tlsMode === "provided") {
    if (!tlsCertFile) throw new SettingsError("MANAGEMENT_TLS_CERT_FILE", "required when MANAGEMENT_TLS_MODE=provided: path to a PEM certificate chain");
    if (!tlsKeyFile) throw new SettingsError("MANAGEMENT_TLS_KEY_FILE", "required when MANAGEMENT_TLS_MODE=provided: path to a PEM private key");
    for (const [name, file] of [
      ["MANAGEMENT_TLS_CERT_FILE", tlsCertFile],
      ["MANAGEMENT_TLS_KEY_FILE", tlsKeyFile],
    ] as const) {
      try {
        readFileSync(resolve(cwd, file));
      } catch (e) {
        throw new SettingsError(name, `cannot read "${file}": ${(e as NodeJS.ErrnoException).code ?? "error"}`);
      }
    }
  }

  const tlsExtraHosts = readList(env, "MANAGEMENT_TLS_EXTRA_HOSTS").map((h) => h.toLowerCase());
  for (const h of tlsExtraHosts) {
    if (!isHostOrIp(h)) throw new SettingsError("MANAGEMENT_TLS_EXTRA_HOSTS", `"${h}" is not a host name or IP address (comma-separated list expected)`);
  }

  const setupToken = readString(env, "MANAGEMENT_SETUP_TOKEN");
  if (setupToken !== undefined && setupToken.length < 16) {
    throw new SettingsError("MANAGEMENT_SETUP_TOKEN", "must be at least 16 characters");
  }

  const production = readString(env, "ENV", "development").toLowerCase() === "production";
  const cookieSecureForced = readBool(env, "MANAGEMENT_COOKIE_SECURE", false);

  const bindAddress = readString(env, "MANAGEMENT_BIND_ADDRESS", "0.0.0.0");
  if (!isHostOrIp(bindAddress)) throw new SettingsError("MANAGEMENT_BIND_ADDRESS", `got "${bindAddress}", expected an IP address or host name`);

  return {
    port: readInt(env, "MANAGEMENT_PORT", 8081, 0, 65535),
    bindAddress,
    publicUrl: readUrl(env, "MANAGEMENT_PUBLIC_URL", ["https:", "http:"]),
    configDir,
    databasePath,
    tlsMode,
    tlsCertFile: tlsCertFile && resolve(cwd, tlsCertFile),
    tlsKeyFile: tlsKeyFile && resolve(cwd, tlsKeyFile),
    tlsExtraHosts,
    tlsClientCaFile: readString(env, "MANAGEMENT_TLS_CLIENT_CA_FILE"),
    allowInsecureHttp,
    setupToken,
    uiDisabled: readBool(env, "MANAGEMENT_UI_DISABLED", false),
    cookieSecure: tlsMode !== "off" || production || cookieSecureForced,
    production,
    logLevel: readEnum<LogLevel>(env, "LOG_LEVEL", "info", ["trace", "debug", "info", "warn", "error", "fatal", "silent"]),
    // Test-only knob (documented in the README): may shorten the 5-minute window, never lengthen it.
    setupWindowMs: readInt(env, "WARREN_TEST_SETUP_WINDOW_MS", SETUP_WINDOW_MS, 0, SETUP_WINDOW_MS),
    testHooks: readBool(env, "WARREN_TEST_HOOKS", false),
    publicHttpPort: readInt(env, "PUBLIC_HTTP_PORT", 8080, 0, 65535),
    publicConnectionLimits: {
      perListener: readInt(env, "PUBLIC_MAX_CONNECTIONS", 10_000, 1, 10_000_000),
      perIp: readInt(env, "PUBLIC_MAX_CONNECTIONS_PER_IP", 256, 1, 10_000_000),
    },
    trustedProxies: readTrustedProxies(env),
    observabilityRetentionDays: readInt(env, "OBSERVABILITY_RETENTION_DAYS", 30, 1, 3650),
    observabilityMaxEvents: readInt(env, "OBSERVABILITY_MAX_EVENTS", 1_000_000, 1000, 100_000_000),
    rateLimitStore: readRateLimitStore(env),
    secrets: loadSecretsSettings(env, cwd),
  };
}
