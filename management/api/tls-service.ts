import type { ServiceImpl } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { X509Certificate } from "node:crypto";
import {
  AcmeChallengeType,
  CertificateSource,
  CertificateStatus,
  DnsProvider,
  TlsService,
  type AcmeAccountSchema,
  type CertificateSchema,
  type DnsCredentialSchema,
  type DnsCredentialSpec,
} from "../../proto/gen/warren/v1/tls_pb.ts";
import { ApiError, fieldError } from "../errors.ts";
import { newId } from "../store/ids.ts";
import type { AcmeAccountRow, DnsCredentialRow, TlsCertificateRow } from "../store/index.ts";
import { validateCertificateNames } from "../tls/names.ts";
import type { AcmeChallengeKind } from "../tls/acme-engine.ts";
import { validateDnsSecret, validateDnsSettings } from "../tls/dns/index.ts";
import { servable } from "../config/compile-tls.ts";
import { setAuditTarget } from "./context.ts";
import type { ApiDeps } from "./deps.ts";

const SOURCES: Record<TlsCertificateRow["source"], CertificateSource> = {
  upload: CertificateSource.UPLOAD,
  files: CertificateSource.FILES,
  self_signed: CertificateSource.SELF_SIGNED,
  acme: CertificateSource.ACME,
};
const CHALLENGES: Record<string, AcmeChallengeType> = {
  "http-01": AcmeChallengeType.HTTP_01,
  "tls-alpn-01": AcmeChallengeType.TLS_ALPN_01,
  "dns-01": AcmeChallengeType.DNS_01,
};
const PROVIDERS: Record<string, DnsProvider> = { cloudflare: DnsProvider.CLOUDFLARE, rfc2136: DnsProvider.RFC2136 };
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const EMAIL_RE = /^[^\s@<>()[\],;:"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/;

function challengeKind(c: AcmeChallengeType): AcmeChallengeKind {
  if (c === AcmeChallengeType.HTTP_01) return "http-01";
  if (c === AcmeChallengeType.TLS_ALPN_01) return "tls-alpn-01";
  if (c === AcmeChallengeType.DNS_01) return "dns-01";
  throw fieldError("challenge", "must be ACME_CHALLENGE_TYPE_HTTP_01, ACME_CHALLENGE_TYPE_TLS_ALPN_01 or ACME_CHALLENGE_TYPE_DNS_01");
}

function providerName(p: DnsProvider): string {
  if (p === DnsProvider.CLOUDFLARE) return "cloudflare";
  if (p === DnsProvider.RFC2136) return "rfc2136";
  throw fieldError("spec.provider", "must be DNS_PROVIDER_CLOUDFLARE or DNS_PROVIDER_RFC2136");
}

/** https:// only (RFC 8555 §6.1); a directory on loopback may be http for a test CA. */
function validateDirectoryUrl(raw: string): string {
  const value = raw.trim();
  if (value === "") throw fieldError("directory_url", "is required (e.g. https://acme-v02.api.letsencrypt.org/directory)");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw fieldError("directory_url", "is not a URL");
  }
  if (url.protocol !== "https:") throw fieldError("directory_url", "must be an https:// URL (RFC 8555 requires TLS)");
  if (url.username || url.password) throw fieldError("directory_url", "must not carry credentials");
  return url.toString();
}

