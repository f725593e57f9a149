// What the public listeners answer to an ACME CA's validation while an issuance runs (DESIGN.md §6).
// Challenges are short-lived and per issuance, so they live here, beside the snapshot rather than in
// it: the ACME engine sets one just before telling the CA to validate and removes it afterwards.
//  - HTTP-01: GET /.well-known/acme-challenge/<token> on every HTTP listener answers the key
//    authorization (the reserved-paths stage, before WAF and routing).
//  - TLS-ALPN-01: a ClientHello offering only `acme-tls/1` for a name with a challenge gets the
//    challenge certificate (RFC 8737) on every HTTPS listener, and the connection carries no HTTP.
import tls from "node:tls";

export const ACME_HTTP01_PREFIX = "/.well-known/acme-challenge/";
export const ACME_TLS_ALPN_PROTOCOL = "acme-tls/1";

export class AcmeChallenges {
  private readonly http01 = new Map<string, string>();
  private readonly tlsAlpn01 = new Map<string, tls.SecureContext>();

  /** Answers GET /.well-known/acme-challenge/`token` with `keyAuthorization` until removed. */
  setHttp01(token: string, keyAuthorization: string): void {
    this.http01.set(token, keyAuthorization);
  }

  removeHttp01(token: string): void {
    this.http01.delete(token);
  }

  http01Answer(token: string): string | undefined {
    return this.http01.get(token);
  }

  /** Serves the RFC 8737 challenge certificate for `name` to acme-tls/1 handshakes until removed. */
  setTlsAlpn01(name: string, certPem: string, keyPem: string): void {
    this.tlsAlpn01.set(name.toLowerCase(), tls.createSecureContext({ cert: certPem, key: keyPem }));
  }

  removeTlsAlpn01(name: string): void {
    this.tlsAlpn01.delete(name.toLowerCase());
  }

  tlsAlpn01Context(name: string): tls.SecureContext | undefined {
    return this.tlsAlpn01.get(name.toLowerCase());
  }

  hasTlsAlpn01(name: string): boolean {
    return this.tlsAlpn01.has(name.toLowerCase());
  }
}
