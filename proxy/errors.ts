// The data plane's error table: every way a public request can fail, with its stable code, its HTTP
// status and the one sentence a client may see. Events and logs record the code; `cause` stays in logs.
import { STATUS_CODES } from "node:http";

interface Entry {
  readonly status: number;
  /** Shown to clients; never carries internal detail (addresses, agent names, stack traces). */
  readonly message: string;
}

const TABLE = {
  // 400: request hygiene (proxy/hygiene.ts) and malformed messages.
  bad_request: { status: 400, message: "The request is malformed." },
  bad_request_target: { status: 400, message: "The request target is malformed." },
  path_dot_segment: { status: 400, message: "The request path contains a dot segment." },
  path_backslash: { status: 400, message: "The request path contains a backslash." },
  path_encoded_separator: { status: 400, message: "The request path contains an encoded path separator." },
  path_bad_encoding: { status: 400, message: "The request path contains invalid percent-encoding." },
  target_control_char: { status: 400, message: "The request target contains a control character." },
  absolute_uri_host_mismatch: { status: 400, message: "The request target names a different host than the Host header." },
  missing_host: { status: 400, message: "The Host header is missing." },
  duplicate_host: { status: 400, message: "The request has more than one Host header." },
  bad_host: { status: 400, message: "The Host header is not a valid host name." },
  bad_framing: { status: 400, message: "The request framing headers (Content-Length, Transfer-Encoding) are invalid or ambiguous." },
  bad_header: { status: 400, message: "A request header is malformed." },
  // Routing.
  route_not_found: { status: 404, message: "No route matches this request." },
  method_not_allowed: { status: 405, message: "This method is not allowed for this resource." },
  // Limits and timeouts on the client side.
  request_timeout: { status: 408, message: "The request was not received in time." },
  body_too_large: { status: 413, message: "The request body is too large." },
  header_too_large: { status: 431, message: "The request headers are too large." },
  internal_error: { status: 500, message: "The gateway failed to handle the request." },
  // Upstream failures.
  upstream_connect_failed: { status: 502, message: "The upstream server could not be reached." },
  upstream_reset: { status: 502, message: "The upstream server closed the connection unexpectedly." },
  upstream_bad_response: { status: 502, message: "The upstream server sent an invalid response." },
  agent_disconnected: { status: 502, message: "The agent serving this route disconnected." },
  agent_dial_failed: { status: 502, message: "The agent could not reach the upstream server." },
  agent_denied: { status: 502, message: "The agent refused to reach the upstream server." },
  no_healthy_target: { status: 503, message: "No healthy upstream is available." },
  upstream_timeout: { status: 504, message: "The upstream server did not answer in time." },
  agent_dial_timeout: { status: 504, message: "The agent did not reach the upstream server in time." },
} as const satisfies Record<string, Entry>;

export type ProxyErrorCode = keyof typeof TABLE;

export function isProxyErrorCode(s: string): s is ProxyErrorCode {
  return Object.hasOwn(TABLE, s);
}

export function statusOf(code: ProxyErrorCode): number {
  return TABLE[code].status;
}

/** The public one-line explanation for a code. */
export function publicMessage(code: ProxyErrorCode): string {
  return TABLE[code].message;
}

/** Every code, for tests and docs. */
export const PROXY_ERROR_CODES: readonly ProxyErrorCode[] = Object.freeze(Object.keys(TABLE) as ProxyErrorCode[]);

export class ProxyError extends Error {
  override name = "ProxyError";
  readonly status: number;
  constructor(
    readonly code: ProxyErrorCode,
    /** For logs only; clients get publicMessage(code). Defaults to it. */
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(message ?? TABLE[code].message, options);
    this.status = TABLE[code].status;
  }
}

export interface ErrorPage {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/**
 * A small error page for a client: JSON when Accept prefers `application/json` (or any `+json`
 * type) over `text/html`, HTML otherwise (ties and a missing Accept go to HTML). Carries the code,
 * the public message and the request id; never internal details.
 */
export function renderErrorPage(code: ProxyErrorCode, requestId: string, accept: string | undefined): ErrorPage {
  const { status, message } = TABLE[code];
  if (prefersJson(accept)) {
    return {
      status,
      contentType: "application/json; charset=utf-8",
      body: JSON.stringify({ error: { code, status, message, request_id: requestId } }),
    };
  }
  const reason = STATUS_CODES[status] ?? "Error";
  const title = `${status} ${reason}`;
  const body =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${title}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}` +
    `code{background:#f2f2f2;padding:.1rem .3rem;border-radius:3px}small{color:#666}</style></head><body>` +
    `<h1>${title}</h1><p>${escapeHtml(message)}</p>` +
    `<p><small>Error <code>${code}</code> · request id <code>${escapeHtml(requestId)}</code></small></p>` +
    `<p><small>Warren</small></p></body></html>\n`;
  return { status, contentType: "text/html; charset=utf-8", body };
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * RFC 9110 §12.5.1 in miniature: the q of the most specific range that matches each candidate.
 * Only HTML vs JSON is decided, so the parse is a single pass with no allocation beyond split.
 */
function prefersJson(accept: string | undefined): boolean {
  if (!accept || !/json|application\/\*/i.test(accept)) return false;
  let htmlQ = -1;
  let htmlSpec = -1;
  let jsonQ = -1;
  let jsonSpec = -1;
  for (const part of accept.split(",")) {
    const semi = part.indexOf(";");
    const type = (semi < 0 ? part : part.slice(0, semi)).trim().toLowerCase();
    let q = 1;
    if (semi >= 0) {
      const m = /(?:^|;)\s*q\s*=\s*([0-9.]+)/i.exec(part.slice(semi));
      if (m) {
        const v = Number(m[1]);
        q = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
      }
    }
    let hs = -1;
    let js = -1;
    if (type === "text/html") hs = 2;
    else if (type === "text/*") hs = 1;
    else if (type === "*/*") hs = js = 0;
    if (type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"))) js = 2;
    else if (type === "application/*") js = 1;
    if (hs > htmlSpec) {
      htmlSpec = hs;
      htmlQ = q;
    }
    if (js > jsonSpec) {
      jsonSpec = js;
      jsonQ = q;
    }
  }
  return jsonQ > 0 && jsonQ > htmlQ;
}