export function tlsService(d: ApiDeps): ServiceImpl<typeof TlsService> {
  const repo = d.store.tls;
  const manager = d.tls.certificates;
  const ts = (ms: number) => (ms > 0 ? timestampFromMs(ms) : undefined);

  const certificateToProto = (r: TlsCertificateRow): MessageInitShape<typeof CertificateSchema> => {
    let issuer = "";
    let fingerprint = "";
    if (r.cert_pem) {
      try {
        const leaf = new X509Certificate(r.cert_pem);
        issuer = leaf.issuer.replace(/\n/g, ", ");
        fingerprint = leaf.fingerprint256;
      } catch {
        // Validated on write; nothing to show if it no longer parses.
      }
    }
    const expired = r.cert_pem !== "" && r.not_after <= d.now();
    return {
      id: r.id,
      listenerId: r.listener_id,
      names: JSON.parse(r.names) as string[],
      source: SOURCES[r.source],
      status: expired && r.status !== "error" ? CertificateStatus.EXPIRED : statusOf(r.status),
      lastError: r.last_error,
      issuer,
      notBefore: ts(r.not_before),
      notAfter: ts(r.not_after),
      nextRenewalAt: r.source === "acme" ? ts(r.next_renewal_at) : undefined,
      certificateFile: r.cert_file,
      privateKeyFile: r.key_file,
      acmeAccountId: r.acme_account_id ?? "",
      challenge: CHALLENGES[r.challenge] ?? AcmeChallengeType.UNSPECIFIED,
      dnsCredentialId: r.dns_credential_id ?? "",
      sha256Fingerprint: fingerprint,
      certificatePem: r.cert_pem,
      createdAt: ts(r.created_at),
      updatedAt: ts(r.updated_at),
      failures: r.failures,
    };
  };
  const accountToProto = (a: AcmeAccountRow): MessageInitShape<typeof AcmeAccountSchema> => ({
    id: a.id,
    directoryUrl: a.directory_url,
    email: a.email,
    accountUrl: a.account_url,
    externalAccountBinding: a.eab_key_id !== "",
    createdAt: ts(a.created_at),
  });
  // The secret never leaves: secret_set says one is stored.
  const credentialToProto = (c: DnsCredentialRow): MessageInitShape<typeof DnsCredentialSchema> => ({
    id: c.id,
    spec: { name: c.name, provider: PROVIDERS[c.provider] ?? DnsProvider.UNSPECIFIED, settings: JSON.parse(c.settings) as Record<string, string>, secret: "" },
    secretSet: c.secret !== "",
    createdAt: ts(c.created_at),
    updatedAt: ts(c.updated_at),
  });
  const mustCertificate = (id: string): TlsCertificateRow => {
    if (id === "") throw fieldError("id", "is required");
    const r = repo.certificate(id);
    if (!r) throw new ApiError("not_found", `id: no certificate ${id}`);
    return r;
  };
  const mustCredential = (id: string): DnsCredentialRow => {
    if (id === "") throw fieldError("id", "is required");
    const c = repo.dnsCredential(id);
    if (!c) throw new ApiError("not_found", `id: no DNS credential ${id}`);
    return c;
  };
  const validateCredential = (spec: DnsCredentialSpec | undefined, stored?: DnsCredentialRow) => {
    if (!spec) throw fieldError("spec", "is required");
    const name = spec.name.trim();
    if (!NAME_RE.test(name)) throw fieldError("spec.name", "must be 1–64 characters of letters, digits, '_', '.', '-', starting with a letter or digit");
    const other = repo.dnsCredentials().find((c) => c.name === name && c.id !== stored?.id);
    if (other) throw new ApiError("already_exists", `spec.name: a DNS credential named "${name}" exists (${other.id})`);
    const provider = providerName(spec.provider);
    const settings = Object.fromEntries(Object.entries(spec.settings).map(([k, v]) => [k, v.trim()]));
    validateDnsSettings(provider, settings);
    // An empty secret on update keeps the stored one (write-only field).
    const secret = spec.secret.trim() || (stored && stored.provider === provider ? stored.secret : "");
    if (secret.length > 4096) throw fieldError("spec.secret", "must be at most 4096 characters");
    validateDnsSecret(provider, secret);
    return { name, provider, settings: JSON.stringify(settings), secret };
  };

  return {
    listCertificates(req) {
      return { certificates: repo.certificates().filter((r) => req.listenerId === "" || r.listener_id === req.listenerId).map(certificateToProto) };
    },
    getCertificate(req) {
      return { certificate: certificateToProto(mustCertificate(req.id)) };
    },
    async uploadCertificate(req, ctx) {
      const row = await manager.upload(req.listenerId, req.certificatePem, req.privateKeyPem);
      setAuditTarget(ctx, row.id);
      return { certificate: certificateToProto(row) };
    },
    async addCertificateFiles(req, ctx) {
      const row = await manager.addFiles(req.listenerId, req.certificateFile.trim(), req.privateKeyFile.trim());
      setAuditTarget(ctx, row.id);
      return { certificate: certificateToProto(row) };
    },
    async generateSelfSignedCertificate(req, ctx) {
      const names = validateCertificateNames(req.names, "names", { acme: false });
      const days = req.validDays === 0 ? 365 : req.validDays;
      if (days < 1 || days > 3650) throw fieldError("valid_days", "must be 1–3650 (or 0 for 365)");
      const row = await manager.selfSigned(req.listenerId, names, days);
      setAuditTarget(ctx, row.id);
      return { certificate: certificateToProto(row) };
    },
    async requestAcmeCertificate(req, ctx) {
      const names = validateCertificateNames(req.names, "names", { acme: true });
      if (req.acmeAccountId === "") throw fieldError("acme_account_id", "is required (create one with CreateAcmeAccount)");
      const row = await manager.requestAcme(req.listenerId, names, req.acmeAccountId, challengeKind(req.challenge), req.dnsCredentialId || undefined);
      setAuditTarget(ctx, row.id);
      return { certificate: certificateToProto(row) };
    },
    async renewCertificate(req, ctx) {
      setAuditTarget(ctx, req.id);
      return { certificate: certificateToProto(await manager.renew(req.id)) };
    },
    async deleteCertificate(req, ctx) {
      setAuditTarget(ctx, req.id);
      await manager.remove(req.id);
      return {};
    },
    listListenerTls() {
      const now = d.now();
      const certs = repo.certificates();
      return {
        listeners: d.store.proxy
          .listeners()
          .filter((l) => l.protocol === "https")
          .map((l) => {
            const mine = certs.filter((c) => c.listener_id === l.id);
            const names = new Set<string>();
            const unserved = new Set<string>();
            for (const c of mine) for (const n of JSON.parse(c.names) as string[]) (servable(c, now) ? names : unserved).add(n);
            for (const n of names) unserved.delete(n);
            return { listenerId: l.id, listenerName: l.name, servesFallback: l.tls_cert_pem === "", names: [...names], unservedNames: [...unserved] };
          }),
      };
    },

    listAcmeAccounts() {
      return { accounts: repo.acmeAccounts().map(accountToProto) };
    },
    async createAcmeAccount(req, ctx) {
      const directoryUrl = validateDirectoryUrl(req.directoryUrl);
      const email = req.email.trim();
      if (!EMAIL_RE.test(email) || email.length > 254) throw fieldError("email", "must be an e-mail address (the CA writes to it about expiring certificates)");
      if (!req.agreeToTerms) throw fieldError("agree_to_terms", "must be true: registering accepts the CA's terms of service");
      const eabKeyId = req.eabKeyId.trim();
      const eabHmac = req.eabHmacKey.trim();
      if ((eabKeyId === "") !== (eabHmac === "")) throw fieldError(eabKeyId === "" ? "eab_key_id" : "eab_hmac_key", "external account binding needs both the key id and the HMAC key");
      if (eabHmac !== "" && !/^[A-Za-z0-9_-]+={0,2}$/.test(eabHmac)) throw fieldError("eab_hmac_key", "must be base64url");
      const existing = repo.acmeAccountFor(directoryUrl, email);
      if (existing) throw new ApiError("already_exists", `email: an account for ${email} at this directory exists (${existing.id})`);
      let registered: { accountKeyPem: string; accountUrl: string };
      try {
        registered = await d.tls.engine.registerAccount({ directoryUrl, email, ...(eabKeyId ? { eab: { keyId: eabKeyId, hmacKey: eabHmac } } : {}) });
      } catch (e) {
        throw new ApiError("failed_precondition", `directory_url: the CA refused or could not be reached: ${(e as Error).message}`);
      }
      const id = newId("acc");
      setAuditTarget(ctx, id);
      // The EAB HMAC key is used once, to register; it is not kept.
      repo.insertAcmeAccount({ id, directory_url: directoryUrl, email, key_pem: registered.accountKeyPem, account_url: registered.accountUrl, eab_key_id: eabKeyId, created_at: d.now() });
      return { account: accountToProto(repo.acmeAccount(id)!) };
    },
    deleteAcmeAccount(req, ctx) {
      if (req.id === "") throw fieldError("id", "is required");
      setAuditTarget(ctx, req.id);
      if (!repo.acmeAccount(req.id)) throw new ApiError("not_found", `id: no ACME account ${req.id}`);
      const uses = repo.acmeAccountUses(req.id);
      if (uses > 0) throw new ApiError("failed_precondition", `id: ${uses} certificate(s) are issued with this account; delete them first`);
      repo.deleteAcmeAccount(req.id);
      return {};
    },

    listDnsCredentials() {
      return { credentials: repo.dnsCredentials().map(credentialToProto) };
    },
    createDnsCredential(req, ctx) {
      const v = validateCredential(req.spec);
      const id = newId("dns");
      setAuditTarget(ctx, id);
      const now = d.now();
      repo.insertDnsCredential({ id, ...v, created_at: now, updated_at: now });
      return { credential: credentialToProto(repo.dnsCredential(id)!) };
    },
    updateDnsCredential(req, ctx) {
      setAuditTarget(ctx, req.id);
      const stored = mustCredential(req.id);
      const v = validateCredential(req.spec, stored);
      repo.updateDnsCredential({ id: req.id, ...v, updated_at: d.now() });
      return { credential: credentialToProto(repo.dnsCredential(req.id)!) };
    },
    deleteDnsCredential(req, ctx) {
      setAuditTarget(ctx, req.id);
      mustCredential(req.id);
      const uses = repo.dnsCredentialUses(req.id);
      if (uses > 0) throw new ApiError("failed_precondition", `id: ${uses} certificate(s) use this credential; delete them first`);
      repo.deleteDnsCredential(req.id);
      return {};
    },
  };
}

function statusOf(s: TlsCertificateRow["status"]): CertificateStatus {
  if (s === "pending") return CertificateStatus.PENDING;
  if (s === "ready") return CertificateStatus.READY;
  if (s === "renewing") return CertificateStatus.RENEWING;
  return CertificateStatus.ERROR;
}
