/** Error codes raised by the PKI module. */
export type PkiErrorCode =
  | "PKI_BAD_CSR"
  | "PKI_UNSUPPORTED_KEY"
  | "PKI_BAD_CERT"
  | "PKI_UNTRUSTED"
  | "PKI_EXPIRED"
  | "PKI_IO";

/**
 * Typed PKI failure. Messages never contain key material; `cause` is only
 * attached for filesystem errors (which carry paths, not contents).
 */
export class PkiError extends Error {
  readonly code: PkiErrorCode;

  constructor(code: PkiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PkiError";
    this.code = code;
  }
}

export function isPkiError(err: unknown, code?: PkiErrorCode): err is PkiError {
  return err instanceof PkiError && (code === undefined || err.code === code);
}
