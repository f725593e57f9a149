// The HTTPS transport under acme-client, per client. acme-client 5.4.0 sends every request through one
// module-level axios instance (src/axios.js) and offers no per-client agent, CA or signal; its axios
// interceptor also retries network errors and 5xx five times with 5–25 s sleeps (75 s before an
// unreachable CA is reported, deaf to any abort) and turns a timeout into "Cannot read properties of
// undefined". So each Client gets its HttpClient's `request(url, method, opts)` replaced on the
// instance — the one function all ACME traffic goes through (http.js) — by this one: node:https with
// the client's own CA list, the caller's AbortSignal, a per-request timeout, and a short bounded
// retry of 429/503 that honours Retry-After. Global axios defaults are never touched, so two issuances
// against different CAs (Pebble with its test CA, Let's Encrypt with the system store) cannot mix.
import https from "node:https";
import http from "node:http";
import type { Client } from "acme-client";

/** What acme-client's HttpClient reads of a response (the subset of an axios response it uses). */
export interface AcmeHttpResponse {
  status: number;
  headers: Record<string, string | undefined>;
  data: unknown;
}

export interface TransportOptions {
  /** Extra PEM roots for the CA's HTTPS (tests: Pebble's); unset = Node's default store. */
  caCertificates?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Per request, connect to last byte (default 30 s). */
  timeoutMs?: number | undefined;
  /** Retries of a 429/503 answer (default 3); Retry-After is honoured up to `maxRetryDelayMs`. */
  retries?: number | undefined;
  maxRetryDelayMs?: number | undefined;
}

const USER_AGENT = "warren-acme (acme-client/5.4.0)";

export class AcmeTransportError extends Error {
  override readonly name = "AcmeTransportError";
}

export class AcmeTransport {
  private readonly agent: https.Agent;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly maxRetryDelayMs: number;

  constructor(private readonly opts: TransportOptions = {}) {
    // keepAlive: an order is ~15 requests to one host.
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 4, ...(opts.caCertificates ? { ca: opts.caCertificates } : {}) });
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.retries = opts.retries ?? 3;
    this.maxRetryDelayMs = opts.maxRetryDelayMs ?? 30_000;
  }

  /** Routes `client`'s ACME traffic through this transport (see the file comment for why). */
  attach(client: Client): void {
    const internals = client as unknown as { http?: { request?: unknown } };
    if (typeof internals.http?.request !== "function") {
      throw new Error("acme-client internals changed: Client.http.request not found (transport cannot be installed)");
    }
    // The original also sets Content-Type (every ACME POST is a JWS, RFC 8555 §6.2).
    internals.http.request = (url: string, method: string, o: { data?: unknown; headers?: Record<string, string> } = {}) =>
      this.request(url, method, o.data, { ...(o.headers ?? {}), "content-type": "application/jose+json" });
  }

  close(): void {
    this.agent.destroy();
  }

  async request(url: string, method: string, data: unknown, headers: Record<string, string>): Promise<AcmeHttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const resp = await this.once(url, method.toUpperCase(), data, headers);
      if ((resp.status === 429 || resp.status === 503) && attempt < this.retries) {
        await this.sleep(retryDelayMs(resp.headers["retry-after"], attempt, this.maxRetryDelayMs));
        continue;
      }
      return resp;
    }
  }

  /** GET that returns the raw response (for the directory and ARI, which need no JWS). */
  get(url: string): Promise<AcmeHttpResponse> {
    return this.request(url, "GET", undefined, {});
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.opts.signal;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortError(signal!));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private once(url: string, method: string, data: unknown, headers: Record<string, string>): Promise<AcmeHttpResponse> {
    const signal = this.opts.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const body = data === undefined || data === null ? undefined : Buffer.from(typeof data === "string" ? data : JSON.stringify(data));
    const target = new URL(url);
    const mod = target.protocol === "http:" ? http : https;
    return new Promise<AcmeHttpResponse>((resolve, reject) => {
      const req = mod.request(
        target,
        {
          method,
          ...(mod === https ? { agent: this.agent } : {}),
          headers: {
            "user-agent": USER_AGENT,
            accept: "application/json, application/pem-certificate-chain, */*",
            ...lowerKeys(headers),
            ...(body ? { "content-length": String(body.length) } : {}),
          },
          timeout: this.timeoutMs,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (err) => reject(describe(err, method, url, signal)));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const headersOut: Record<string, string | undefined> = {};
            for (const [k, v] of Object.entries(res.headers)) headersOut[k] = Array.isArray(v) ? v.join(", ") : v;
            resolve({ status: res.statusCode ?? 0, headers: headersOut, data: parseBody(text, headersOut["content-type"]) });
          });
        },
      );
      req.on("timeout", () => req.destroy(new AcmeTransportError(`${method} ${url}: no answer within ${this.timeoutMs} ms`)));
      req.on("error", (err) => reject(describe(err, method, url, signal)));
      req.end(body);
    });
  }
}

/** JSON (directory, objects, problem documents) parsed like axios does; PEM and empty bodies as text. */
function parseBody(text: string, contentType: string | undefined): unknown {
  if (text === "") return "";
  if (contentType !== undefined && /json/i.test(contentType)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

function lowerKeys(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}

function retryDelayMs(retryAfter: string | undefined, attempt: number, cap: number): number {
  const fallback = 1000 * 2 ** attempt;
  if (retryAfter === undefined) return Math.min(cap, fallback);
  const secs = Number(retryAfter);
  if (Number.isFinite(secs) && secs >= 0) return Math.min(cap, secs * 1000);
  const at = Date.parse(retryAfter);
  return Number.isFinite(at) ? Math.min(cap, Math.max(0, at - Date.now())) : Math.min(cap, fallback);
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new AcmeTransportError("ACME request aborted");
}

function describe(err: Error, method: string, url: string, signal: AbortSignal | undefined): Error {
  if (signal?.aborted) return abortError(signal);
  if (err instanceof AcmeTransportError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  return new AcmeTransportError(`${method} ${url} failed: ${err.message}${code && !err.message.includes(code) ? ` (${code})` : ""}`);
}
