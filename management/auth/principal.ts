import type { RoleName, UserRow } from "../store/index.ts";

/** Who is calling, as established from a session cookie or an API token. */
export interface Principal {
  readonly kind: "session" | "token";
  readonly user: UserRow;
  /** The role in effect: a token never carries more than its user. */
  readonly role: RoleName;
  readonly sessionId?: string;
  readonly tokenId?: string;
  readonly tokenName?: string;
}

export function weakerRole(a: RoleName, b: RoleName): RoleName {
  return a === "admin" && b === "admin" ? "admin" : "viewer";
}
