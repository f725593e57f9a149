// The data plane's errors: codes from Warren's one table (lib/errors.ts), and the small page a
// client sees for one. Events and logs record the code; `cause` stays in logs.
import { errorEntry, type ErrorCode } from "../lib/errors.ts";
import { reasonPhrase } from "../lib/http-status.ts";

export { WarrenError, isErrorCode, publicMessage, statusOf, type ErrorCode } from "../lib/errors.ts";

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
export function renderErrorPage(code: ErrorCode, requestId: string, accept: string | undefined): ErrorPage {
  const { status, message } = errorEntry(code);
  if (prefersJson(accept)) {
    return {
      status,
      contentType: "application/json; charset=utf-8",
      body: JSON.stringify({ error: { code, status, message, request_id: requestId } }),
    };
  }
  const reason = reasonPhrase(status);
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
