// What stands between a request to the management port and any handler: the authority must be a
// valid host[:port] (connect-node builds a URL from it and throws on garbage), and whatever a handler
// throws or rejects with is answered and logged here, so no request can take `warren serve` down.
import type http from "node:http";
import type http2 from "node:http2";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { parseAuthority } from "../lib/host-name.ts";
import { publicMessage, statusOf, type ErrorCode } from "../lib/errors.ts";
import { rawResponse } from "../lib/http-status.ts";

export type ManagementRequest = http.IncomingMessage | http2.Http2ServerRequest;
export type ManagementResponse = http.ServerResponse | http2.Http2ServerResponse;

type AuthorityProblem = Extract<ErrorCode, "missing_host" | "duplicate_host" | "bad_host">;

/**
 * Why the request's authority is unusable, or undefined when it is fine. HTTP/2 carries it in
 * `:authority` (connect-node reads only that one there); HTTP/1 in exactly one Host header.
 */
export function authorityProblem(req: ManagementRequest | http.IncomingMessage): AuthorityProblem | undefined {
  let value: string | undefined;
  if (req.httpVersionMajor >= 2) {
    const a = req.headers[":authority"];
    value = typeof a === "string" ? a : undefined;
  } else {
    let hosts = 0;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === "host") hosts++;
    if (hosts > 1) return "duplicate_host";
    value = req.headers.host;
  }
  if (value === undefined || value === "") return "missing_host";
  if (parseAuthority(value) === undefined) return "bad_host";
  // A valid DNS name can still be one the WHATWG URL parser refuses: a last label of digits makes
  // it an IPv4 address ("999.999.999.999", "a.123", "4294967296"). connect-node builds a URL from
  // the authority and would throw (a 500), so the URL parser has the last word.
  return URL.canParse(`https://${value}`) ? undefined : "bad_host";
}

function errorBody(code: ErrorCode): string {
  return JSON.stringify({ code, message: publicMessage(code) });
}

/** Answers a refused request with the table's status and a `{code, message}` body. */
export function answerError(res: ManagementResponse, code: ErrorCode): void {
  const body = errorBody(code);
  res.writeHead(statusOf(code), { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** The same on a bare upgrade socket. */
export function answerErrorOnSocket(socket: Duplex, code: ErrorCode): void {
  socket.end(rawResponse(statusOf(code), ["content-type", "application/json"], errorBody(code)));
}

/** The path without its query: the setup URL carries a token there, and logs never hold one. */
function pathOf(url: string | undefined): string {
  return (url ?? "").split("?", 1)[0]!.slice(0, 200);
}

/**
 * Wraps a request listener as the last resort: a synchronous throw or a rejected promise is logged at
 * error level and answered 500 `internal_error` when no header was sent yet, else the response is
 * destroyed (the client sees a cut, never a half answer passed off as whole).
 */
export function guardRequests(
  handler: (req: ManagementRequest, res: ManagementResponse) => void | Promise<void>,
  log: Logger,
): (req: ManagementRequest, res: ManagementResponse) => void {
  return (req, res) => {
    const fail = (err: unknown): void => {
      log.error({ err, method: req.method, path: pathOf(req.url) }, "management request failed");
      try {
        if (res.headersSent) res.destroy();
        else answerError(res, "internal_error");
      } catch {
        res.destroy();
      }
    };
    try {
      const result = handler(req, res);
      if (result !== undefined) result.then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  };
}

/** The same for upgrade requests: 500 while nothing was written to the socket, else it is destroyed. */
export function guardUpgrades(
  handler: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void | Promise<void>,
  log: Logger,
): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const fail = (err: unknown): void => {
      log.error({ err, method: req.method, path: pathOf(req.url) }, "management upgrade request failed");
      const written = (socket as Duplex & { bytesWritten?: number }).bytesWritten;
      try {
        if (written === 0 && socket.writable) answerErrorOnSocket(socket, "internal_error");
        else socket.destroy();
      } catch {
        socket.destroy();
      }
    };
    try {
      const result = handler(req, socket, head);
      if (result !== undefined) result.then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  };
}
