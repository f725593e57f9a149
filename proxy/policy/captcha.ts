// Hosted captcha providers as the check of a challenge rule (DESIGN.md §5 stage 4): instead of the
// proof-of-work puzzle the page shows the provider's widget, and the verify endpoint asks the
// provider's siteverify whether the widget's response is good. Asking is bounded: a 3 s timeout
// and a cap on calls in flight; when the provider cannot be asked the rule's fallback decides.
import { request, type Dispatcher } from "undici";
import type { Logger } from "pino";
import { parseIPv4, parseIPv6, ipv6Words } from "../../lib/ip.ts";

export type CaptchaKindName = "turnstile" | "hcaptcha" | "recaptcha_v2";

export interface CaptchaKindInfo {
  readonly verifyUrl: string;
  readonly scriptUrl: string;
  /** The class of the element the provider's script turns into its widget. */
  readonly widgetClass: string;
  /**
   * Origins the provider's default script loads its frames and code from besides its own (the
   * page's CSP names them only when the script is the provider's default).
   */
  readonly extraOrigins: readonly string[];
}

export const CAPTCHA_KINDS: Readonly<Record<CaptchaKindName, CaptchaKindInfo>> = {
  turnstile: {
    verifyUrl: "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    scriptUrl: "https://challenges.cloudflare.com/turnstile/v0/api.js",
    widgetClass: "cf-turnstile",
    extraOrigins: [],
  },
  hcaptcha: {
    verifyUrl: "https://api.hcaptcha.com/siteverify",
    scriptUrl: "https://js.hcaptcha.com/1/api.js",
    widgetClass: "h-captcha",
    extraOrigins: ["https://*.hcaptcha.com"],
  },
  recaptcha_v2: {
    verifyUrl: "https://www.google.com/recaptcha/api/siteverify",
    scriptUrl: "https://www.google.com/recaptcha/api.js",
    widgetClass: "g-recaptcha",
    extraOrigins: ["https://www.gstatic.com"],
  },
};

/** A challenge rule's provider, compiled into the snapshot. */
export interface CaptchaSettings {
  readonly providerId: string;
  readonly kind: CaptchaKindName;
  readonly siteKey: string;
  readonly secret: string;
  readonly verifyUrl: string;
  readonly scriptUrl: string;
  /** What the verify endpoint does when the provider cannot be asked. */
  readonly fallback: "block" | "allow";
  /** The challenge page's Content-Security-Policy. */
  readonly csp: string;
}

function isLoopback(hostname: string): boolean {
  const h = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  if (h === "localhost") return true;
  const v4 = parseIPv4(h);
  if (v4 >= 0) return v4 >>> 24 === 127;
  if (parseIPv6(h)) {
    const w = ipv6Words();
    return w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 1;
  }
  return false;
}

/** What is wrong with a provider URL (https; http only on loopback, for tests), or undefined. */
export function providerUrlProblem(s: string): string | undefined {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return "is not a URL";
  }
  if (u.username !== "" || u.password !== "") return "must not carry credentials";
  if (u.hash !== "") return "must not have a fragment";
  if (u.protocol === "https:") return undefined;
  if (u.protocol === "http:" && isLoopback(u.hostname)) return undefined;
  return "must be https (http only on a loopback address)";
}

/** The challenge page's CSP for a provider: its script's origin (and the default script's helpers) besides 'self'. */
export function captchaPageCsp(kind: CaptchaKindName, scriptUrl: string): string {
  const info = CAPTCHA_KINDS[kind];
  const origin = new URL(scriptUrl).origin;
  const origins = [origin, ...(origin === new URL(info.scriptUrl).origin ? info.extraOrigins : [])].join(" ");
  return (
    `default-src 'none'; script-src 'self' ${origins}; frame-src ${origins}; connect-src ${origins}; ` +
    "img-src 'self' data:; style-src 'self' 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
  );
}

export type CaptchaOutcome = { readonly kind: "success" } | { readonly kind: "failure" } | { readonly kind: "unavailable"; readonly reason: string };

export const CAPTCHA_TIMEOUT_MS = 3000;
export const CAPTCHA_MAX_IN_FLIGHT = 32;
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Calls siteverify. Never queues: beyond `maxInFlight` calls in flight the answer is "unavailable"
 * at once (the rule's fallback then decides), and every call ends within `timeoutMs`.
 */
export class CaptchaVerifier {
  private inFlight = 0;
  constructor(
    readonly maxInFlight = CAPTCHA_MAX_IN_FLIGHT,
    readonly timeoutMs = CAPTCHA_TIMEOUT_MS,
    private readonly dispatcher?: Dispatcher,
  ) {}

  get active(): number {
    return this.inFlight;
  }

  async verify(p: { readonly verifyUrl: string; readonly secret: string }, response: string, remoteIp: string): Promise<CaptchaOutcome> {
    if (this.inFlight >= this.maxInFlight) return { kind: "unavailable", reason: "too many checks in flight" };
    this.inFlight++;
    // Our own timer and controller, both held here until the call ends: AbortSignal.timeout's timer
    // is unref'd and its signal only weakly held, so nothing would guarantee it ever fires.
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.timeoutMs);
    const signal = ac.signal;
    try {
      const res = await request(p.verifyUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: new URLSearchParams({ secret: p.secret, response, remoteip: remoteIp }).toString(),
        signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
      if (res.statusCode < 200 || res.statusCode > 299) {
        await res.body.dump();
        return { kind: "unavailable", reason: `status ${res.statusCode}` };
      }
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of res.body as AsyncIterable<Buffer>) {
        n += c.length;
        if (n > MAX_ANSWER_BYTES) {
          res.body.destroy();
          return { kind: "unavailable", reason: "answer too large" };
        }
        chunks.push(c);
      }
      let answer: unknown;
      try {
        answer = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return { kind: "unavailable", reason: "answer is not JSON" };
      }
      return (answer as { success?: unknown } | null)?.success === true ? { kind: "success" } : { kind: "failure" };
    } catch (e) {
      if (signal.aborted) return { kind: "unavailable", reason: "timeout" };
      const code = (e as { code?: unknown }).code;
      return { kind: "unavailable", reason: typeof code === "string" ? code : e instanceof Error ? e.name : "error" };
    } finally {
      clearTimeout(timer);
      this.inFlight--;
    }
  }
}

/** Provider failures, counted per rule and logged at most once per rule per interval (never the secret). */
export class CaptchaFailures {
  private readonly counts = new Map<string, number>();
  private readonly lastLog = new Map<string, number>();
  constructor(
    private readonly log: Logger | undefined,
    private readonly intervalMs = 60_000,
  ) {}

  failed(rule: { readonly id: string; readonly name: string }, c: CaptchaSettings, reason: string, now = Date.now()): void {
    const n = (this.counts.get(rule.id) ?? 0) + 1;
    this.counts.set(rule.id, n);
    if (now - (this.lastLog.get(rule.id) ?? -Infinity) < this.intervalMs) return;
    this.lastLog.set(rule.id, now);
    this.log?.warn(
      { ruleId: rule.id, rule: rule.name, providerId: c.providerId, provider: c.kind, verifyHost: new URL(c.verifyUrl).host, reason, failures: n, fallback: c.fallback },
      "captcha provider could not be asked",
    );
  }

  count(ruleId: string): number {
    return this.counts.get(ruleId) ?? 0;
  }
}
