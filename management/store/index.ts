import { openDatabase, tightenModes, type Db } from "./database.ts";
import { migrate } from "./migrate.ts";
import { UsersRepo } from "./users-repo.ts";
import { SessionsRepo } from "./sessions-repo.ts";
import { TokensRepo } from "./tokens-repo.ts";
import { AuditRepo } from "./audit-repo.ts";
import { AgentsRepo } from "./agents-repo.ts";
import { ProxyRepo } from "./proxy-repo.ts";
import { EventsRepo } from "./events-repo.ts";
import { PolicyRepo } from "./policy-repo.ts";
import { TlsRepo } from "./tls-repo.ts";
import { NO_KEYRING, type SecretBox } from "../secrets/keyring.ts";

export interface Store {
  readonly db: Db;
  readonly users: UsersRepo;
  readonly sessions: SessionsRepo;
  readonly tokens: TokensRepo;
  readonly audit: AuditRepo;
  readonly agents: AgentsRepo;
  readonly proxy: ProxyRepo;
  readonly events: EventsRepo;
  readonly policy: PolicyRepo;
  readonly tls: TlsRepo;
  close(): void;
}

/**
 * Opens the database, applies pending migrations and prepares every repository. Credentials are
 * sealed with `secrets` on write and opened on read; without it, reading or writing one fails.
 */
export function openStore(path: string, secrets: SecretBox = NO_KEYRING): Store {
  const db = openDatabase(path);
  try {
    migrate(db);
  } catch (e) {
    db.close();
    throw e;
  }
  tightenModes(path);
  return {
    db,
    users: new UsersRepo(db),
    sessions: new SessionsRepo(db),
    tokens: new TokensRepo(db),
    audit: new AuditRepo(db),
    agents: new AgentsRepo(db),
    proxy: new ProxyRepo(db, secrets),
    events: new EventsRepo(db),
    policy: new PolicyRepo(db, secrets),
    tls: new TlsRepo(db, secrets),
    close: () => db.close(),
  };
}

export type { Db } from "./database.ts";
export type { UserRow, RoleName } from "./users-repo.ts";
export type { SessionRow } from "./sessions-repo.ts";
export type { TokenRow, TokenListRow } from "./tokens-repo.ts";
export type { AuditEntry, AuditRow } from "./audit-repo.ts";
export type { AgentRow, AgentCertRow } from "./agents-repo.ts";
export type { ListenerRow, RouteRow } from "./proxy-repo.ts";
export type { TlsCertificateRow, AcmeAccountRow, DnsCredentialRow, CertificateSourceName, CertificateStatusName, AcmeChallengeName } from "./tls-repo.ts";
