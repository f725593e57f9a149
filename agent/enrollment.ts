// Client certificate enrollment and renewal (DESIGN.md §3, issue 3): enroll on start when there is no
// usable certificate, renew at two thirds of its lifetime, keep the old one while renewal fails.
import http from "node:http";
import https from "node:https";
import type { Logger } from "pino";
import { agentAuthorization } from "../tunnel/handshake.ts";
import { createCsrForKey } from "../tunnel/csr.ts";
import { backoffDelay, type BackoffOptions } from "./backoff.ts";
import type { AgentIdentity, CertificateInfo } from "./identity.ts";
import type { ManagementTls } from "./management-tls.ts";
import { certSha256, parsePemCertificates } from "./settings.ts";

export interface EnrollResult {
  readonly certificatePem: string;
  readonly caCertificatePem: string;
}

/** Sends a CSR to management and returns the issued certificate. */
export type EnrollFn = (csrPem: string) => Promise<EnrollResult>;

const ENROLL_TIMEOUT_MS = 15_000;
/** setTimeout's limit is ~24.8 days; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What management answered instead of a certificate: the Connect error code (`unauthenticated`, …) and its message. */
export class EnrollError extends Error {
  constructor(
    readonly code: string,
    readonly rawMessage: string,
  ) {
    super(`${code}: ${rawMessage}`);
    this.name = "EnrollError";
  }
}

/**
 * AgentService.Enroll, authenticated with the agent token: one unary call in the Connect protocol
 * with JSON (a POST over HTTP/1.1), spoken with node:https. The Connect client libraries would do
 * the same for ~20 MB more resident memory, a third of what an idle agent needs in all
 * (bench/agent-rss).
 */
