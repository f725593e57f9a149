import { WarrenError, type ErrorCode } from "../../lib/errors.ts";

export type SecretErrorCode = Extract<ErrorCode, `secret_${string}`>;

/** A stored secret that cannot be opened. Messages name the row (the AAD) and key id, never the value. */
export class SecretError extends WarrenError<SecretErrorCode> {
  override name = "SecretError";
}
