// What the certificate manager needs from ACME (RFC 8555): register an account, issue a certificate
// with one challenge type, and ask the CA when to renew (RFC 9773). The implementation over
// acme-client is acme/engine.ts; the manager only sees this.
import type { Logger } from "pino";
import type { AcmeChallenges } from "../../proxy/index.ts";

export type AcmeChallengeKind = "http-01" | "tls-alpn-01" | "dns-01";

export interface AcmeAccountKey {
  readonly directoryUrl: string;
  readonly email: string;
  readonly accountKeyPem: string;
  readonly accountUrl: string;
}

export interface DnsCredentialConfig {
  readonly provider: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly secret: string;
}

export interface AcmeEngine {
  registerAccount(o: { directoryUrl: string; email: string; eab?: { keyId: string; hmacKey: string } }): Promise<{ accountKeyPem: string; accountUrl: string }>;
  /** Resolves with the chain (leaf first) and its key; rejects with a message an operator can act on. */
  issue(o: {
    account: AcmeAccountKey;
    names: readonly string[];
    challenge: AcmeChallengeKind;
    challenges: AcmeChallenges;
    dns: DnsCredentialConfig | undefined;
    signal: AbortSignal;
    log: Logger;
  }): Promise<{ certPem: string; keyPem: string }>;
  /** The CA's suggested renewal window for a certificate it issued; undefined when it offers none. */
  renewalInfo(o: { directoryUrl: string; certPem: string; signal: AbortSignal }): Promise<{ start: Date; end: Date } | undefined>;
}
