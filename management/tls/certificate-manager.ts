// Keeps every HTTPS listener's certificates current (DESIGN.md §6): stores uploads, file-backed and
// self-signed certificates, re-reads files when they change, and runs ACME issuance and renewal —
// a scan at start and every 30 minutes, renewal inside the CA's ARI window or at two thirds of the
// life, one issuance per name at a time, and after a failure a retry with backoff from an hour while
// the old certificate keeps serving. Every change reaches the data plane as a new snapshot.
import { readFile } from "node:fs/promises";
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import type { Store, TlsCertificateRow } from "../store/index.ts";
import type { SnapshotService } from "../config/snapshot-service.ts";
import type { AcmeChallenges } from "../../proxy/index.ts";
import type { AcmeChallengeKind, AcmeEngine } from "./acme-engine.ts";
import { ApiError, fieldError } from "../errors.ts";
import { newId } from "../store/ids.ts";
import { validateCertificate, type ValidCertificate } from "./validate-certificate.ts";
import { generateSelfSigned } from "./self-signed.ts";
import { nextRenewalAt, retryAfterFailure } from "./renewal-time.ts";
import { servable } from "../config/compile-tls.ts";

export const SCAN_INTERVAL_MS = 30 * 60_000;
/** How often file-backed certificates are checked for changes (fs.watchFile polls: it survives renames and symlink swaps). */
export const FILE_POLL_MS = 5_000;
/** An issuance that takes longer than this is abandoned (and retried with backoff). */
export const ISSUE_TIMEOUT_MS = 10 * 60_000;

export interface CertificateManagerOptions {
  readonly store: Store;
  readonly snapshots: SnapshotService;
  readonly challenges: AcmeChallenges;
  readonly engine: AcmeEngine;
  readonly log: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly scanIntervalMs?: number;
  readonly filePollMs?: number;
}

export class CertificateManager {
  private readonly now: () => number;
  private readonly random: () => number;
  /** Names with an issuance running: one per name at a time. */
  private readonly issuing = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly watched = new Map<string, () => void>();
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(private readonly o: CertificateManagerOptions) {
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
  }

  /** Scans now, then every 30 minutes or at the next renewal due, whichever is first; watches file-backed certificates. */
  start(): void {
    for (const row of this.o.store.tls.certificates()) if (row.source === "files") this.watch(row);
    void this.scan("startup");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    for (const unwatch of this.watched.values()) unwatch();
    this.watched.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  /** Starts every ACME issuance that is due; resolves when they have finished. */
  async scan(trigger: string): Promise<void> {
    const now = this.now();
    const due = this.o.store.tls.certificates().filter((r) => r.source === "acme" && r.next_renewal_at <= now);
    if (due.length) this.o.log.info({ component: "public_acme", trigger, due: due.length }, "certificates due for issuance");
    await Promise.allSettled(due.map((r) => this.issue(r.id, trigger)));
    this.schedule();
  }

  /** The next scan: at the earliest renewal or retry due, and at least every 30 minutes. */
  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const now = this.now();
    const interval = this.o.scanIntervalMs ?? SCAN_INTERVAL_MS;
    let next = now + interval;
    for (const r of this.o.store.tls.certificates()) {
      if (r.source === "acme" && !this.running.has(r.id)) next = Math.min(next, Math.max(r.next_renewal_at, now + 1_000));
    }
    this.timer = setTimeout(() => void this.scan(next - now < interval ? "due" : "scheduled"), next - now);
    this.timer.unref();
  }

  /** The chain and key as given; the names it serves are its own. */
  async upload(listenerId: string, certPem: string, keyPem: string): Promise<TlsCertificateRow> {
    this.mustHttpsListener(listenerId);
    const v = validateCertificate(certPem, keyPem, { cert: "certificate_pem", key: "private_key_pem" }, this.now());
    return this.insert(listenerId, "upload", v, {});
  }

