import type { Db } from "./database.ts";
import type { SecretBox } from "../secrets/keyring.ts";
import { acmeAccountKeyAad, dnsCredentialSecretAad, tlsCertificateKeyAad } from "./secret-columns.ts";

export type CertificateSourceName = "upload" | "files" | "self_signed" | "acme";
export type CertificateStatusName = "pending" | "ready" | "renewing" | "error";
export type AcmeChallengeName = "" | "http-01" | "tls-alpn-01" | "dns-01";

export interface TlsCertificateRow {
  id: string;
  listener_id: string;
  source: CertificateSourceName;
  /** JSON array of names. */
  names: string;
  cert_pem: string;
  /** Sealed at rest; plaintext in rows this repo returns. */
  key_pem: string;
  cert_file: string;
  key_file: string;
  acme_account_id: string | null;
  challenge: AcmeChallengeName;
  dns_credential_id: string | null;
  status: CertificateStatusName;
  last_error: string;
  failures: number;
  not_before: number;
  not_after: number;
  next_renewal_at: number;
  created_at: number;
  updated_at: number;
}

export interface AcmeAccountRow {
  id: string;
  directory_url: string;
  email: string;
  /** Sealed at rest; plaintext in rows this repo returns. */
  key_pem: string;
  account_url: string;
  eab_key_id: string;
  created_at: number;
}

export interface DnsCredentialRow {
  id: string;
  name: string;
  provider: string;
  /** JSON object of strings. */
  settings: string;
  /** Sealed at rest; plaintext in rows this repo returns. */
  secret: string;
  created_at: number;
  updated_at: number;
}

/** What an issuance, renewal or file read changes on a certificate. */
export type CertificateStateUpdate = Pick<
  TlsCertificateRow,
  "id" | "cert_pem" | "key_pem" | "status" | "last_error" | "failures" | "not_before" | "not_after" | "next_renewal_at" | "updated_at"
>;

/** Public TLS: certificates, ACME accounts and DNS credentials. Secrets are sealed here, at the boundary. */
export class TlsRepo {
  private readonly s;
  constructor(
    db: Db,
    private readonly box: SecretBox,
  ) {
    this.s = {
      certs: db.prepare<[], TlsCertificateRow>("SELECT * FROM tls_certificates ORDER BY listener_id, created_at, id"),
      cert: db.prepare<[string], TlsCertificateRow>("SELECT * FROM tls_certificates WHERE id = ?"),
      insertCert: db.prepare(
        `INSERT INTO tls_certificates (id, listener_id, source, names, cert_pem, key_pem, cert_file, key_file, acme_account_id, challenge,
           dns_credential_id, status, last_error, failures, not_before, not_after, next_renewal_at, created_at, updated_at)
         VALUES (@id, @listener_id, @source, @names, @cert_pem, @key_pem, @cert_file, @key_file, @acme_account_id, @challenge,
           @dns_credential_id, @status, @last_error, @failures, @not_before, @not_after, @next_renewal_at, @created_at, @updated_at)`,
      ),
      updateState: db.prepare(
        `UPDATE tls_certificates SET cert_pem = @cert_pem, key_pem = @key_pem, status = @status, last_error = @last_error, failures = @failures,
           not_before = @not_before, not_after = @not_after, next_renewal_at = @next_renewal_at, updated_at = @updated_at WHERE id = @id`,
      ),
      setStatus: db.prepare<[string, number, string]>("UPDATE tls_certificates SET status = ?, updated_at = ? WHERE id = ?"),
      deleteCert: db.prepare<[string]>("DELETE FROM tls_certificates WHERE id = ?"),
      accounts: db.prepare<[], AcmeAccountRow>("SELECT * FROM acme_accounts ORDER BY created_at, id"),
      account: db.prepare<[string], AcmeAccountRow>("SELECT * FROM acme_accounts WHERE id = ?"),
      accountFor: db.prepare<[string, string], AcmeAccountRow>("SELECT * FROM acme_accounts WHERE directory_url = ? AND email = ?"),
      insertAccount: db.prepare(
        "INSERT INTO acme_accounts (id, directory_url, email, key_pem, account_url, eab_key_id, created_at) VALUES (@id, @directory_url, @email, @key_pem, @account_url, @eab_key_id, @created_at)",
      ),
      deleteAccount: db.prepare<[string]>("DELETE FROM acme_accounts WHERE id = ?"),
      accountUses: db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM tls_certificates WHERE acme_account_id = ?"),
      credentials: db.prepare<[], DnsCredentialRow>("SELECT * FROM dns_credentials ORDER BY name"),
      credential: db.prepare<[string], DnsCredentialRow>("SELECT * FROM dns_credentials WHERE id = ?"),
      insertCredential: db.prepare(
        "INSERT INTO dns_credentials (id, name, provider, settings, secret, created_at, updated_at) VALUES (@id, @name, @provider, @settings, @secret, @created_at, @updated_at)",
      ),
      updateCredential: db.prepare("UPDATE dns_credentials SET name = @name, provider = @provider, settings = @settings, secret = @secret, updated_at = @updated_at WHERE id = @id"),
      deleteCredential: db.prepare<[string]>("DELETE FROM dns_credentials WHERE id = ?"),
      credentialUses: db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM tls_certificates WHERE dns_credential_id = ?"),
    };
  }

