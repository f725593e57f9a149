// Warren management PKI: private CA, management server certificate, agent client certificates.
export {
  CertificateAuthority,
  CA_CERT_FILE,
  CA_KEY_FILE,
  type CaMaterial,
  type IssuedServerCertificate,
  type SignedClientCertificate,
  type VerifiedClientCertificate,
} from "./certificate-authority.ts";
export {
  ensureServerCertificate,
  SERVER_CERT_FILE,
  SERVER_KEY_FILE,
  type EnsuredServerCertificate,
  type ServerCertificateReason,
} from "./server-certificate.ts";
export { createKeyAndCsr } from "./csr.ts";
export { fingerprintSha256, normalizeFingerprint } from "./fingerprint.ts";
export { PkiError, isPkiError, type PkiErrorCode } from "./errors.ts";
export { normalizeHost, normalizeHosts, type HostName } from "./hosts.ts";
