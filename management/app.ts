import { chmodSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { compileCacheSettings } from "./config/compile-cache.ts";
import { CACHE_SETTINGS_KEY, cacheSettingsFromJson } from "./config/validate-cache.ts";
import type { Logger } from "pino";
import { CertificateAuthority, ensureServerCertificate } from "./pki/index.ts";
import { openStore, type Store } from "./store/index.ts";
import { Authenticator } from "./auth/authenticator.ts";
import { LoginThrottle } from "./auth/login-throttle.ts";
import { SetupGate } from "./auth/setup-gate.ts";
import { randomSecret } from "./auth/secrets.ts";
import { startManagementServer, type ManagementServer } from "./server.ts";
import type { ManagementSettings } from "./settings/management-settings.ts";
import type { ServerInfo } from "./api/deps.ts";
import { PACKAGE_VERSION as VERSION } from "../lib/package-info.ts";
import { AgentRegistry } from "./agents/registry.ts";
import { TunnelEndpoint } from "./agents/tunnel-endpoint.ts";
import { AgentDownload } from "./agents/agent-download.ts";
import { TEST_AGENT_STREAM_PATH, agentStreamTestHook } from "./agents/test-hooks.ts";
import { createRateLimitStore, parseTrustedProxies, type DataPlaneControl, type DataPlaneOptions } from "../proxy/index.ts";
import { SnapshotService } from "./config/snapshot-service.ts";
import { seedPublicListener, seedTemplates } from "./config/seed.ts";
import { EventWriter } from "./observe/event-writer.ts";
import { openKeyring } from "./secrets/key-files.ts";
import { reconcileSecrets } from "./secrets/reconcile.ts";
import { SecretError } from "./secrets/errors.ts";
import { openFallbackIssuer } from "./tls/fallback-issuer.ts";
import { CertificateManager } from "./tls/certificate-manager.ts";
import { createAcmeEngine } from "./tls/acme/engine.ts";

const SESSION_PURGE_EVERY_MS = 3600_000;

export interface RunningWarren {
  readonly management: ManagementServer;
  readonly store: Store;
  readonly registry: AgentRegistry;
  close(): Promise<void>;
}

interface ManagementTls {
  /** Certificate chain (leaf, then Warren's CA in auto mode so agents can pin it). */
  cert: string;
  key: string;
  /** Fingerprint agents pin; empty when the server certificate is the operator's. */
  caFingerprint: string;
}

/** What a terminal shows while no admin exists: the setup URL on a line of its own, and until when it works. */
export function setupBanner(url: string, openUntil: Date, now: Date): string {
  const minutes = Math.max(1, Math.round((openUntil.getTime() - now.getTime()) / 60_000));
  const until = openUntil.toTimeString().slice(0, 8);
  return `\nCreate the first administrator: open this URL within ${minutes} minute${minutes === 1 ? "" : "s"} (until ${until}; a restart gives a new one):\n\n${url}\n\n`;
}

/** The URL agents are told to dial: the public URL, else this host's port on localhost. */
function managementUrlFor(s: ManagementSettings, boundPort: number): string {
  if (s.publicUrl) return s.publicUrl.origin;
  return `${s.tlsMode === "off" ? "http" : "https"}://localhost:${boundPort}`;
}

/** The host names the management certificate must cover. */
export function managementHosts(s: ManagementSettings): string[] {
  const hosts = new Set(["localhost", "127.0.0.1", "::1"]);
  if (s.publicUrl) hosts.add(s.publicUrl.hostname.replace(/^\[|\]$/g, "").toLowerCase());
  for (const h of s.tlsExtraHosts) hosts.add(h);
  return [...hosts];
}

/** Warren's CA exists in every TLS mode: it signs agent client certificates. */
async function loadCa(s: ManagementSettings, log: Logger): Promise<{ ca: CertificateAuthority; dir: string }> {
  const dir = join(s.configDir, "certs", "management");
  const { ca, created } = await CertificateAuthority.loadOrCreate(dir);
  if (created) log.info({ dir }, "created the management CA");
  log.info({ caFingerprintSha256: ca.fingerprintSha256, caFile: join(dir, "ca.crt.pem") }, "management CA");
  return { ca, dir };
}

async function prepareTls(s: ManagementSettings, ca: CertificateAuthority, dir: string, log: Logger): Promise<ManagementTls | undefined> {
  if (s.tlsMode === "off") {
    log.warn("MANAGEMENT_TLS_MODE=off: management (logins, tokens, agent tunnels) is served over plain HTTP");
    return undefined;
  }
  if (s.tlsMode === "provided") {
    return { cert: readFileSync(s.tlsCertFile!, "utf8"), key: readFileSync(s.tlsKeyFile!, "utf8"), caFingerprint: "" };
  }
  const server = await ensureServerCertificate(ca, dir, managementHosts(s));
  if (server.reissued) log.info({ reason: server.reason, hosts: managementHosts(s) }, "issued the management server certificate");
  return { cert: `${server.certPem.trimEnd()}\n${ca.certPem}`, key: server.keyPem, caFingerprint: ca.fingerprintSha256 };
}

function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** The data plane as management sees it: a control interface, built by the composition root (cli/serve.ts). */
export type DataPlaneFactory = (o: DataPlaneOptions) => DataPlaneControl & { close(): Promise<void> };

/** Starts `warren serve`: state directory, PKI, database, API server, and the data plane it is given. */
export async function startWarren(s: ManagementSettings, log: Logger, createDataPlane: DataPlaneFactory): Promise<RunningWarren> {
  const startedAt = Date.now();
  ensurePrivateDir(s.configDir);
  const { ca, dir: caDir } = await loadCa(s, log);
  const tls = await prepareTls(s, ca, caDir, log);
  const clientCas = [ca.certPem];
  if (s.tlsClientCaFile) clientCas.push(readFileSync(s.tlsClientCaFile, "utf8"));
  const { keyring, keyFile } = await openKeyring(s.secrets, s.configDir, { create: true, log });
  const store = openStore(s.databasePath, keyring);
  try {
    const counts = reconcileSecrets(store.db, keyring);
    log.info({ keyId: keyring.currentKeyId, keyFile, previousKeys: keyring.keyIds.length - 1, ...counts }, "secrets at rest checked");
  } catch (e) {
    store.close();
    if (e instanceof SecretError) {
      throw new SecretError(e.code, `cannot start: stored secret ${e.message}; configure the key it was sealed with (SECRETS_ENCRYPTION_KEY_FILE, or SECRETS_ENCRYPTION_PREVIOUS_KEYS while rotating)`, { cause: e });
    }
    throw e;
  }
  const registry = new AgentRegistry(log, store.agents);
  const authenticator = new Authenticator(store);
  const events = new EventWriter(s.databasePath, { retentionDays: s.observabilityRetentionDays, maxRows: s.observabilityMaxEvents }, log);
  const rateLimits = createRateLimitStore(s.rateLimitStore, log);
  const rl = rateLimits.status();
  log.info({ store: rl.kind, target: rl.target || undefined }, rl.kind === "redis" ? "rate-limit counters in Redis (memory fallback while it cannot answer)" : "rate-limit counters in memory");
  const fallback = await openFallbackIssuer(s.configDir);
  const dataPlane = createDataPlane({
    events,
    rateLimits,
    cacheDir: join(s.configDir, "cache"),
    agents: registry,
    trusted: parseTrustedProxies(s.trustedProxies),
    fallbackCertificate: () => fallback.certificate(),
    connectionLimits: s.publicConnectionLimits,
    log,
  });
  registry.on("offline", (agentId) => dataPlane.agentOffline(agentId));
  registry.on("draining", (agentId) => dataPlane.agentDraining(agentId));
  const snapshots = new SnapshotService(store, dataPlane, log);
  await dataPlane.configureCache(compileCacheSettings(cacheSettingsFromJson(store.proxy.meta(CACHE_SETTINGS_KEY))));
  seedPublicListener(store, s.publicHttpPort, log);
  seedTemplates(store, log);
  await snapshots.refresh();
  const acmeEngine = createAcmeEngine();
  const certificates = new CertificateManager({ store, snapshots, challenges: dataPlane.acmeChallenges, engine: acmeEngine, log });
  certificates.start();

  const setupToken = s.setupToken ?? randomSecret(32);
  const setup = new SetupGate(setupToken, startedAt, s.setupWindowMs);
  const info: ServerInfo = {
    version: VERSION,
    tlsMode: s.tlsMode,
    caFingerprintSha256: tls?.caFingerprint ?? "",
    caCertificatePem: tls?.caFingerprint ? ca.certPem : "",
    publicUrl: s.publicUrl?.toString() ?? "",
  };

  const agentDownload = new AgentDownload();
  let management: ManagementServer;
  try {
    management = await startManagementServer({
      bindAddress: s.bindAddress,
      port: s.port,
      tls: tls && { cert: tls.cert, key: tls.key, clientCas },
      uiDisabled: s.uiDisabled,
      trusted: parseTrustedProxies(s.trustedProxies),
      agentDownload,
      log,
      tunnel: new TunnelEndpoint({ store, registry, ca, log, now: Date.now }),
      extraUpgrades: s.testHooks ? new Map([[TEST_AGENT_STREAM_PATH, agentStreamTestHook(registry, authenticator, log)]]) : undefined,
      deps: {
        store,
        authenticator,
        throttle: new LoginThrottle(),
        setup,
        cookieSecure: s.cookieSecure,
        now: Date.now,
        log,
        info,
        agents: { registry, ca, managementUrl: () => managementUrlFor(s, Number(new URL(management.url).port) || s.port), bundleSha256: agentDownload.sha256 },
        proxy: {
          snapshots,
          management: () => ({ port: Number(new URL(management.url).port) || s.port, bindAddress: s.bindAddress }),
          listenerStatus: (id) => dataPlane.listenerStatus(id),
          rateLimitStatus: () => dataPlane.rateLimitStatus(),
          cache: { usage: () => dataPlane.cacheUsage(), purge: (f) => dataPlane.purgeCache(f), configure: (c) => dataPlane.configureCache(c) },
        },
        tls: { certificates, engine: acmeEngine },
      },
    });
  } catch (e) {
    await certificates.stop();
    await dataPlane.close();
    await events.close();
    store.close();
    throw e;
  }

  const base = s.publicUrl ? s.publicUrl.origin : management.url;
  const state = setup.state(store.users.count(), Date.now());
  if (state.required) {
    // The one place a generated setup token is printed: an operator needs it to create the first
    // admin. A fixed MANAGEMENT_SETUP_TOKEN is the operator's own secret: it goes in no log.
    const token = s.setupToken === undefined ? setupToken : "<MANAGEMENT_SETUP_TOKEN>";
    log.info(
      { setupUrl: `${base}/?setup_token=${token}`, openUntil: state.openUntil?.toISOString(), setupTokenFixed: s.setupToken !== undefined },
      "no admin yet: open the setup URL within the setup window to create one",
    );
    // Someone at a terminal gets the URL alone on its own line, to click or copy, not buried in JSON.
    if (process.stderr.isTTY && state.openUntil) process.stderr.write(setupBanner(`${base}/?setup_token=${token}`, state.openUntil, new Date()));
  }

  log.info({ url: management.url, version: VERSION }, "management listening");

  const purge = setInterval(() => {
    const now = Date.now();
    store.sessions.purge(now, now - 30 * 24 * 3600_000);
  }, SESSION_PURGE_EVERY_MS);
  purge.unref();

  return {
    management,
    store,
    registry,
    async close() {
      clearInterval(purge);
      registry.closeAll("server shutting down");
      await certificates.stop();
      await dataPlane.close();
      await management.close();
      // Events still queued are written before the database closes.
      await events.close();
      store.close();
    },
  };
}
