// The Certificates page's forms and labels (TlsService): names typed one per line, the four ways to
// add a certificate, ACME accounts (directory presets) and DNS credentials (provider settings, a
// write-only secret). Pure: what the form can tell is wrong on its own is a FormError naming the field.
import { FormError } from "./errors.ts";
import { AcmeChallengeType, CertificateSource, CertificateStatus, DnsProvider, type DnsCredential } from "../../../../proto/gen/warren/v1/tls_pb.ts";

/** Names typed one per line (commas and spaces also separate), lower-cased, without duplicates. */
export function parseNames(text: string): string[] {
  const out: string[] = [];
  for (const n of text.split(/[\s,]+/)) {
    const v = n.trim().toLowerCase();
    if (v && !out.includes(v)) out.push(v);
  }
  return out;
}

export const SOURCE_LABELS: Readonly<Record<CertificateSource, string>> = {
  [CertificateSource.UNSPECIFIED]: "unknown",
  [CertificateSource.UPLOAD]: "uploaded",
  [CertificateSource.FILES]: "files",
  [CertificateSource.SELF_SIGNED]: "self-signed",
  [CertificateSource.ACME]: "ACME",
};

export const STATUS_VIEW: Readonly<Record<CertificateStatus, { text: string; tone: "ok" | "warn" | "bad" | "muted" }>> = {
  [CertificateStatus.UNSPECIFIED]: { text: "unknown", tone: "muted" },
  [CertificateStatus.PENDING]: { text: "pending", tone: "warn" },
  [CertificateStatus.READY]: { text: "ready", tone: "ok" },
  [CertificateStatus.RENEWING]: { text: "renewing", tone: "warn" },
  [CertificateStatus.ERROR]: { text: "error", tone: "bad" },
  [CertificateStatus.EXPIRED]: { text: "expired", tone: "bad" },
};

export const CHALLENGE_LABELS: readonly (readonly [AcmeChallengeType, string])[] = [
  [AcmeChallengeType.HTTP_01, "HTTP-01 (port 80 reaches Warren)"],
  [AcmeChallengeType.TLS_ALPN_01, "TLS-ALPN-01 (port 443 reaches this listener)"],
  [AcmeChallengeType.DNS_01, "DNS-01 (a TXT record through a DNS credential)"],
];

export function challengeName(c: AcmeChallengeType): string {
  return c === AcmeChallengeType.HTTP_01 ? "HTTP-01" : c === AcmeChallengeType.TLS_ALPN_01 ? "TLS-ALPN-01" : c === AcmeChallengeType.DNS_01 ? "DNS-01" : "";
}

/** What a certificate can be added from. */
export type AddKind = "upload" | "files" | "self-signed" | "acme";

export const ADD_KINDS: readonly (readonly [AddKind, string])[] = [
  ["upload", "Upload a PEM chain and key"],
  ["files", "Files on the server"],
  ["self-signed", "Generate self-signed"],
  ["acme", "Request from an ACME CA"],
];

export interface AddForm {
  kind: AddKind;
  certificatePem: string;
  privateKeyPem: string;
  certificateFile: string;
  privateKeyFile: string;
  names: string;
  validDays: string;
  acmeAccountId: string;
  challenge: AcmeChallengeType;
  dnsCredentialId: string;
}

export function newAddForm(kind: AddKind = "upload"): AddForm {
  return { kind, certificatePem: "", privateKeyPem: "", certificateFile: "", privateKeyFile: "", names: "", validDays: "365", acmeAccountId: "", challenge: AcmeChallengeType.HTTP_01, dnsCredentialId: "" };
}

export type AddRequest =
  | { kind: "upload"; req: { listenerId: string; certificatePem: string; privateKeyPem: string } }
  | { kind: "files"; req: { listenerId: string; certificateFile: string; privateKeyFile: string } }
  | { kind: "self-signed"; req: { listenerId: string; names: string[]; validDays: number } }
  | { kind: "acme"; req: { listenerId: string; names: string[]; acmeAccountId: string; challenge: AcmeChallengeType; dnsCredentialId: string } };

