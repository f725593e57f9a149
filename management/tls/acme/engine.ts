// The AcmeEngine (../acme-engine.ts) the certificate manager runs on: acme-client through client.ts,
// DNS-01 through the credential's provider, ARI through renewal-info.ts.
import { fetchRenewalInfo } from "./renewal-info.ts";
import { createDnsProvider, validateDnsSettings, type DnsProvider } from "../dns/index.ts";
import type { AcmeEngine, DnsCredentialConfig } from "../acme-engine.ts";

export interface AcmeEngineOptions {
  /** PEM to trust for ACME directories' HTTPS on top of the system's roots (a private CA); unset: the system's. */
  readonly caCertificates?: string | undefined;
}

function dnsProvider(c: DnsCredentialConfig): DnsProvider {
  // Checked on save; a row that no longer passes (a provider removed in an upgrade) fails this issuance, named.
  validateDnsSettings(c.provider, { ...c.settings });
  return createDnsProvider(c.provider, { ...c.settings }, c.secret);
}

// acme-client (with axios, node-forge and its own x509 stack) adds ~26 MB of RSS when imported: it
// is loaded on the first registration or issuance, not at start-up.
const client = () => import("./client.ts");

export function createAcmeEngine(o: AcmeEngineOptions = {}): AcmeEngine {
  return {
    registerAccount: async (r) => (await client()).registerAcmeAccount({ ...r, caCertificates: o.caCertificates }),
    issue: async (r) =>
      (await client()).issueAcmeCertificate({
        account: r.account,
        names: [...r.names],
        challenge: r.challenge,
        challenges: r.challenges,
        dns: r.dns ? dnsProvider(r.dns) : undefined,
        caCertificates: o.caCertificates,
        signal: r.signal,
        log: r.log,
      }),
    renewalInfo: async (r) => {
      const info = await fetchRenewalInfo({ directoryUrl: r.directoryUrl, certPem: r.certPem, caCertificates: o.caCertificates, signal: r.signal });
      return info && { start: info.start, end: info.end };
    },
  };
}
