// DNS-01 through Cloudflare's API v4: one TXT record per challenge (POST /zones/{zone}/dns_records),
// deleted by its id afterwards. The token needs Zone.DNS:Edit on the zone. The base URL is a setting
// so tests can point it at a local fake; errors carry Cloudflare's own messages.
import type { DnsProvider, DnsTxtHandle } from "./provider.ts";

export const CLOUDFLARE_API = "https://api.cloudflare.com/client/v4";

export interface CloudflareOptions {
  zoneId: string;
  apiToken: string;
  baseUrl?: string | undefined;
  /** Cloudflare publishes to its edge within seconds; the CA then asks it directly. */
  propagationDelayMs?: number | undefined;
  timeoutMs?: number | undefined;
}

interface CloudflareEnvelope {
  success?: boolean;
  errors?: { code?: number; message?: string }[];
  result?: { id?: string } | null;
}

export class CloudflareDnsProvider implements DnsProvider {
  readonly kind = "cloudflare";
  readonly propagationDelayMs: number;
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: CloudflareOptions) {
    this.base = (opts.baseUrl ?? CLOUDFLARE_API).replace(/\/+$/, "");
    this.propagationDelayMs = opts.propagationDelayMs ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async setTxt(fqdn: string, value: string, signal?: AbortSignal): Promise<DnsTxtHandle> {
    const name = fqdn.replace(/\.$/, "");
    const body = await this.call("POST", `/zones/${encodeURIComponent(this.opts.zoneId)}/dns_records`, { type: "TXT", name, content: value, ttl: 120 }, signal);
    const id = body.result?.id;
    if (typeof id !== "string" || id === "") throw new Error("Cloudflare API: the created record has no id");
    return { fqdn: name, value, id };
  }

  async removeTxt(handle: DnsTxtHandle, signal?: AbortSignal): Promise<void> {
    if (!handle.id) throw new Error(`Cloudflare API: no record id to delete for ${handle.fqdn}`);
    await this.call("DELETE", `/zones/${encodeURIComponent(this.opts.zoneId)}/dns_records/${encodeURIComponent(handle.id)}`, undefined, signal);
  }

  private async call(method: string, path: string, payload: unknown, signal: AbortSignal | undefined): Promise<CloudflareEnvelope> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let resp: Response;
    try {
      resp = await fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.opts.apiToken}`, ...(payload !== undefined ? { "content-type": "application/json" } : {}) },
        ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      const why = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
      throw new Error(`Cloudflare API ${method} ${path} unreachable: ${why}`);
    }
    const text = await resp.text();
    let body: CloudflareEnvelope = {};
    try {
      body = JSON.parse(text) as CloudflareEnvelope;
    } catch {
      // Not JSON (a proxy's error page): the status says enough.
    }
    if (!resp.ok || body.success === false) {
      const messages = (body.errors ?? []).map((e) => `${e.message ?? "error"}${e.code !== undefined ? ` (code ${e.code})` : ""}`).join("; ");
      throw new Error(`Cloudflare API ${method} ${path}: HTTP ${resp.status}${messages ? `: ${messages}` : ""}`);
    }
    return body;
  }
}