  async addFiles(listenerId: string, certFile: string, keyFile: string): Promise<TlsCertificateRow> {
    this.mustHttpsListener(listenerId);
    if (!path.isAbsolute(certFile)) throw fieldError("certificate_file", "must be an absolute path");
    if (!path.isAbsolute(keyFile)) throw fieldError("private_key_file", "must be an absolute path");
    const [certPem, keyPem] = await Promise.all([readPem(certFile, "certificate_file"), readPem(keyFile, "private_key_file")]);
    const v = validateCertificate(certPem, keyPem, { cert: "certificate_file", key: "private_key_file" }, this.now());
    const row = await this.insert(listenerId, "files", v, { cert_file: certFile, key_file: keyFile });
    this.watch(row);
    return row;
  }

  async selfSigned(listenerId: string, names: string[], validDays: number): Promise<TlsCertificateRow> {
    this.mustHttpsListener(listenerId);
    const { certPem, keyPem } = await generateSelfSigned(names, validDays, new Date(this.now()));
    return this.insert(listenerId, "self_signed", validateCertificate(certPem, keyPem, { cert: "names", key: "names" }, this.now()), {});
  }

  /** Stores a pending ACME certificate and starts its issuance; answers before the CA does. */
  async requestAcme(
    listenerId: string,
    names: string[],
    accountId: string,
    challenge: AcmeChallengeKind,
    dnsCredentialId: string | undefined,
  ): Promise<TlsCertificateRow> {
    this.mustHttpsListener(listenerId);
    if (!this.o.store.tls.acmeAccount(accountId)) throw new ApiError("not_found", `acme_account_id: no ACME account ${accountId}`);
    if (challenge !== "dns-01" && names.some((n) => n.startsWith("*."))) {
      throw fieldError("challenge", "wildcard names can only be validated with DNS_01");
    }
    if (challenge === "dns-01") {
      if (!dnsCredentialId) throw fieldError("dns_credential_id", "is required with DNS_01");
      if (!this.o.store.tls.dnsCredential(dnsCredentialId)) throw new ApiError("not_found", `dns_credential_id: no DNS credential ${dnsCredentialId}`);
    } else if (dnsCredentialId) {
      throw fieldError("dns_credential_id", "is only used with DNS_01");
    }
    const now = this.now();
    const id = newId("crt");
    const row: TlsCertificateRow = {
      ...blankRow(id, listenerId, "acme", names, now),
      acme_account_id: accountId,
      challenge,
      dns_credential_id: dnsCredentialId ?? null,
      status: "pending",
    };
    await this.o.snapshots.write(() => this.o.store.tls.insertCertificate(row));
    void this.issue(id, "requested");
    return this.o.store.tls.certificate(id)!;
  }

  /** ACME: issue now, backoff cleared. Files: read them again. Others: nothing to renew. */
  async renew(id: string): Promise<TlsCertificateRow> {
    const row = this.must(id);
    if (row.source === "files") {
      await this.reread(row);
    } else if (row.source === "acme") {
      // Runs regardless of a failure's backoff; answers with the state it set (renewing or pending).
      void this.issue(id, "manual");
    } else {
      throw new ApiError("failed_precondition", `id: a ${row.source === "upload" ? "uploaded" : "self-signed"} certificate cannot be renewed; upload or generate a new one`);
    }
    return this.o.store.tls.certificate(id)!;
  }

  /** Resolves when the certificate's running issuance (if any) has finished: for tests and shutdown. */
  settled(id: string): Promise<void> {
    return this.running.get(id) ?? Promise.resolve();
  }

  async remove(id: string): Promise<void> {
    this.must(id);
    this.unwatch(id);
    await this.o.snapshots.write(() => this.o.store.tls.deleteCertificate(id));
  }

  private must(id: string): TlsCertificateRow {
    if (id === "") throw fieldError("id", "is required");
    const row = this.o.store.tls.certificate(id);
    if (!row) throw new ApiError("not_found", `id: no certificate ${id}`);
    return row;
  }

  private mustHttpsListener(listenerId: string): void {
    if (listenerId === "") throw fieldError("listener_id", "is required");
    const l = this.o.store.proxy.listener(listenerId);
    if (!l) throw new ApiError("not_found", `listener_id: no listener ${listenerId}`);
    if (l.protocol !== "https") throw fieldError("listener_id", `listener "${l.name}" is HTTP; certificates belong to HTTPS listeners`);
  }

