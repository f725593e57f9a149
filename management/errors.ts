import { Code, ConnectError } from "@connectrpc/connect";

/**
 * Every failure the management API reports, with its stable code and its Connect code in one table.
 * Handlers throw ApiError; the error interceptor maps it to a ConnectError once, at the edge.
 */
const TABLE = {
  invalid_argument: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  setup_closed: Code.FailedPrecondition,
  login_throttled: Code.ResourceExhausted,
  internal: Code.Internal,
} as const satisfies Record<string, Code>;

export type ApiErrorCode = keyof typeof TABLE;

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get connectCode(): Code {
    return TABLE[this.code];
  }

  toConnectError(): ConnectError {
    // The cause stays in our logs; clients get only the message.
    return new ConnectError(this.message, this.connectCode);
  }
}

/** A request field failed validation; the message always starts with the field's name. */
export function fieldError(field: string, message: string): ApiError {
  return new ApiError("invalid_argument", `${field}: ${message}`);
}
