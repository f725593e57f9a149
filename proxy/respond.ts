// Answering a public request: error pages, static responses and redirects, written to the client's
// ServerResponse or — for requests node:http handed over as a bare socket (upgrades, CONNECT) — to a
// raw HTTP/1.1 writer with the same surface, so every stage answers the same way.
import type http from "node:http";
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { statusLine } from "../lib/http-status.ts";
import type { ErrorCode } from "../lib/errors.ts";
import { renderErrorPage } from "./errors.ts";
import { lingerAfterEarlyAnswer } from "../lib/lingering-close.ts";
import type { RequestContext } from "./context.ts";
import { isHttp2 } from "./http2-compat.ts";
import type { ResponseSink } from "./response-sink.ts";

export type { ResponseSink };

/**
 * An HTTP/1.1 response written straight onto a socket: status line and headers, then the body
 * delimited by closing the connection (a raw socket is never reused). Used for requests that
 * node:http delivered through its `upgrade` or `connect` event.
 */
export class RawResponse extends EventEmitter implements ResponseSink {
  headersSent = false;
  writableFinished = false;

  constructor(private readonly socket: Duplex) {
    super();
    socket.on("drain", () => this.emit("drain"));
    socket.once("finish", () => {
      this.writableFinished = true;
      this.emit("finish");
    });
    socket.once("close", () => this.emit("close"));
  }

  writeHead(status: number, headers: string[]): this {
    let head = statusLine(status);
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (name.length === 10 && name.toLowerCase() === "connection") continue;
      head += `${name}: ${headers[i + 1]}\r\n`;
    }
    this.socket.write(`${head}connection: close\r\n\r\n`, "latin1");
    this.headersSent = true;
    return this;
  }

  write(chunk: Buffer): boolean {
    return this.socket.write(chunk);
  }

  end(chunk?: Buffer | string): this {
    if (chunk !== undefined && chunk.length > 0) this.socket.end(chunk);
    else this.socket.end();
    return this;
  }

  destroy(err?: Error): this {
    this.socket.destroy(err);
    return this;
  }

  writeEarlyHints(hints: Record<string, string | string[]>): void {
    let head = statusLine(103);
    for (const [k, v] of Object.entries(hints)) for (const x of Array.isArray(v) ? v : [v]) head += `${k}: ${x}\r\n`;
    this.socket.write(`${head}\r\n`, "latin1");
  }
}

/**
 * Writes a whole answer that Warren makes itself (error page, static response, redirect). A request
 * whose body is still arriving is not forwarded anywhere: like nginx's lingering close, the
 * connection stops after this answer but keeps reading (and discarding) for a while, so an uploader
 * reads the answer instead of a reset. Malformed requests (400, 431) close at once. `send` writes
 * the body (default: all at once).
 */
export function writeAnswer(ctx: RequestContext, status: number, headers: string[], body: Buffer | string, send: BodyWriter = endWith): void {
  const res = ctx.res;
  ctx.status = status;
  const bodyless = ctx.method === "HEAD" || status === 204 || status === 304;
  const length = typeof body === "string" ? Buffer.byteLength(body) : body.length;
  headers.push("content-length", String(length), "x-request-id", ctx.id);
  if (ctx.setCookie !== undefined) headers.push("set-cookie", ctx.setCookie);
  if (ctx.rateLimitHeaders !== undefined) headers.push(...ctx.rateLimitHeaders);
  // HTTP/2 has neither: the stream ends (and is reset if the body still comes, http2-compat.ts).
  if (ctx.raw === undefined && !isHttp2(ctx.req)) {
    const req = ctx.req;
    if (ctx.hasBody && !req.complete) lingerAfterEarlyAnswer(req, res as http.ServerResponse);
    else if (status === 400 || status === 431) headers.push("connection", "close");
  }
  res.writeHead(status, headers);
  if (bodyless) return void res.end();
  ctx.bytesOut += length;
  send(ctx, body);
}

/** Writes an answer's body and ends the response (static route bodies pass the shaper's writer). */
export type BodyWriter = (ctx: RequestContext, body: Buffer | string) => void;

const endWith: BodyWriter = (ctx, body) => void ctx.res.end(body);

/** Answers with the error page for `code` (HTML or JSON by Accept), plus `extra` headers. */
export function answerError(ctx: RequestContext, code: ErrorCode, extra: readonly string[] = []): void {
  ctx.code = code;
  if (ctx.res.headersSent) {
    ctx.res.destroy();
    return;
  }
  const page = renderErrorPage(code, ctx.id, ctx.req.headers.accept);
  writeAnswer(ctx, page.status, ["content-type", page.contentType, "cache-control", "no-store", ...extra], page.body);
}
