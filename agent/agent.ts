// `warren agent`: identity + enrollment, the tunnel, and the data-stream relay, wired together.
import os from "node:os";
import type { Logger } from "pino";
import type { YamuxStream } from "../tunnel/yamux/index.ts";
import { PACKAGE_VERSION } from "../lib/package-info.ts";
import type { BackoffOptions } from "./backoff.ts";
import { CertificateManager, connectEnroller, type EnrollFn } from "./enrollment.ts";
import { AgentIdentity } from "./identity.ts";
import { TargetPolicy, type LookupFn } from "./allowlist.ts";
import { ManagementTls } from "./management-tls.ts";
import { managementEndpoint, type AgentSettings } from "./settings.ts";
import { retainBufferReclaimer } from "../lib/buffer-reclaimer.ts";
import { RelayCounters, relayStream, type Connect, type RelayStats } from "./stream-relay.ts";
import { TunnelClient } from "./tunnel-client.ts";

/** The package version, reported in the hello. */
export const AGENT_VERSION: string = PACKAGE_VERSION;

/** How long start-up waits for the first enrollment before starting the tunnel anyway. */
const ENROLL_WAIT_MS = 5_000;

/** How long open streams may run on after SIGTERM before the session is closed. */
export const SHUTDOWN_GRACE_MS = 10_000;

export interface RunningAgent {
  readonly tunnel: TunnelClient;
  readonly identity: AgentIdentity;
  stats(): RelayStats;
  /** Go-away, let open streams finish (up to `graceMs`, default 10 s), close. Never rejects. */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

/** Seams for tests; production uses the defaults. */
export interface AgentDeps {
  readonly lookup?: LookupFn;
  readonly connect?: Connect;
  readonly enroll?: EnrollFn;
  readonly hostname?: string;
  readonly dialTimeoutMs?: number;
  readonly backoff?: BackoffOptions & { resetAfterMs?: number };
}

export async function runAgent(settings: AgentSettings, logger: Logger, deps: AgentDeps = {}): Promise<RunningAgent> {
  const log = logger.child({ agentId: settings.agentId });
  const endpoint = managementEndpoint(settings.managementUrl);
  const policy = new TargetPolicy(settings.allow, endpoint, deps.lookup ? { lookup: deps.lookup } : {});
  log.info(
    { version: AGENT_VERSION, managementUrl: settings.managementUrl.href, trust: settings.trust.kind, stateDir: settings.stateDir, allow: policy.describe() },
    "agent starting",
  );
  if (settings.trust.kind === "insecure") log.warn("MANAGEMENT_URL is http: the agent token travels in clear text (AGENT_ALLOW_INSECURE_MANAGEMENT=true)");

  const { identity, storedCertPem } = await AgentIdentity.load(settings.stateDir, settings.agentId);
  if (identity.keyCreated) log.info({ keyFile: identity.keyFile }, "generated agent key");

  const tls = new ManagementTls(settings.managementUrl, settings.trust);
  const counters = new RelayCounters();
  // The agent relays bodies with few JS objects too: free dead chunks' memory promptly.
  const releaseReclaimer = retainBufferReclaimer();
  const relayLog = log.child({ component: "relay" });

  let tunnel: TunnelClient | undefined;
  let certificates: CertificateManager | undefined;
  if (tls.secure) {
    certificates = new CertificateManager({
      identity,
      enroll: deps.enroll ?? connectEnroller({ managementUrl: settings.managementUrl, agentId: settings.agentId, secret: settings.secret, tls }),
      logger: log,
      caPem: () => tls.caPem,
      ...(settings.trust.kind === "pin" ? { pinSha256: settings.trust.sha256 } : {}),
      onCertificate: () => tunnel?.kick(),
    });
    // One attempt up front (waited for at most 5 s); failures are logged and retried in the background,
    // and the tunnel starts either way, so a refusal shows its real reason.
    let capTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      certificates.start(storedCertPem),
      new Promise<void>((resolve) => {
        capTimer = setTimeout(resolve, ENROLL_WAIT_MS);
      }),
    ]);
    clearTimeout(capTimer);
  } else {
    log.info("management is plain http: no client certificate (mTLS needs https)");
  }

  const onStream = (stream: YamuxStream) => {
    void relayStream(stream, {
      policy,
      counters,
      logger: relayLog,
      ...(deps.connect ? { connect: deps.connect } : {}),
      ...(deps.dialTimeoutMs !== undefined ? { dialTimeoutMs: deps.dialTimeoutMs } : {}),
    });
  };

  tunnel = new TunnelClient({
    managementUrl: settings.managementUrl,
    agentId: settings.agentId,
    secret: settings.secret,
    tls,
    clientCertificate: () => (tls.secure ? identity.clientCertificate() : undefined),
    onStream,
    stats: () => counters.snapshot(),
    logger: log,
    version: AGENT_VERSION,
    hostname: deps.hostname ?? os.hostname(),
    ...(deps.backoff ? { backoff: deps.backoff } : {}),
  });
  // 403 with a certificate that looks fine to us: management no longer accepts it (revoked when the
  // token was rotated, or issued by a CA management replaced). Enroll again; the tunnel retries with the new one.
  tunnel.on("refused", (status) => {
    if (status === 403 && certificates?.reenroll()) log.info("management refused the client certificate; enrolling again");
  });
  tunnel.start();

  let stopping: Promise<void> | undefined;
  const t = tunnel;
  return {
    tunnel: t,
    identity,
    stats: () => counters.snapshot(),
    stop(opts = {}) {
      stopping ??= (async () => {
        certificates?.stop();
        const active = counters.active;
        log.info({ activeStreams: active, graceMs: opts.graceMs ?? SHUTDOWN_GRACE_MS }, "agent stopping");
        const drained = () => (counters.active === 0 ? Promise.resolve() : new Promise<void>((resolve) => counters.once("idle", resolve)));
        try {
          await t.stop({ graceMs: opts.graceMs ?? SHUTDOWN_GRACE_MS, drained });
        } catch (err) {
          log.error({ err }, "error while stopping the tunnel");
        }
        releaseReclaimer();
        log.info({ abandonedStreams: counters.active }, "agent stopped");
      })();
      return stopping;
    },
  };
}
