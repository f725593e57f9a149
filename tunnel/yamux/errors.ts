import { WarrenError, type ErrorCode } from "../../lib/errors.ts";

/**
 * Every Yamux failure mode, each a code of Warren's error table (lib/errors.ts). Callers branch on
 * `err.code`, never on messages; `cause` carries the underlying socket error for logs.
 */
export type YamuxErrorCode = Extract<ErrorCode, `yamux_${string}`>;

export class YamuxError extends WarrenError<YamuxErrorCode> {
  override name = "YamuxError";
}
