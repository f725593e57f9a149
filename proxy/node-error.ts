// Translates what undici, node:net/tls and the tunnel throw into the data plane's error codes, in one
// place, and says whether the failure happened before any byte reached the upstream (so an
// idempotent request may be retried on another target, and passive health may eject the target).
import { isTunnelErrorCode } from "../tunnel/errors.ts";
import { ProxyError, type ProxyErrorCode } from "./errors.ts";

export interface UpstreamFailure {
  readonly code: ProxyErrorCode;
  /** The connection (TCP, TLS or tunnel stream) was never established: nothing was sent upstream. */
  readonly connectPhase: boolean;
  /** A timeout or connect failure: what passive health counts (client aborts never are). */
  readonly countsForHealth: boolean;
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
const BAD_RESPONSE = new Set(["UND_ERR_HEADERS_OVERFLOW", "UND_ERR_RES_CONTENT_LENGTH_MISMATCH", "UND_ERR_RESPONSE", "HPE_INVALID_CONSTANT"]);

function codeOf(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const c = (e as { code?: unknown }).code;
  return typeof c === "string" ? c : undefined;
}

/** Classifies one upstream failure. Looks through up to three levels of `cause`. */
export function classifyUpstreamError(err: unknown): UpstreamFailure {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e !== undefined && e !== null; depth++) {
    if (e instanceof ProxyError) return { code: e.code, connectPhase: false, countsForHealth: false };
    const c = codeOf(e);
    if (c !== undefined) {
      if (isTunnelErrorCode(c) && (e as Error).name === "TunnelError") {
        // The stream through the agent was never opened.
        return { code: c, connectPhase: true, countsForHealth: c !== "agent_denied" };
      }
      if (c === "UND_ERR_CONNECT_TIMEOUT" || c === "ETIMEDOUT") return { code: "upstream_timeout", connectPhase: true, countsForHealth: true };
      if (CONNECT_FAILED.has(c) || c.startsWith("ERR_SSL_")) return { code: "upstream_connect_failed", connectPhase: true, countsForHealth: true };
      if (c === "UND_ERR_HEADERS_TIMEOUT" || c === "UND_ERR_BODY_TIMEOUT") return { code: "upstream_timeout", connectPhase: false, countsForHealth: true };
      if (RESET.has(c)) return { code: "upstream_reset", connectPhase: false, countsForHealth: false };
      if (BAD_RESPONSE.has(c) || c.startsWith("HPE_")) return { code: "upstream_bad_response", connectPhase: false, countsForHealth: false };
    }
    e = (e as { cause?: unknown }).cause;
  }
  return { code: "internal_error", connectPhase: false, countsForHealth: false };
}

/** Wraps any upstream failure as a ProxyError, keeping the original as `cause` for logs. */
export function toProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  const { code } = classifyUpstreamError(err);
  return new ProxyError(code, err instanceof Error ? err.message : String(err), { cause: err });
}

/**
 * What a `clientError` from node:http means for the client (the listener answers it, then closes).
 * Returns undefined for errors that need no answer (the socket is already gone).
 */
export function clientErrorCode(err: unknown): ProxyErrorCode | undefined {
  const c = codeOf(err);
  if (c === "ECONNRESET" || c === "EPIPE") return undefined;
  if (c === "HPE_HEADER_OVERFLOW") return "header_too_large";
  if (c === "ERR_HTTP_REQUEST_TIMEOUT" || c === "HPE_HEADERS_TIMEOUT") return "request_timeout";
  if (c === "HPE_UNEXPECTED_CONTENT_LENGTH" || c === "HPE_INVALID_TRANSFER_ENCODING" || c === "HPE_INVALID_CONTENT_LENGTH") return "bad_framing";
  if (c === "HPE_INVALID_HEADER_TOKEN") return "bad_header";
  return "bad_request";
}