  private openCert = (row: TlsCertificateRow): TlsCertificateRow => ({ ...row, key_pem: this.box.open(row.key_pem, tlsCertificateKeyAad(row.id)) });
  private openAccount = (row: AcmeAccountRow): AcmeAccountRow => ({ ...row, key_pem: this.box.open(row.key_pem, acmeAccountKeyAad(row.id)) });
  private openCredential = (row: DnsCredentialRow): DnsCredentialRow => ({ ...row, secret: this.box.open(row.secret, dnsCredentialSecretAad(row.id)) });

  certificates(): TlsCertificateRow[] {
    return this.s.certs.all().map(this.openCert);
  }
  certificate(id: string): TlsCertificateRow | undefined {
    const row = this.s.cert.get(id);
    return row && this.openCert(row);
  }
  insertCertificate(row: TlsCertificateRow): void {
    this.s.insertCert.run({ ...row, key_pem: this.box.seal(row.key_pem, tlsCertificateKeyAad(row.id)) });
  }
  updateCertificateState(u: CertificateStateUpdate): boolean {
    return this.s.updateState.run({ ...u, key_pem: this.box.seal(u.key_pem, tlsCertificateKeyAad(u.id)) }).changes > 0;
  }
  setCertificateStatus(id: string, status: CertificateStatusName, now: number): void {
    this.s.setStatus.run(status, now, id);
  }
  deleteCertificate(id: string): boolean {
    return this.s.deleteCert.run(id).changes > 0;
  }

  acmeAccounts(): AcmeAccountRow[] {
    return this.s.accounts.all().map(this.openAccount);
  }
  acmeAccount(id: string): AcmeAccountRow | undefined {
    const row = this.s.account.get(id);
    return row && this.openAccount(row);
  }
  acmeAccountFor(directoryUrl: string, email: string): AcmeAccountRow | undefined {
    const row = this.s.accountFor.get(directoryUrl, email);
    return row && this.openAccount(row);
  }
  insertAcmeAccount(row: AcmeAccountRow): void {
    this.s.insertAccount.run({ ...row, key_pem: this.box.seal(row.key_pem, acmeAccountKeyAad(row.id)) });
  }
  deleteAcmeAccount(id: string): boolean {
    return this.s.deleteAccount.run(id).changes > 0;
  }
  acmeAccountUses(id: string): number {
    return this.s.accountUses.get(id)?.n ?? 0;
  }

  dnsCredentials(): DnsCredentialRow[] {
    return this.s.credentials.all().map(this.openCredential);
  }
  dnsCredential(id: string): DnsCredentialRow | undefined {
    const row = this.s.credential.get(id);
    return row && this.openCredential(row);
  }
  insertDnsCredential(row: DnsCredentialRow): void {
    this.s.insertCredential.run({ ...row, secret: this.box.seal(row.secret, dnsCredentialSecretAad(row.id)) });
  }
  updateDnsCredential(row: Omit<DnsCredentialRow, "created_at">): boolean {
    return this.s.updateCredential.run({ ...row, secret: this.box.seal(row.secret, dnsCredentialSecretAad(row.id)) }).changes > 0;
  }
  deleteDnsCredential(id: string): boolean {
    return this.s.deleteCredential.run(id).changes > 0;
  }
  dnsCredentialUses(id: string): number {
    return this.s.credentialUses.get(id)?.n ?? 0;
  }
}