/** The request for the chosen kind; throws FormError for what is plainly missing. */
export function addRequest(listenerId: string, f: AddForm): AddRequest {
  switch (f.kind) {
    case "upload":
      if (f.certificatePem.trim() === "") throw new FormError("certificate_pem", "is required: the PEM chain, leaf first");
      if (f.privateKeyPem.trim() === "") throw new FormError("private_key_pem", "is required: the leaf's private key, PEM");
      return { kind: "upload", req: { listenerId, certificatePem: f.certificatePem.trim(), privateKeyPem: f.privateKeyPem.trim() } };
    case "files":
      for (const [field, v] of [["certificate_file", f.certificateFile], ["private_key_file", f.privateKeyFile]] as const) {
        if (!v.trim().startsWith("/")) throw new FormError(field, "must be an absolute path on the server");
      }
      return { kind: "files", req: { listenerId, certificateFile: f.certificateFile.trim(), privateKeyFile: f.privateKeyFile.trim() } };
    case "self-signed": {
      const names = parseNames(f.names);
      if (names.length === 0) throw new FormError("names", "needs at least one name");
      const d = f.validDays.trim();
      if (!/^\d+$/.test(d) || Number(d) < 1 || Number(d) > 3650) throw new FormError("valid_days", "must be 1–3650");
      return { kind: "self-signed", req: { listenerId, names, validDays: Number(d) } };
    }
    case "acme": {
      const names = parseNames(f.names);
      if (names.length === 0) throw new FormError("names", "needs at least one name");
      if (f.acmeAccountId === "") throw new FormError("acme_account_id", "is required: create an ACME account first");
      if (f.challenge === AcmeChallengeType.DNS_01 && f.dnsCredentialId === "") throw new FormError("dns_credential_id", "is required for DNS-01");
      return { kind: "acme", req: { listenerId, names, acmeAccountId: f.acmeAccountId, challenge: f.challenge, dnsCredentialId: f.challenge === AcmeChallengeType.DNS_01 ? f.dnsCredentialId : "" } };
    }
  }
}

/** Names with a wildcard, which only DNS-01 can issue. */
export function wildcardNames(text: string): string[] {
  return parseNames(text).filter((n) => n.startsWith("*."));
}

// ACME accounts.

export const ACME_PRESETS: readonly (readonly [string, string])[] = [
  ["https://acme-v02.api.letsencrypt.org/directory", "Let's Encrypt (production)"],
  ["https://acme-staging-v02.api.letsencrypt.org/directory", "Let's Encrypt (staging)"],
  ["https://acme.zerossl.com/v2/DV90", "ZeroSSL (needs EAB)"],
  ["custom", "Custom directory URL"],
];

export function directoryLabel(url: string): string {
  return ACME_PRESETS.find(([u]) => u === url)?.[1] ?? url;
}

export interface AcmeAccountForm {
  preset: string;
  customUrl: string;
  email: string;
  agreeToTerms: boolean;
  eabKeyId: string;
  eabHmacKey: string;
}

export function newAcmeAccountForm(): AcmeAccountForm {
  return { preset: ACME_PRESETS[0]![0], customUrl: "", email: "", agreeToTerms: false, eabKeyId: "", eabHmacKey: "" };
}

/** The request; the server checks the URL, the terms and that EAB has both parts or neither. */
export function acmeAccountRequest(f: AcmeAccountForm): { directoryUrl: string; email: string; agreeToTerms: boolean; eabKeyId: string; eabHmacKey: string } {
  const directoryUrl = f.preset === "custom" ? f.customUrl.trim() : f.preset;
  if (directoryUrl === "") throw new FormError("directory_url", "is required: the CA's RFC 8555 directory (https://…)");
  return { directoryUrl, email: f.email.trim(), agreeToTerms: f.agreeToTerms, eabKeyId: f.eabKeyId.trim(), eabHmacKey: f.eabHmacKey.trim() };
}

