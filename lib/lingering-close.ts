import type http from "node:http";

/** How long a connection answered before its request body ended keeps reading (and discarding). */
export const LINGER_MS = 2_000;

/**
 * For an HTTP/1.1 request answered before its whole body arrived (a size limit, a refusal): the
 * connection is mid-request, so it is not reused. Closing it outright would reset it while the client
 * is still sending, and the client would see EPIPE/ECONNRESET instead of the answer. Like nginx's
 * lingering close: once the response is out, stop writing (FIN), let Node discard what still arrives,
 * and close when the client does or after `lingerMs`.
 *
 * Call it before answering; it does nothing for requests whose body was read in full.
 */
export function lingerAfterEarlyAnswer(req: http.IncomingMessage, res: http.ServerResponse, lingerMs = LINGER_MS): void {
  // Captured now: the request lets go of its socket once the response is done.
  const socket = req.socket;
  // An answer that starts while the body is still arriving says `Connection: close`: the client must
  // not read the FIN that follows as "other side closed" on a connection it thinks stays open (undici
  // does exactly that, and fails the request instead of returning the answer). Node has no hook
  // before the head is written, so the one writeHead of this response is wrapped. For such a
  // response Node would destroy the socket once its FIN is out (destroySoon), cutting the lingering
  // read short and resetting the client mid-upload: the socket only ends, and lingers below.
  const writeHead = res.writeHead;
  res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
    if (!req.complete) {
      this.shouldKeepAlive = false;
      socket.destroySoon = function (this: typeof socket) {
        this.end();
      };
    }
    return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
  } as typeof res.writeHead;
  res.once("finish", () => {
    if (req.complete) return;
    socket.end();
    // A body that was being piped upstream is no longer consumed: discard the rest ourselves.
    req.unpipe();
    req.resume();
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  });
}
