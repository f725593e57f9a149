// Warren's own connect and response-header timers for one upstream attempt. undici's timers have a
// one-second resolution (lib/util/timers.js), so a 1.5 s timeout could fire at 2.5 s; these fire
// when they are due (one setTimeout each, to the event loop's precision).
import type { Dispatcher } from "undici";
import { ConnectPhaseError, WarrenError, type ErrorCode } from "../../lib/errors.ts";

type Headers = Record<string, string | string[] | undefined>;

export interface Deadlines {
  /** From dispatch until the connection (or tunnel stream) is there and the request is written. */
  readonly connectMs: number;
  /** From then until the final response head (or the 101). */
  readonly headersMs: number;
  /** What a connect timeout is reported as: upstream_timeout direct, agent_dial_timeout via an agent. */
  readonly connectCode: ErrorCode;
}

/**
 * Decorates the handler of one attempt with both deadlines. A connect timeout settles the attempt
 * at once (a ConnectPhaseError: nothing reached the upstream, so it may be retried); the connection
 * undici is still making is aborted as soon as it reports in. A header timeout aborts the exchange.
 */
export class DeadlineHandler implements Dispatcher.DispatchHandler {
  private timer: NodeJS.Timeout | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  /** Set once this decorator failed the attempt itself; later callbacks are swallowed. */
  private expired: Error | undefined;

  constructor(
    private readonly next: Dispatcher.DispatchHandler,
    private readonly d: Deadlines,
  ) {
    if (d.connectMs > 0) this.timer = setTimeout(this.onConnectTimeout, d.connectMs);
  }

  private readonly onConnectTimeout = (): void => {
    this.timer = undefined;
    this.expired = new ConnectPhaseError(this.d.connectCode, `no connection to the upstream within ${this.d.connectMs} ms`);
    this.next.onResponseError?.(this.controller as Dispatcher.DispatchController, this.expired);
  };

  private readonly onHeadersTimeout = (): void => {
    this.timer = undefined;
    this.controller?.abort(new WarrenError("upstream_timeout", `no response head from the upstream within ${this.d.headersMs} ms`));
  };

  private clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.controller = controller;
    if (this.expired) return void controller.abort(this.expired);
    this.clear();
    if (this.d.headersMs > 0) this.timer = setTimeout(this.onHeadersTimeout, this.d.headersMs);
    this.next.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: Headers, socket: import("node:stream").Duplex): void {
    this.clear();
    if (this.expired) return void socket.destroy();
    this.next.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Headers, statusMessage?: string): void {
    if (this.expired) return;
    if (statusCode >= 200) this.clear();
    this.next.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.expired) return;
    this.next.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Headers): void {
    this.clear();
    if (this.expired) return;
    this.next.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.clear();
    if (this.expired) return;
    this.next.onResponseError?.(controller, error);
  }
}
