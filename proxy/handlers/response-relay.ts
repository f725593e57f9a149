import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import { statusLine } from "../../lib/http-status.ts";
import { splice, type SplicePipes } from "../../lib/splice.ts";
import { buildDownstreamResponseHeaders, flatHeaders } from "../headers.ts";
import type { RequestContext } from "../context.ts";

type Headers = Record<string, string | string[] | undefined>;

/**
 * How one upstream attempt ended: ok once the response was relayed (or the upgrade spliced), or the
 * failure, with how far the exchange got. `requestStarted` false: undici never handed the request to
 * a connection, so nothing reached the upstream whatever the error says (e.g. the pool was
 * destroyed while the request waited for a connection).
 */
export type RelayResult = { readonly ok: true } | { readonly ok: false; readonly error: Error; readonly requestStarted: boolean; readonly responseStarted: boolean };

/** Streams a spliced upgrade's two directions pass through for this request (the upgrade shaper). */
export type SpliceTransform = (ctx: RequestContext) => SplicePipes | undefined;

/** Every transform's pipes for this request, client → upstream and upstream → client, in list order. */
function splicePipes(ctx: RequestContext, transforms: readonly SpliceTransform[]): SplicePipes | undefined {
  let out: { aToB: SplicePipes["aToB"]; bToA: SplicePipes["bToA"] } | undefined;
  for (const t of transforms) {
    const p = t(ctx);
    if (p === undefined) continue;
    out = out === undefined ? { aToB: p.aToB, bToA: p.bToA } : { aToB: [...out.aToB, ...p.aToB], bToA: [...out.bToA, ...p.bToA] };
  }
  return out;
}

/**
 * The terminal undici dispatch handler: writes the upstream response straight into the client's
 * response (a ServerResponse, or a raw writer for requests that came as bare sockets) with no
 * intermediate Readable or stream.pipeline per request. Backpressure: a full client socket pauses
 * the upstream connection until it drains. For an allowed upgrade, a 101 is spliced through; any
 * other answer to it is relayed like a normal response.
 */
export class ResponseRelay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private abortReason: Error | undefined;
  private requestStarted = false;
  private started = false;
  private settled = false;
  private readonly onDrain = () => this.controller?.resume();

  constructor(
    private readonly ctx: RequestContext,
    private readonly settle: (r: RelayResult) => void,
    private readonly spliceTransforms: readonly SpliceTransform[] = [],
  ) {}

  /** The client went away: stop the upstream exchange. */
  abort(reason: Error): void {
    if (this.controller) this.controller.abort(reason);
    else this.abortReason = reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.requestStarted = true;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Headers): void {
    const ctx = this.ctx;
    const route = ctx.route!;
    if (statusCode < 200) {
      // 100 is the proxy's business (undici absorbs it); 103 Early Hints reach HTTP/1.1 clients.
      if (statusCode === 103 && ctx.req.httpVersion === "1.1" && headers.link !== undefined) ctx.res.writeEarlyHints(headers as Record<string, string | string[]>);
      return;
    }
    const out = buildDownstreamResponseHeaders(flatHeaders(headers), { rules: route.responseRules, via: route.addVia ? "warren" : false });
    out.push("x-request-id", ctx.id);
    if (ctx.setCookie !== undefined) out.push("set-cookie", ctx.setCookie);
    if (ctx.rateLimitHeaders !== undefined) out.push(...ctx.rateLimitHeaders);
    ctx.status = statusCode;
    ctx.res.writeHead(statusCode, out);
    this.started = true;
    ctx.res.on("drain", this.onDrain);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // undici hands an empty chunk after each resume; writing it would cost a zero-length write.
    if (chunk.length === 0) return;
    this.ctx.bytesOut += chunk.length;
    if (!this.ctx.res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.ctx.res.off("drain", this.onDrain);
    this.ctx.res.end();
    this.finish({ ok: true });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.started) this.ctx.res.off("drain", this.onDrain);
    this.finish({ ok: false, error, requestStarted: this.requestStarted, responseStarted: this.started });
  }

  /** The origin accepted the upgrade: send the 101 on, then the two sockets are one pipe. */
  onRequestUpgrade(_controller: Dispatcher.DispatchController, statusCode: number, headers: Headers, upstream: Duplex): void {
    const ctx = this.ctx;
    const client = ctx.raw!.socket;
    const out = buildDownstreamResponseHeaders(flatHeaders(headers), { rules: ctx.route!.responseRules, upgrade: true, via: ctx.route!.addVia ? "warren" : false });
    let head = statusLine(statusCode);
    for (let i = 0; i < out.length; i += 2) head += `${out[i]}: ${out[i + 1]}\r\n`;
    if (ctx.setCookie !== undefined) head += `set-cookie: ${ctx.setCookie}\r\n`;
    client.write(`${head}x-request-id: ${ctx.id}\r\n\r\n`, "latin1");
    ctx.status = statusCode;
    this.started = true;
    // Bytes the client sent after the head go back in front of its stream: counted and spliced
    // (through any transforms) like the rest.
    const rest = ctx.raw!.head;
    if (rest.length > 0) client.unshift(rest);
    upstream.on("data", (c: Buffer) => (ctx.bytesOut += c.length));
    client.on("data", (c: Buffer) => (ctx.bytesIn += c.length));
    splice(client, upstream, splicePipes(ctx, this.spliceTransforms));
    // Settled when the spliced connection is over, so in-flight counts and the event cover its life.
    client.once("close", () => this.finish({ ok: true }));
  }

  private finish(r: RelayResult): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(r);
  }
}
