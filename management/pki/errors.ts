import { WarrenError, type ErrorCode } from "../../lib/errors.ts";

/** Error codes raised by the PKI module (lib/errors.ts has them with their statuses). */
export type PkiErrorCode = Extract<ErrorCode, `pki_${string}` | "io_error">;

/**
 * Typed PKI failure. Messages never contain key material; `cause` is only
 * attached for filesystem errors (which carry paths, not contents).
 */
export class PkiError extends WarrenError<PkiErrorCode> {
  override name = "PkiError";
}

export function isPkiError(err: unknown, code?: PkiErrorCode): err is PkiError {
  return err instanceof WarrenError && (err.code.startsWith("pki_") || err.code === "io_error") && (code === undefined || err.code === code);
}
