// Response-side handler decorators (undici's lib/interceptor/* and `compose` are the model): each
// wraps the next DispatchHandler, and the terminal one — ResponseRelay — writes the client response.
// Shaping, cache tees and metrics join as decorators here, never as branches inside the relay.
import type { Dispatcher } from "undici";
import type { RequestContext } from "../context.ts";

export type HandlerDecorator = (next: Dispatcher.DispatchHandler, ctx: RequestContext) => Dispatcher.DispatchHandler;

/** decorators[0] sees every callback first; the terminal handler last. */
export function composeHandlers(decorators: readonly HandlerDecorator[], terminal: Dispatcher.DispatchHandler, ctx: RequestContext): Dispatcher.DispatchHandler {
  let h = terminal;
  for (let i = decorators.length - 1; i >= 0; i--) h = decorators[i]!(h, ctx);
  return h;
}