export function connectEnroller(opts: { managementUrl: URL; agentId: string; secret: string; tls: ManagementTls }): EnrollFn {
  const url = new URL("/warren.v1.AgentService/Enroll", opts.managementUrl);
  return async (csrPem) => {
    const nodeOptions = await opts.tls.options();
    const body = JSON.stringify({ csrPem });
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = (url.protocol === "https:" ? https : http).request(
        url,
        {
          ...nodeOptions,
          agent: false,
          method: "POST",
          timeout: ENROLL_TIMEOUT_MS,
          headers: {
            "content-type": "application/json",
            "connect-protocol-version": "1",
            "content-length": Buffer.byteLength(body),
            authorization: agentAuthorization(opts.agentId, opts.secret),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${ENROLL_TIMEOUT_MS} ms`), { code: "ETIMEDOUT" })));
      req.on("error", reject);
      req.end(body);
    });
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new EnrollError("unknown", `HTTP ${status} with a body that is not JSON`);
    }
    if (status !== 200) throw new EnrollError(typeof json.code === "string" ? json.code : "unknown", typeof json.message === "string" ? json.message : `HTTP ${status}`);
    if (typeof json.certificatePem !== "string" || typeof json.caCertificatePem !== "string") throw new EnrollError("unknown", "the answer has no certificate");
    return { certificatePem: json.certificatePem, caCertificatePem: json.caCertificatePem };
  };
}

/** Operator-readable explanation of an enrollment failure, and whether it needs the operator. */
export function describeEnrollError(err: unknown): { reason: string; operator: boolean } {
  if (err instanceof EnrollError) {
    switch (err.code) {
      case "unauthenticated":
        return { reason: "management refused the agent credentials: unknown agent, wrong AGENT_TOKEN, or the agent is disabled", operator: true };
      case "permission_denied":
        return { reason: `management denied enrollment: ${err.rawMessage}`, operator: true };
      case "unimplemented":
        return { reason: "management does not offer enrollment (older server?)", operator: true };
      case "invalid_argument":
        return { reason: `management rejected the certificate request: ${err.rawMessage}`, operator: true };
      default:
        return { reason: err.message, operator: false };
    }
  }
  const e = err as NodeJS.ErrnoException;
  return { reason: e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err), operator: false };
}

export interface CertificateManagerOptions {
  readonly identity: AgentIdentity;
  readonly enroll: EnrollFn;
  readonly logger: Logger;
  /** The management CA PEM once known (stored certificates from another CA are replaced). */
  readonly caPem?: () => string | undefined;
  /** Pinned CA fingerprint (hex): an enrollment answer naming another CA is logged. */
  readonly pinSha256?: string;
  /** Called after a new certificate is stored. */
  readonly onCertificate?: (cert: CertificateInfo) => void;
  /** Retry schedule after a failed enrollment. Default 2 s doubling to 60 s. */
  readonly retry?: BackoffOptions;
  /** Retry schedule after a failed renewal (the old certificate stays in use). Default 30 s doubling to 10 min. */
  readonly renewRetry?: BackoffOptions;
  readonly now?: () => Date;
}

/**
 * Keeps the agent's client certificate current. `start()` adopts a stored certificate if it is usable,
 * otherwise enrolls once (awaited, errors logged, never thrown) and keeps retrying in the background;
 * renewal is scheduled at two thirds of the lifetime.
 */
export class CertificateManager {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private attempt = 0;
  private inflight: Promise<boolean> | undefined;
  private lastForcedAt = -Infinity;

  constructor(private readonly o: CertificateManagerOptions) {}

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  async start(storedCertPem: string | undefined): Promise<void> {
    const { identity, logger } = this.o;
    if (storedCertPem !== undefined) {
      const check = identity.checkCertificate(storedCertPem, this.now(), this.o.caPem?.());
      if (check.ok) {
        identity.use(check.cert);
        logger.info({ serial: check.cert.serial, notAfter: check.cert.notAfter.toISOString(), renewAt: check.cert.renewAt.toISOString() }, "using stored client certificate");
        if (check.cert.renewAt <= this.now()) await this.run("renewal");
        else this.scheduleAt(check.cert.renewAt, "renewal");
        return;
      }
      logger.info({ reason: check.reason }, "stored client certificate is not usable; enrolling");
    }
    await this.run("enrollment");
  }

  /**
   * Enroll again now, even though the current certificate looks valid: management refused it (403, e.g.
   * revoked after a token rotation). At most once per `minIntervalMs`, so a server that keeps refusing
   * does not get a certificate request on every reconnect. Returns whether an attempt was started.
   */
  reenroll(minIntervalMs = 60_000): boolean {
    const now = Date.now();
    if (this.stopped || this.inflight !== undefined || now - this.lastForcedAt < minIntervalMs) return false;
    this.lastForcedAt = now;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    void this.run("enrollment");
    return true;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One enrollment (or renewal) attempt; schedules the next step. Resolves true on success. */
  private run(kind: "enrollment" | "renewal"): Promise<boolean> {
    this.inflight ??= this.attemptOnce(kind).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async attemptOnce(kind: "enrollment" | "renewal"): Promise<boolean> {
    const { identity, logger } = this.o;
    if (this.stopped) return false;
    try {
      const csrPem = await createCsrForKey(identity.keyPem, identity.agentId);
      const res = await this.o.enroll(csrPem);
      if (this.stopped) return false;
      const check = identity.checkCertificate(res.certificatePem, this.now(), res.caCertificatePem || undefined);
      if (!check.ok) throw new Error(`management returned an unusable certificate: ${check.reason}`);
      if (this.o.pinSha256 !== undefined && res.caCertificatePem) {
        const fps = (() => {
          try {
            return parsePemCertificates(res.caCertificatePem).map(certSha256);
          } catch {
            return [];
          }
        })();
        if (!fps.includes(this.o.pinSha256)) logger.warn("the CA certificate sent with the enrollment answer does not match MANAGEMENT_CA_SHA256");
      }
      await identity.store(check.cert);
      this.attempt = 0;
      logger.info({ serial: check.cert.serial, notAfter: check.cert.notAfter.toISOString(), renewAt: check.cert.renewAt.toISOString(), renewal: kind === "renewal" }, "enrolled");
      this.o.onCertificate?.(check.cert);
      this.scheduleAt(check.cert.renewAt, "renewal");
      return true;
    } catch (err) {
      if (this.stopped) return false;
      const { reason, operator } = describeEnrollError(err);
      const current = identity.certificate(this.now());
      const opts = current ? (this.o.renewRetry ?? { initialMs: 30_000, maxMs: 600_000 }) : (this.o.retry ?? { initialMs: 2_000, maxMs: 60_000 });
      const delay = backoffDelay(this.attempt++, opts);
      const fields = { reason, retryInMs: delay, ...(current ? { keepingCertificateUntil: current.notAfter.toISOString() } : {}) };
      if (operator) logger.error(fields, `${kind} failed`);
      else logger.warn(fields, `${kind} failed`);
      this.scheduleIn(delay, current ? "renewal" : "enrollment");
      return false;
    }
  }

  private scheduleAt(when: Date, kind: "enrollment" | "renewal"): void {
    this.scheduleIn(when.getTime() - this.now().getTime(), kind);
  }

  private scheduleIn(ms: number, kind: "enrollment" | "renewal"): void {
    if (this.stopped) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const wait = Math.max(0, ms);
    const step = Math.min(wait, MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (wait > step) this.scheduleIn(wait - step, kind);
      else void this.run(kind);
    }, step);
    this.timer.unref();
  }
}
