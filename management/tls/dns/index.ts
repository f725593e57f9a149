// The DNS-01 providers by name, and the check of their settings at save time (errors name the field,
// like every other validator in management/config/). Settings are plain strings (stored as a map);
// the secret (Cloudflare API token, TSIG secret) is stored encrypted elsewhere and passed in.
import net from "node:net";
import { fieldError } from "../../errors.ts";
import { CloudflareDnsProvider } from "./cloudflare.ts";
import type { DnsProvider } from "./provider.ts";
import { parseServer, Rfc2136DnsProvider } from "./rfc2136.ts";
import { encodeName, TSIG_ALGORITHMS, type TsigAlgorithm } from "./wire.ts";

export type { DnsProvider, DnsTxtHandle } from "./provider.ts";
export type DnsProviderKind = "cloudflare" | "rfc2136";
export const DNS_PROVIDER_KINDS: readonly DnsProviderKind[] = ["cloudflare", "rfc2136"];

const SETTINGS: Record<DnsProviderKind, { required: string[]; optional: string[] }> = {
  cloudflare: { required: ["zone_id"], optional: ["api_base_url", "propagation_seconds"] },
  rfc2136: { required: ["server", "zone", "tsig_key_name"], optional: ["tsig_algorithm", "propagation_seconds"] },
};

export interface CreateDnsProviderOptions {
  /** Overrides propagation_seconds (tests: 0). */
  propagationDelayMs?: number | undefined;
  timeoutMs?: number | undefined;
}

function field(name: string): string {
  return `spec.settings.${name}`;
}

function isDnsName(v: string): boolean {
  try {
    encodeName(v);
    return /^[A-Za-z0-9_.-]+\.?$/.test(v) && !v.startsWith(".");
  } catch {
    return false;
  }
}

/** Throws fieldError naming `spec.provider` or `spec.settings.<key>` for the first problem. */
export function validateDnsSettings(provider: string, settings: Record<string, string>): asserts provider is DnsProviderKind {
  if (!(DNS_PROVIDER_KINDS as readonly string[]).includes(provider)) throw fieldError("spec.provider", `must be one of ${DNS_PROVIDER_KINDS.join(", ")}`);
  const spec = SETTINGS[provider as DnsProviderKind];
  for (const k of Object.keys(settings)) {
    if (!spec.required.includes(k) && !spec.optional.includes(k)) {
      throw fieldError(field(k), `is not a ${provider} setting (known: ${[...spec.required, ...spec.optional].join(", ")})`);
    }
  }
  for (const k of spec.required) if (!settings[k]?.trim()) throw fieldError(field(k), "is required");
  const seconds = settings.propagation_seconds;
  if (seconds !== undefined && seconds !== "" && (!/^\d+$/.test(seconds) || Number(seconds) > 3600)) {
    throw fieldError(field("propagation_seconds"), "must be a whole number of seconds, 0–3600");
  }
  if (provider === "cloudflare") {
    if (!/^[A-Za-z0-9]{1,64}$/.test(settings.zone_id!.trim())) throw fieldError(field("zone_id"), "must be the zone's ID (letters and digits, from the zone's Overview page)");
    const base = settings.api_base_url;
    if (base !== undefined && base !== "") {
      let url: URL;
      try {
        url = new URL(base);
      } catch {
        throw fieldError(field("api_base_url"), "must be an http(s) URL");
      }
      if (url.protocol !== "https:" && url.protocol !== "http:") throw fieldError(field("api_base_url"), "must be an http(s) URL");
    }
    return;
  }
  try {
    const { host, port } = parseServer(settings.server!.trim());
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error("port");
    if (net.isIP(host) === 0 && !isDnsName(host)) throw new Error("host");
  } catch {
    throw fieldError(field("server"), "must be host, host:port or [IPv6]:port of the primary DNS server (port 53 by default)");
  }
  if (!isDnsName(settings.zone!.trim())) throw fieldError(field("zone"), "must be a DNS zone name such as example.com");
  if (!isDnsName(settings.tsig_key_name!.trim())) throw fieldError(field("tsig_key_name"), "must be the TSIG key's name as configured on the server");
  const alg = settings.tsig_algorithm;
  if (alg !== undefined && alg !== "" && !(alg in TSIG_ALGORITHMS)) throw fieldError(field("tsig_algorithm"), `must be one of ${Object.keys(TSIG_ALGORITHMS).join(", ")}`);
}

/** Validates `secret` for `provider`: the field is `spec.secret`. */
export function validateDnsSecret(provider: DnsProviderKind, secret: string): void {
  if (secret.trim() === "") throw fieldError("spec.secret", provider === "cloudflare" ? "the Cloudflare API token is required" : "the TSIG secret is required");
  if (provider === "rfc2136") {
    const s = secret.trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s) || Buffer.from(s, "base64").length < 16) {
      throw fieldError("spec.secret", "must be the TSIG secret in base64 (as in the server's key statement), at least 16 bytes");
    }
  }
}

export function createDnsProvider(provider: DnsProviderKind, settings: Record<string, string>, secret: string, opts: CreateDnsProviderOptions = {}): DnsProvider {
  validateDnsSettings(provider, settings);
  validateDnsSecret(provider, secret);
  const seconds = settings.propagation_seconds;
  const propagationDelayMs = opts.propagationDelayMs ?? (seconds ? Number(seconds) * 1000 : undefined);
  if (provider === "cloudflare") {
    return new CloudflareDnsProvider({
      zoneId: settings.zone_id!.trim(),
      apiToken: secret.trim(),
      baseUrl: settings.api_base_url || undefined,
      propagationDelayMs,
      timeoutMs: opts.timeoutMs,
    });
  }
  return new Rfc2136DnsProvider({
    server: settings.server!.trim(),
    zone: settings.zone!.trim(),
    key: {
      name: settings.tsig_key_name!.trim(),
      algorithm: (settings.tsig_algorithm || "hmac-sha256") as TsigAlgorithm,
      secret: Buffer.from(secret.trim(), "base64"),
    },
    propagationDelayMs,
    timeoutMs: opts.timeoutMs,
  });
}
