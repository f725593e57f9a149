// Warren's one error vocabulary: every failure anywhere (data plane, management API, PKI, tunnel,
// Yamux) has a stable string code, and this table maps each code once to its HTTP status, its
// Connect code and the one sentence a client may see. Error pages, Connect errors, request events,
// logs and metric labels all speak these codes. `cause` stays in logs, never in answers.

/** Connect's codes by their wire names (connect-es's `Code` enum is keyed the same way in camel case). */
export type ConnectCodeName =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated";

export interface ErrorEntry {
  readonly status: number;
  readonly connect: ConnectCodeName;
  /** Shown to clients; never internal detail (addresses, agent names, stack traces). */
  readonly message: string;
}

function e(status: number, connect: ConnectCodeName, message: string): ErrorEntry {
  return { status, connect, message };
}

const TABLE = {
  // Warren's own bugs and local I/O. internal_error always logs its cause.
  internal_error: e(500, "internal", "The gateway failed to handle the request."),
  io_error: e(500, "internal", "A file could not be read or written."),

  // Public request hygiene (proxy/stages/hygiene.ts) and malformed messages.
  bad_request: e(400, "invalid_argument", "The request is malformed."),
  bad_request_target: e(400, "invalid_argument", "The request target is malformed."),
  path_dot_segment: e(400, "invalid_argument", "The request path contains a dot segment."),
  path_backslash: e(400, "invalid_argument", "The request path contains a backslash."),
  path_encoded_separator: e(400, "invalid_argument", "The request path contains an encoded path separator."),
  path_bad_encoding: e(400, "invalid_argument", "The request path contains invalid percent-encoding."),
  target_control_char: e(400, "invalid_argument", "The request target contains a control character."),
  absolute_uri_host_mismatch: e(400, "invalid_argument", "The request target names a different host than the Host header."),
  missing_host: e(400, "invalid_argument", "The Host header is missing."),
  duplicate_host: e(400, "invalid_argument", "The request has more than one Host header."),
  bad_host: e(400, "invalid_argument", "The Host header is not a valid host name."),
  bad_framing: e(400, "invalid_argument", "The request framing headers (Content-Length, Transfer-Encoding) are invalid or ambiguous."),
  bad_header: e(400, "invalid_argument", "A request header is malformed."),
  expectation_failed: e(417, "failed_precondition", "The request's Expect header cannot be met."),

  // Policies (proxy/stages/waf.ts).
  waf_blocked: e(403, "permission_denied", "The request was blocked by a security rule."),
  waf_challenge: e(403, "permission_denied", "The browser must pass a check before this request goes on."),
  challenge_failed: e(403, "permission_denied", "The check failed or expired: reload the page to try again."),
  waf_waiting_room: e(503, "unavailable", "The site is busy: you are in line and will be let in shortly."),
  waiting_room_full: e(503, "unavailable", "The site is busy and its waiting room is full: try again shortly."),
  rate_limited: e(429, "resource_exhausted", "Too many requests: wait a little before trying again."),
  rate_limit_unavailable: e(503, "unavailable", "The rate-limit store cannot be reached, and this limit refuses requests until it can."),
  endpoint_rate_limited: e(429, "resource_exhausted", "Too many requests to this endpoint: wait a little."),

  // Routing.
  route_not_found: e(404, "not_found", "No route matches this request."),
  method_not_allowed: e(405, "unimplemented", "This method is not allowed for this resource."),

  // Limits and timeouts on the client side.
  request_timeout: e(408, "deadline_exceeded", "The request was not received in time."),
  body_too_large: e(413, "resource_exhausted", "The request body is too large."),
  header_too_large: e(431, "resource_exhausted", "The request headers are too large."),
  client_aborted: e(499, "canceled", "The client closed the connection."),

  // Upstream failures.
  upstream_connect_failed: e(502, "unavailable", "The upstream server could not be reached."),
  upstream_reset: e(502, "unavailable", "The upstream server closed the connection unexpectedly."),
  upstream_bad_response: e(502, "unavailable", "The upstream server sent an invalid response."),
  no_healthy_target: e(503, "unavailable", "No healthy upstream is available."),
  route_busy: e(503, "unavailable", "This service is handling as many requests as it takes: try again shortly."),
  upstream_timeout: e(504, "deadline_exceeded", "The upstream server did not answer in time."),

  // Streams through agents (tunnel/): opening one, and the agent going away.
  agent_disconnected: e(502, "unavailable", "The agent serving this route disconnected."),
  agent_dial_failed: e(502, "unavailable", "The agent could not reach the upstream server."),
  agent_denied: e(502, "permission_denied", "The agent refused to reach the upstream server."),
  agent_dial_timeout: e(504, "deadline_exceeded", "The agent did not reach the upstream server in time."),
  tunnel_protocol_error: e(502, "unavailable", "The agent tunnel carried a malformed message."),

  // The tunnel handshake (management/agents/tunnel-endpoint.ts), in the order it checks.
  tunnel_unauthenticated: e(401, "unauthenticated", "Unknown agent, wrong token, or the agent is disabled."),
  tunnel_mtls_required: e(403, "permission_denied", "This agent requires mTLS and presented no valid client certificate."),
  tunnel_not_upgrade: e(400, "invalid_argument", "Expected a tunnel upgrade request."),
  tunnel_version_unsupported: e(426, "failed_precondition", "This tunnel protocol version is not supported."),
  tunnel_already_connected: e(409, "already_exists", "This agent is already connected."),

  // Yamux (tunnel/yamux/). The data plane reports these as agent_disconnected / upstream_reset.
  yamux_session_closed: e(502, "unavailable", "The tunnel session is closed."),
  yamux_stream_reset: e(502, "unavailable", "The tunnel stream was reset by the peer."),
  yamux_protocol_error: e(502, "unavailable", "The tunnel peer broke the Yamux protocol."),
  yamux_go_away: e(503, "unavailable", "The tunnel peer is going away."),
  yamux_keepalive_timeout: e(502, "unavailable", "The tunnel peer stopped answering keepalives."),
  yamux_ping_timeout: e(504, "deadline_exceeded", "The tunnel peer did not answer a ping in time."),
  yamux_backlog_full: e(503, "resource_exhausted", "Too many tunnel streams are waiting to be accepted."),
  yamux_too_many_streams: e(503, "resource_exhausted", "The tunnel's stream limit is reached."),
  yamux_streams_exhausted: e(503, "resource_exhausted", "The tunnel session has used up its stream ids."),
  yamux_socket_error: e(502, "unavailable", "The tunnel's connection failed."),
  yamux_invalid_option: e(500, "internal", "A Yamux option is out of range."),

  // The management CA (management/pki/).
  pki_bad_csr: e(400, "invalid_argument", "The certificate signing request is invalid."),
  pki_unsupported_key: e(400, "invalid_argument", "The key type is not supported."),
  pki_bad_cert: e(400, "invalid_argument", "The certificate is invalid."),
  pki_untrusted: e(403, "permission_denied", "The certificate was not issued by a trusted CA."),
  pki_expired: e(403, "permission_denied", "The certificate has expired or is not yet valid."),

  // Secrets at rest (management/secrets/). Messages name the row and key id, never the value.
  secret_malformed: e(500, "internal", "A stored secret is not a valid envelope."),
  secret_unknown_key: e(500, "internal", "A stored secret was encrypted with a key that is not configured."),
  secret_decrypt_failed: e(500, "internal", "A stored secret could not be decrypted."),

  // The management API (management/api/). Field errors carry their own message naming the field.
  invalid_argument: e(400, "invalid_argument", "A request field is invalid."),
  unauthenticated: e(401, "unauthenticated", "Authentication is required."),
  permission_denied: e(403, "permission_denied", "This caller may not do that."),
  not_found: e(404, "not_found", "No such resource."),
  already_exists: e(409, "already_exists", "The resource already exists."),
  failed_precondition: e(400, "failed_precondition", "The resource is not in a state that allows this."),
  setup_closed: e(400, "failed_precondition", "The first-admin setup is closed."),
  login_throttled: e(429, "resource_exhausted", "Too many failed logins; try again later."),
  unsupported_media_type: e(415, "invalid_argument", "The request's content type is not supported."),
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof TABLE;

/** Every code, for tests and docs. */
export const ERROR_CODES: readonly ErrorCode[] = Object.freeze(Object.keys(TABLE) as ErrorCode[]);

export function isErrorCode(s: string): s is ErrorCode {
  return Object.hasOwn(TABLE, s);
}

export function errorEntry(code: ErrorCode): ErrorEntry {
  return TABLE[code];
}

export function statusOf(code: ErrorCode): number {
  return TABLE[code].status;
}

export function publicMessage(code: ErrorCode): string {
  return TABLE[code].message;
}

export function connectCodeOf(code: ErrorCode): ConnectCodeName {
  return TABLE[code].connect;
}

/**
 * The base of every error Warren raises on purpose: a stable code from the table (undici's
 * `UndiciError` + `UND_ERR_*` is the model). Subclasses narrow `code` to their module's codes.
 */
export class WarrenError<C extends ErrorCode = ErrorCode> extends Error {
  override name = "WarrenError";
  readonly code: C;
  constructor(code: C, message?: string, options?: { cause?: unknown }) {
    super(message ?? TABLE[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  get status(): number {
    return TABLE[this.code].status;
  }

  get connectCode(): ConnectCodeName {
    return TABLE[this.code].connect;
  }
}

export function isWarrenError(err: unknown, code?: ErrorCode): err is WarrenError {
  return err instanceof WarrenError && (code === undefined || err.code === code);
}

/** A failure before any byte reached the upstream (no connection, no stream): safe to retry elsewhere. */
export class ConnectPhaseError<C extends ErrorCode = ErrorCode> extends WarrenError<C> {
  override name = "ConnectPhaseError";
}
