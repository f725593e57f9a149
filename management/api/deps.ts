import type { Logger } from "pino";
import type { Store } from "../store/index.ts";
import type { Authenticator } from "../auth/authenticator.ts";
import type { LoginThrottle } from "../auth/login-throttle.ts";
import type { SetupGate } from "../auth/setup-gate.ts";
import type { ManagementEndpoint } from "../config/management-target.ts";
import type { TlsMode } from "../settings/management-settings.ts";
import type { AgentRegistry } from "../agents/registry.ts";
import type { CertificateAuthority } from "../pki/index.ts";
import type { SnapshotService } from "../config/snapshot-service.ts";
import type { CertificateManager } from "../tls/certificate-manager.ts";
import type { AcmeEngine } from "../tls/acme-engine.ts";
import type { CacheSettings, CacheUsage, ListenerStatus, PurgeFilter, StoreStatus } from "../../proxy/index.ts";

export interface ServerInfo {
  readonly version: string;
  readonly tlsMode: TlsMode;
  readonly caFingerprintSha256: string;
  readonly caCertificatePem: string;
  readonly publicUrl: string;
}

/** Everything the API handlers need, passed in once so handlers stay free of globals. */
export interface ApiDeps {
  readonly store: Store;
  readonly authenticator: Authenticator;
  readonly throttle: LoginThrottle;
  readonly setup: SetupGate;
  readonly cookieSecure: boolean;
  readonly now: () => number;
  readonly log: Logger;
  readonly info: ServerInfo;
  readonly agents: {
    readonly registry: AgentRegistry;
    /** Warren's CA: signs agent client certificates in every TLS mode. */
    readonly ca: CertificateAuthority;
    /** How agents reach management, for install snippets (known once the port is bound: MANAGEMENT_PORT may be 0). */
    readonly managementUrl: () => string;
    /** SHA-256 (hex) of the agent file served at /agent/download, pinned by the snippets; empty when not built. */
    readonly bundleSha256: string;
  };
  readonly proxy: {
    readonly snapshots: SnapshotService;
    /** Where management listens: routes may not target it (known once bound: MANAGEMENT_PORT may be 0). */
    readonly management: () => ManagementEndpoint;
    readonly listenerStatus: (id: string) => ListenerStatus | undefined;
    /** The rate-limit store in use (RATE_LIMIT_STORE) and its health. */
    readonly rateLimitStatus: () => StoreStatus;
    /** The HTTP cache's usage, and purging it (visible before purge returns). */
    readonly cache: {
      usage(): CacheUsage;
      purge(filter: PurgeFilter): { entries: number; bytes: number };
      /** New budgets (or on/off) take effect: the stores reopen; disk entries stay. */
      configure(settings: CacheSettings): Promise<void>;
    };
  };
  readonly tls: {
    readonly certificates: CertificateManager;
    readonly engine: AcmeEngine;
  };
}
