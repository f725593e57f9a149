import type http from "node:http";
import type { Dispatcher } from "undici";
import { buildDownstreamResponseHeaders, flatHeaders, type HeaderRules } from "../headers.ts";

type Headers = Record<string, string | string[] | undefined>;

/** How one upstream attempt ended: "done" once the whole response was relayed, or the failure. */
export type RelayResult = { readonly ok: true } | { readonly ok: false; readonly error: Error; readonly responseStarted: boolean };

/**
 * An undici dispatch handler that writes the upstream response straight into the client's
 * `ServerResponse`: no intermediate Readable or stream.pipeline per request (each pipeline costs an
 * AbortController and a DOMException on finish, which dominated the profile). Backpressure: a full
 * client socket pauses the upstream connection until it drains.
 */
export class ResponseRelay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private abortReason: Error | undefined;
  private started = false;
  private settled = false;
  private readonly onDrain = () => this.controller?.resume();

  constructor(
    private readonly res: http.ServerResponse,
    private readonly rules: HeaderRules,
    private readonly requestId: string,
    private readonly counters: { bytesOut: number },
    private readonly settle: (r: RelayResult) => void,
  ) {}

  /** The client went away: stop the upstream exchange. */
  abort(reason: Error): void {
    if (this.controller) this.controller.abort(reason);
    else this.abortReason = reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Headers): void {
    // 1xx informational responses are the proxy's business, not the client's (undici handles 100-continue).
    if (statusCode < 200) return;
    const out = buildDownstreamResponseHeaders(flatHeaders(headers), { rules: this.rules });
    out.push("x-request-id", this.requestId);
    this.res.writeHead(statusCode, out);
    this.started = true;
    this.res.on("drain", this.onDrain);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.counters.bytesOut += chunk.length;
    if (!this.res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.res.off("drain", this.onDrain);
    this.res.end();
    this.finish({ ok: true });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.res.off("drain", this.onDrain);
    this.finish({ ok: false, error, responseStarted: this.started });
  }

  private finish(r: RelayResult): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(r);
  }
}
