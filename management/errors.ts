import { Code, ConnectError } from "@connectrpc/connect";
import { WarrenError, type ConnectCodeName, type ErrorCode } from "../lib/errors.ts";

/** Warren's error table (lib/errors.ts) names Connect codes by their wire names; this is the one map to connect-es. */
const CONNECT_CODES: Readonly<Record<ConnectCodeName, Code>> = {
  canceled: Code.Canceled,
  unknown: Code.Unknown,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};

/**
 * A failure the management API reports. Handlers throw ApiError (or any WarrenError); the error
 * interceptor maps it to a ConnectError once, at the edge, through the table.
 */
export class ApiError extends WarrenError<ErrorCode> {
  override name = "ApiError";
}

/** The ConnectError a client sees for a WarrenError: the table's Connect code, the error's message (never its cause). */
export function toConnectError(e: WarrenError): ConnectError {
  return new ConnectError(e.message, CONNECT_CODES[e.connectCode]);
}

/** A request field failed validation; the message always starts with the field's name. */
export function fieldError(field: string, message: string): ApiError {
  return new ApiError("invalid_argument", `${field}: ${message}`);
}