  private async insert(listenerId: string, source: TlsCertificateRow["source"], v: ValidCertificate, files: { cert_file?: string; key_file?: string }): Promise<TlsCertificateRow> {
    const now = this.now();
    const id = newId("crt");
    const row: TlsCertificateRow = { ...blankRow(id, listenerId, source, v.names, now), ...files, ...certColumns(v), status: "ready" };
    await this.o.snapshots.write(() => this.o.store.tls.insertCertificate(row));
    this.o.log.info({ component: "public_tls", certificateId: id, listenerId, source, names: v.names, notAfter: new Date(v.notAfter).toISOString() }, "certificate stored");
    return this.o.store.tls.certificate(id)!;
  }

  private watch(row: TlsCertificateRow): void {
    if (this.watched.has(row.id)) return;
    const interval = this.o.filePollMs ?? FILE_POLL_MS;
    const onChange = (cur: fs.Stats, prev: fs.Stats) => {
      if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size && cur.ino === prev.ino) return;
      const fresh = this.o.store.tls.certificate(row.id);
      if (fresh) void this.reread(fresh);
      // Gone with its listener (ON DELETE CASCADE): stop polling its files.
      else this.unwatch(row.id);
    };
    fs.watchFile(row.cert_file, { interval, persistent: false }, onChange);
    fs.watchFile(row.key_file, { interval, persistent: false }, onChange);
    this.watched.set(row.id, () => {
      fs.unwatchFile(row.cert_file, onChange);
      fs.unwatchFile(row.key_file, onChange);
    });
  }

  private unwatch(id: string): void {
    this.watched.get(id)?.();
    this.watched.delete(id);
  }

  /** Reads a file-backed certificate again; a bad read keeps the old certificate serving and records why. */
  private async reread(row: TlsCertificateRow): Promise<void> {
    const now = this.now();
    try {
      const [certPem, keyPem] = await Promise.all([readPem(row.cert_file, "certificate_file"), readPem(row.key_file, "private_key_file")]);
      if (certPem === row.cert_pem && keyPem.trim() === row.key_pem.trim() && row.status === "ready") return;
      const v = validateCertificate(certPem, keyPem, { cert: "certificate_file", key: "private_key_file" }, now);
      await this.o.snapshots.write(() =>
        this.o.store.tls.updateCertificateState({ id: row.id, ...certColumns(v), status: "ready", last_error: "", failures: 0, next_renewal_at: 0, updated_at: now }),
      );
      this.o.log.info({ component: "public_tls", certificateId: row.id, notAfter: new Date(v.notAfter).toISOString() }, "certificate files re-read");
    } catch (e) {
      const message = (e as Error).message;
      await this.o.snapshots.write(() =>
        this.o.store.tls.updateCertificateState({ ...stateOf(row), status: "error", last_error: message, failures: row.failures + 1, updated_at: now }),
      );
      this.o.log.warn({ component: "public_tls", certificateId: row.id, err: message }, "certificate files could not be read; the previous certificate stays");
    }
  }

  private issue(id: string, trigger: string): Promise<void> {
    const existing = this.running.get(id);
    if (existing) return existing;
    const run = this.runIssue(id, trigger).finally(() => {
      this.running.delete(id);
      // A manual or requested issuance may have moved the next renewal (or a retry) earlier.
      if (trigger === "manual" || trigger === "requested") this.schedule();
    });
    this.running.set(id, run);
    return run;
  }

  private async runIssue(id: string, trigger: string): Promise<void> {
    const row = this.o.store.tls.certificate(id);
    if (!row || row.source !== "acme") return;
    const names = JSON.parse(row.names) as string[];
    const busy = names.find((n) => this.issuing.has(n));
    if (busy) {
      this.o.log.info({ component: "public_acme", certificateId: id, name: busy }, "an issuance for this name is already running; skipped");
      return;
    }
    for (const n of names) this.issuing.add(n);
    const log = this.o.log.child({ component: "public_acme", certificateId: id, names, trigger });
    const started = this.now();
    // Set before the first await, so a caller sees it at once; the status is not part of the snapshot.
    this.o.store.tls.setCertificateStatus(id, servable(row, started) ? "renewing" : "pending", started);
    try {
      const account = this.o.store.tls.acmeAccount(row.acme_account_id ?? "");
      if (!account) throw new Error(`the ACME account ${row.acme_account_id ?? ""} no longer exists`);
      const cred = row.dns_credential_id ? this.o.store.tls.dnsCredential(row.dns_credential_id) : undefined;
      if (row.challenge === "dns-01" && !cred) throw new Error(`the DNS credential ${row.dns_credential_id ?? ""} no longer exists`);
      log.info("issuance started");
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(ISSUE_TIMEOUT_MS)]);
      const issued = await this.o.engine.issue({
        account: { directoryUrl: account.directory_url, email: account.email, accountKeyPem: account.key_pem, accountUrl: account.account_url },
        names,
        challenge: row.challenge as AcmeChallengeKind,
        challenges: this.o.challenges,
        dns: cred ? { provider: cred.provider, settings: JSON.parse(cred.settings) as Record<string, string>, secret: cred.secret } : undefined,
        signal,
        log,
      });
      const now = this.now();
      const v = validateCertificate(issued.certPem, issued.keyPem, { cert: "certificate", key: "key" }, now);
      let ari: { start: Date; end: Date } | undefined;
      try {
        ari = await this.o.engine.renewalInfo({ directoryUrl: account.directory_url, certPem: v.chainPem, signal });
      } catch (e) {
        log.warn({ err: (e as Error).message }, "renewal information unavailable; renewing at two thirds of the life");
      }
      const next = nextRenewalAt({ notBefore: new Date(v.notBefore), notAfter: new Date(v.notAfter), ari, now: new Date(now), random: this.random }).getTime();
      await this.o.snapshots.write(() =>
        this.o.store.tls.updateCertificateState({ id, ...certColumns(v), status: "ready", last_error: "", failures: 0, next_renewal_at: next, updated_at: now }),
      );
      log.info({ notAfter: new Date(v.notAfter).toISOString(), nextRenewalAt: new Date(next).toISOString(), ms: now - started }, "certificate issued");
    } catch (e) {
      if (this.abort.signal.aborted) return;
      const now = this.now();
      const fresh = this.o.store.tls.certificate(id);
      if (!fresh) return;
      const failures = fresh.failures + 1;
      const retry = retryAfterFailure(failures, new Date(now)).getTime();
      const message = (e as Error).message || String(e);
      await this.o.snapshots.write(() =>
        this.o.store.tls.updateCertificateState({ ...stateOf(fresh), status: "error", last_error: message, failures, next_renewal_at: retry, updated_at: now }),
      );
      log.warn({ err: message, failures, retryAt: new Date(retry).toISOString() }, "issuance failed; the previous certificate (if any) stays");
    } finally {
      for (const n of names) this.issuing.delete(n);
    }
  }
}

function blankRow(id: string, listenerId: string, source: TlsCertificateRow["source"], names: readonly string[], now: number): TlsCertificateRow {
  return {
    id,
    listener_id: listenerId,
    source,
    names: JSON.stringify(names),
    cert_pem: "",
    key_pem: "",
    cert_file: "",
    key_file: "",
    acme_account_id: null,
    challenge: "",
    dns_credential_id: null,
    status: "ready",
    last_error: "",
    failures: 0,
    not_before: 0,
    not_after: 0,
    next_renewal_at: 0,
    created_at: now,
    updated_at: now,
  };
}

function certColumns(v: ValidCertificate): Pick<TlsCertificateRow, "cert_pem" | "key_pem" | "not_before" | "not_after"> {
  return { cert_pem: v.chainPem, key_pem: v.keyPem, not_before: v.notBefore, not_after: v.notAfter };
}

function stateOf(row: TlsCertificateRow) {
  const { id, cert_pem, key_pem, status, last_error, failures, not_before, not_after, next_renewal_at, updated_at } = row;
  return { id, cert_pem, key_pem, status, last_error, failures, not_before, not_after, next_renewal_at, updated_at };
}

async function readPem(file: string, field: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    throw fieldError(field, `cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
