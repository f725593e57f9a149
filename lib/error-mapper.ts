// The one mapper from what Node, undici, TLS, the tunnel and Yamux throw to Warren's error codes
// (lib/errors.ts), with the phase the failure happened in: "connect" when no byte reached the
// upstream (an idempotent request may be retried elsewhere), "exchange" after that.
import { ConnectPhaseError, WarrenError, type ErrorCode } from "./errors.ts";

export interface MappedError {
  readonly code: ErrorCode;
  readonly phase: "connect" | "exchange";
  /** Recognised as a known failure; false only for the internal_error fallback. */
  readonly known: boolean;
}

const CONNECT_FAILED = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EADDRNOTAVAIL",
  // TLS handshake with the origin failed (verification or protocol).
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_TLS_HANDSHAKE_TIMEOUT",
]);

const RESET = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "UND_ERR_SOCKET", "UND_ERR_CLOSED", "UND_ERR_DESTROYED"]);
const BAD_RESPONSE = new Set(["UND_ERR_HEADERS_OVERFLOW", "UND_ERR_RES_CONTENT_LENGTH_MISMATCH", "UND_ERR_RESPONSE", "UND_ERR_INFO"]);

/** Yamux failures as the data plane reports them: the session going away is the agent going away. */
const YAMUX_AS: Partial<Record<ErrorCode, ErrorCode>> = {
  yamux_session_closed: "agent_disconnected",
  yamux_keepalive_timeout: "agent_disconnected",
  yamux_socket_error: "agent_disconnected",
  yamux_go_away: "agent_disconnected",
  yamux_ping_timeout: "agent_disconnected",
  yamux_stream_reset: "upstream_reset",
  yamux_protocol_error: "tunnel_protocol_error",
  yamux_backlog_full: "agent_dial_failed",
  yamux_too_many_streams: "agent_dial_failed",
  yamux_streams_exhausted: "agent_dial_failed",
};

const CONNECT_PHASE: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["upstream_connect_failed", "agent_dial_failed", "agent_dial_timeout", "agent_denied"]);

function codeOf(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const c = (e as { code?: unknown }).code;
  return typeof c === "string" ? c : undefined;
}

function mapped(code: ErrorCode, phase: "connect" | "exchange"): MappedError {
  return { code, phase, known: true };
}

/**
 * Maps one failure. Looks through up to four levels of `cause` (undici wraps socket errors, the
 * registry wraps Yamux errors). Unknown errors are internal_error: a bug in Warren, to be logged.
 */
export function mapError(err: unknown): MappedError {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== undefined && e !== null; depth++) {
    if (e instanceof WarrenError) {
      const code = e.code as ErrorCode;
      const as = YAMUX_AS[code];
      if (as !== undefined) return mapped(as, as === "agent_dial_failed" ? "connect" : "exchange");
      // E.g. a TunnelError from openStream, or Warren's own connect timer: nothing was sent.
      if (e instanceof ConnectPhaseError) return mapped(code, "connect");
      return mapped(code, CONNECT_PHASE.has(code) ? "connect" : "exchange");
    }
    // undici's llhttp errors: a response that is not HTTP (it may carry no code at all).
    if ((e as { name?: unknown }).name === "HTTPParserError") return mapped("upstream_bad_response", "exchange");
    const c = codeOf(e);
    if (c !== undefined) {
      if (c === "UND_ERR_CONNECT_TIMEOUT" || c === "ETIMEDOUT") return mapped("upstream_timeout", "connect");
      if (CONNECT_FAILED.has(c) || c.startsWith("ERR_SSL_")) return mapped("upstream_connect_failed", "connect");
      if (c === "UND_ERR_HEADERS_TIMEOUT" || c === "UND_ERR_BODY_TIMEOUT") return mapped("upstream_timeout", "exchange");
      if (RESET.has(c)) return mapped("upstream_reset", "exchange");
      if (BAD_RESPONSE.has(c) || c.startsWith("HPE_")) return mapped("upstream_bad_response", "exchange");
    }
    e = (e as { cause?: unknown }).cause;
  }
  return { code: "internal_error", phase: "exchange", known: false };
}

/** A failure as a WarrenError with its mapped code, keeping the original as `cause` for logs. */
export function toWarrenError(err: unknown): WarrenError {
  if (err instanceof WarrenError) return err;
  return new WarrenError(mapError(err).code, err instanceof Error ? err.message : String(err), { cause: err });
}

/**
 * What a `clientError` from node:http means for the client (the listener answers it, then closes).
 * Undefined for errors that need no answer (the socket is already gone).
 */
export function clientErrorCode(err: unknown): ErrorCode | undefined {
  const c = codeOf(err);
  if (c === "ECONNRESET" || c === "EPIPE") return undefined;
  if (c === "HPE_HEADER_OVERFLOW") return "header_too_large";
  if (c === "ERR_HTTP_REQUEST_TIMEOUT" || c === "HPE_HEADERS_TIMEOUT") return "request_timeout";
  if (c === "HPE_UNEXPECTED_CONTENT_LENGTH" || c === "HPE_INVALID_TRANSFER_ENCODING" || c === "HPE_INVALID_CONTENT_LENGTH") return "bad_framing";
  if (c === "HPE_INVALID_HEADER_TOKEN") return "bad_header";
  return "bad_request";
}