// DNS credentials.

export const DNS_PROVIDERS: readonly (readonly [DnsProvider, string])[] = [
  [DnsProvider.CLOUDFLARE, "Cloudflare"],
  [DnsProvider.RFC2136, "RFC 2136 (dynamic DNS update, TSIG)"],
];

export function providerName(p: DnsProvider | undefined): string {
  return p === DnsProvider.CLOUDFLARE ? "Cloudflare" : p === DnsProvider.RFC2136 ? "RFC 2136" : "unknown";
}

/** Each provider's settings: key, label, hint. */
export const PROVIDER_SETTINGS: Readonly<Record<DnsProvider, readonly { key: string; label: string; hint: string; placeholder?: string }[]>> = {
  [DnsProvider.UNSPECIFIED]: [],
  [DnsProvider.CLOUDFLARE]: [
    { key: "zone_id", label: "Zone ID", hint: "The zone's ID, from its Overview page in the Cloudflare dashboard." },
    { key: "propagation_seconds", label: "Propagation wait (seconds)", hint: "How long to wait after writing the record before the CA checks it; empty = the default." },
  ],
  [DnsProvider.RFC2136]: [
    { key: "server", label: "Server", hint: "The primary name server, host:port (port 53 by default).", placeholder: "ns1.example.com:53" },
    { key: "zone", label: "Zone", hint: "The zone the TXT records go in, e.g. example.com.", placeholder: "example.com" },
    { key: "tsig_key_name", label: "TSIG key name", hint: "As configured on the server." },
    { key: "tsig_algorithm", label: "TSIG algorithm", hint: "hmac-sha256 when empty.", placeholder: "hmac-sha256" },
    { key: "propagation_seconds", label: "Propagation wait (seconds)", hint: "How long to wait after the update before the CA checks it; empty = the default." },
  ],
};

export function secretLabel(p: DnsProvider): string {
  return p === DnsProvider.CLOUDFLARE ? "API token" : "TSIG key (base64)";
}

export interface DnsCredentialForm {
  name: string;
  provider: DnsProvider;
  settings: Record<string, string>;
  /** Write-only: empty on an existing credential keeps the stored one. */
  secret: string;
}

export function dnsCredentialForm(c: DnsCredential | undefined): DnsCredentialForm {
  return { name: c?.spec?.name ?? "", provider: c?.spec?.provider || DnsProvider.CLOUDFLARE, settings: { ...(c?.spec?.settings ?? {}) }, secret: "" };
}

/**
 * The spec: the chosen provider's settings, trimmed, empty ones left out (a stored setting the form
 * has no input for, e.g. Cloudflare's api_base_url, is kept while the provider stays the same). An
 * empty secret keeps the stored one; the server says when there is none.
 */
export function dnsCredentialSpec(f: DnsCredentialForm, stored?: DnsCredential): { name: string; provider: DnsProvider; settings: Record<string, string>; secret: string } {
  const settings: Record<string, string> = {};
  if (stored?.spec && stored.spec.provider === f.provider) {
    const shown = new Set(PROVIDER_SETTINGS[f.provider].map((s) => s.key));
    for (const [k, v] of Object.entries(stored.spec.settings)) if (!shown.has(k)) settings[k] = v;
  }
  for (const s of PROVIDER_SETTINGS[f.provider]) {
    const v = (f.settings[s.key] ?? "").trim();
    if (v !== "") settings[s.key] = v;
  }
  return { name: f.name.trim(), provider: f.provider, settings, secret: f.secret.trim() };
}

export function settingsSummary(c: DnsCredential): string {
  const s = c.spec?.settings ?? {};
  return Object.keys(s)
    .sort()
    .map((k) => `${k}=${s[k]}`)
    .join(", ");
}
