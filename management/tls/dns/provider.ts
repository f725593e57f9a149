// A DNS provider the ACME engine uses for DNS-01 (DESIGN.md §6): it publishes the
// `_acme-challenge.<name>` TXT record before the CA is told to look, and removes that record
// afterwards — whatever happened — using the handle it returned.

/** What a provider needs to delete exactly the record it created. */
export interface DnsTxtHandle {
  /** Fully qualified, no trailing dot: `_acme-challenge.example.com`. */
  fqdn: string;
  value: string;
  /** The provider's own record id, when it has one (Cloudflare). */
  id?: string;
}

export interface DnsProvider {
  /** For logs and errors: "cloudflare", "rfc2136". */
  readonly kind: string;
  setTxt(fqdn: string, value: string, signal?: AbortSignal): Promise<DnsTxtHandle>;
  removeTxt(handle: DnsTxtHandle, signal?: AbortSignal): Promise<void>;
  /** How long the CA's resolvers may take to see a new record (waited once after all are set). */
  readonly propagationDelayMs?: number;
}
