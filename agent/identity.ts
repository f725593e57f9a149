// The agent's key and enrolled client certificate in AGENT_STATE_DIR (DESIGN.md §3, §7):
// agent.key.pem (ECDSA P-256, PKCS#8, 0600, generated on first start) and agent.crt.pem.
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { agentSpiffeId } from "../tunnel/handshake.ts";
import { SettingsError, parsePemCertificates } from "./settings.ts";
import { writeFileAtomic } from "../lib/atomic-file.ts";
import { WarrenError } from "../lib/errors.ts";

export const KEY_FILE = "agent.key.pem";
export const CERT_FILE = "agent.crt.pem";
const isWindows = process.platform === "win32";

export interface CertificateInfo {
  readonly certPem: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Two thirds into the lifetime: when renewal starts. */
  readonly renewAt: Date;
}

export type CertificateCheck = { readonly ok: true; readonly cert: CertificateInfo } | { readonly ok: false; readonly reason: string };

export function renewalTime(notBefore: Date, notAfter: Date): Date {
  return new Date(notBefore.getTime() + ((notAfter.getTime() - notBefore.getTime()) * 2) / 3);
}

/**
 * Is `certPem` a usable client certificate for this agent at `now`: it parses, belongs to `keyPem`, is
 * within its validity period, carries the URI SAN spiffe://warren/agent/<agentId>, and (when `caPem` is
 * known) was issued by one of those CA certificates.
 */
export function checkAgentCertificate(certPem: string, keyPem: string, agentId: string, now: Date = new Date(), caPem?: string): CertificateCheck {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return { ok: false, reason: "the certificate file does not parse" };
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return { ok: false, reason: "the certificate is for another key" };
  } catch {
    return { ok: false, reason: "the certificate is for another key" };
  }
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (now >= notAfter) return { ok: false, reason: `the certificate expired at ${notAfter.toISOString()}` };
  if (now < notBefore) return { ok: false, reason: `the certificate is not valid before ${notBefore.toISOString()}` };
  const want = `URI:${agentSpiffeId(agentId)}`;
  const sans = (cert.subjectAltName ?? "").split(/,\s*/);
  if (!sans.includes(want)) return { ok: false, reason: `the certificate is not for ${agentId} (its names: ${cert.subjectAltName ?? "none"})` };
  if (caPem !== undefined) {
    let cas: X509Certificate[] = [];
    try {
      cas = parsePemCertificates(caPem);
    } catch {
      cas = [];
    }
    if (cas.length > 0 && !cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
      return { ok: false, reason: "the certificate was not issued by management's current CA" };
    }
  }
  return { ok: true, cert: { certPem, serial: cert.serialNumber.toLowerCase(), notBefore, notAfter, renewAt: renewalTime(notBefore, notAfter) } };
}

function stateError(dir: string, what: string, err: unknown): SettingsError {
  // lib/atomic-file wraps the errno error as io_error; the errno code is what an operator can act on.
  const errno = err instanceof WarrenError ? err.cause : err;
  const code = (errno as NodeJS.ErrnoException | undefined)?.code;
  return new SettingsError("AGENT_STATE_DIR", `${what} in "${dir}" failed${code ? ` (${code})` : ""}; expected a directory the agent can write`);
}

/** Key and current certificate of this agent, backed by AGENT_STATE_DIR. */
export class AgentIdentity {
  private current: CertificateInfo | undefined;

  private constructor(
    readonly stateDir: string,
    readonly agentId: string,
    /** PKCS#8 PEM. Never log it. */
    readonly keyPem: string,
    readonly keyCreated: boolean,
  ) {}

  get keyFile(): string {
    return path.join(this.stateDir, KEY_FILE);
  }

  get certFile(): string {
    return path.join(this.stateDir, CERT_FILE);
  }

  /**
   * Creates the state directory (0700, tightened if looser), loads the key or generates one (0600), and
   * reads agent.crt.pem if present (use `checkCertificate` to see whether it is usable).
   * Throws SettingsError("AGENT_STATE_DIR", …) on I/O trouble or a corrupt key.
   */
  static async load(stateDir: string, agentId: string): Promise<{ identity: AgentIdentity; storedCertPem: string | undefined }> {
    try {
      await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
      const st = await fsp.stat(stateDir);
      if (!st.isDirectory()) throw new SettingsError("AGENT_STATE_DIR", `"${stateDir}" is not a directory`);
      if (!isWindows && (st.mode & 0o077) !== 0) await fsp.chmod(stateDir, 0o700);
    } catch (e) {
      if (e instanceof SettingsError) throw e;
      throw stateError(stateDir, "creating the state directory", e);
    }
    const keyFile = path.join(stateDir, KEY_FILE);
    let keyPem: string | undefined;
    let keyCreated = false;
    try {
      keyPem = await fsp.readFile(keyFile, "utf8");
      if (!isWindows) {
        const st = await fsp.stat(keyFile);
        if ((st.mode & 0o077) !== 0) await fsp.chmod(keyFile, 0o600);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw stateError(stateDir, `reading ${KEY_FILE}`, e);
    }
    if (keyPem === undefined) {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      keyPem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
      try {
        await writeFileAtomic(keyFile, keyPem, 0o600);
      } catch (e) {
        throw stateError(stateDir, `writing ${KEY_FILE}`, e);
      }
      keyCreated = true;
    } else {
      try {
        const key = createPrivateKey(keyPem);
        if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw new Error("not P-256");
      } catch {
        throw new SettingsError("AGENT_STATE_DIR", `"${keyFile}" is not an ECDSA P-256 private key (PEM); delete it and the agent generates a new key and enrolls again`);
      }
    }
    let storedCertPem: string | undefined;
    try {
      storedCertPem = await fsp.readFile(path.join(stateDir, CERT_FILE), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw stateError(stateDir, `reading ${CERT_FILE}`, e);
    }
    return { identity: new AgentIdentity(stateDir, agentId, keyPem, keyCreated), storedCertPem };
  }

  checkCertificate(certPem: string, now: Date = new Date(), caPem?: string): CertificateCheck {
    return checkAgentCertificate(certPem, this.keyPem, this.agentId, now, caPem);
  }

  /** The certificate in use (set by `use`), if still within its validity period. */
  certificate(now: Date = new Date()): CertificateInfo | undefined {
    const c = this.current;
    if (c === undefined || now >= c.notAfter || now < c.notBefore) return undefined;
    return c;
  }

  /** Client certificate + key for a TLS connection, if a valid certificate is in use. */
  clientCertificate(now: Date = new Date()): { certPem: string; keyPem: string } | undefined {
    const c = this.certificate(now);
    return c === undefined ? undefined : { certPem: c.certPem, keyPem: this.keyPem };
  }

  /** Starts using a checked certificate (already on disk). */
  use(cert: CertificateInfo): void {
    this.current = cert;
  }

  /** Writes a newly issued certificate (0600) and starts using it. */
  async store(cert: CertificateInfo): Promise<void> {
    try {
      await writeFileAtomic(this.certFile, cert.certPem, 0o600);
    } catch (e) {
      throw stateError(this.stateDir, `writing ${CERT_FILE}`, e);
    }
    this.current = cert;
  }
}
