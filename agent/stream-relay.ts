// One data stream opened by management (DESIGN.md §4 step 4): read OpenStream, check the allowlist,
// dial with a 5 s timeout, answer OpenResult, then relay bytes both ways with half-close and backpressure.
import { EventEmitter } from "node:events";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { TunnelErrorCode } from "../tunnel/errors.ts";
import { answerOpen, readOpen } from "../tunnel/open-stream.ts";
import type { IpFamily, PolicyResult } from "./allowlist.ts";

export const DIAL_TIMEOUT_MS = 5_000;
/** The most a gateway may ask for (a route's connect timeout is validated to at most this). */
export const MAX_DIAL_TIMEOUT_MS = 120_000;
/** How long management may take to send OpenStream after opening the stream. */
export const OPEN_STREAM_TIMEOUT_MS = 10_000;
/** After a refusal, how long management gets to close the stream before it is reset. */
const REFUSAL_LINGER_MS = 5_000;

export interface RelayStats {
  readonly activeStreams: number;
  readonly streamsTotal: number;
  readonly dialFailures: number;
  readonly bytesFromOrigins: number;
  readonly bytesToOrigins: number;
}

/** Counters for AgentStats; emits "idle" whenever the last active stream finishes. */
export class RelayCounters extends EventEmitter<{ idle: [] }> {
  active = 0;
  total = 0;
  dialFailures = 0;
  denied = 0;
  private closedFromOrigins = 0;
  private closedToOrigins = 0;
  private readonly sockets = new Set<net.Socket>();

  /** @internal */
  begin(): void {
    this.active++;
    this.total++;
  }

  /** @internal */
  end(): void {
    this.active--;
    if (this.active === 0) this.emit("idle");
  }

  /** @internal */
  track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.closedFromOrigins += socket.bytesRead;
      this.closedToOrigins += socket.bytesWritten;
    });
  }

  snapshot(): RelayStats {
    let from = this.closedFromOrigins;
    let to = this.closedToOrigins;
    for (const s of this.sockets) {
      from += s.bytesRead;
      to += s.bytesWritten;
    }
    return { activeStreams: this.active, streamsTotal: this.total, dialFailures: this.dialFailures, bytesFromOrigins: from, bytesToOrigins: to };
  }
}

export type Connect = (opts: net.NetConnectOpts) => net.Socket;

export interface RelayOptions {
  readonly policy: { check(address: string): Promise<PolicyResult> };
  readonly counters: RelayCounters;
  readonly logger: Logger;
  readonly dialTimeoutMs?: number;
  readonly openStreamTimeoutMs?: number;
  /** net.connect by default; tests inject their own. */
  readonly connect?: Connect;
}

export type RelayOutcome =
  | { readonly kind: "relayed"; readonly address: string; readonly requestId: string }
  | { readonly kind: "refused"; readonly errorKind: TunnelErrorCode; readonly message: string; readonly address: string; readonly requestId: string }
  | { readonly kind: "protocol_error"; readonly message: string };

type DialResult = { ok: true; socket: net.Socket } | { ok: false; kind: "agent_dial_failed" | "agent_dial_timeout"; message: string };

class DialTimeout extends Error {}

function dialOne(connect: Connect, address: string, family: IpFamily, port: number, timeoutMs: number, abort: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port, family: family === "ipv4" ? 4 : 6, allowHalfOpen: true });
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("error", onError);
      abort.removeEventListener("abort", onAbort);
    };
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onAbort = () => onError(new Error("stream closed by management while dialling"));
    const timer = setTimeout(() => {
      cleanup();
      socket.destroy();
      reject(new DialTimeout(`no connection to ${address}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("connect", onConnect);
    socket.once("error", onError);
    abort.addEventListener("abort", onAbort, { once: true });
  });
}

/** Tries each allowed address in order within one overall timeout. Never resolves names. */
async function dial(
  connect: Connect,
  addresses: ReadonlyArray<{ address: string; family: IpFamily }>,
  port: number,
  timeoutMs: number,
  abort: AbortSignal,
): Promise<DialResult> {
  const deadline = Date.now() + timeoutMs;
  let last = "no address";
  for (const a of addresses) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      return { ok: true, socket: await dialOne(connect, a.address, a.family, port, remaining, abort) };
    } catch (e) {
      if (e instanceof DialTimeout) return { ok: false, kind: "agent_dial_timeout", message: e.message };
      const code = (e as NodeJS.ErrnoException).code;
      last = `${a.family === "ipv6" ? `[${a.address}]` : a.address}:${port}: ${code ?? (e as Error).message}`;
      if (abort.aborted) break;
    }
  }
  if (Date.now() >= deadline) return { ok: false, kind: "agent_dial_timeout", message: `no connection within ${timeoutMs} ms (${last})` };
  return { ok: false, kind: "agent_dial_failed", message: `cannot connect to ${last}` };
}

function closed(s: Duplex | net.Socket): Promise<void> {
  return s.closed || s.destroyed ? Promise.resolve() : new Promise((resolve) => s.once("close", () => resolve()));
}

/**
 * Serves one data stream to completion. Never throws; resolves once both the stream and the origin socket
 * are closed. A denied address is never dialled.
 */
export async function relayStream(stream: Duplex, o: RelayOptions): Promise<RelayOutcome> {
  const { counters, logger } = o;
  counters.begin();
  let streamError: Error | undefined;
  stream.on("error", (err) => {
    streamError ??= err;
  });
  try {
    let open;
    try {
      open = await readOpen(stream, o.openStreamTimeoutMs ?? OPEN_STREAM_TIMEOUT_MS);
    } catch (e) {
      const message = (e as Error).message;
      logger.warn({ err: message }, "data stream without a valid OpenStream; resetting it");
      stream.destroy();
      return { kind: "protocol_error", message };
    }
    const address = open.address;
    const requestId = open.requestId.slice(0, 128);
    const log = logger.child({ address: address.slice(0, 300), requestId, ...(open.tlsSni ? { sni: open.tlsSni.slice(0, 255) } : {}) });

    const refuse = async (errorKind: TunnelErrorCode, message: string): Promise<RelayOutcome> => {
      if (!stream.destroyed) {
        answerOpen(stream, { ok: false, errorKind, message });
        stream.end();
        stream.resume(); // whatever management still sends is discarded
        const linger = setTimeout(() => stream.destroy(), REFUSAL_LINGER_MS);
        await closed(stream);
        clearTimeout(linger);
      }
      return { kind: "refused", errorKind, message, address, requestId };
    };

    // One budget covers name resolution and connecting together: the route's connect timeout when the
    // gateway sends one (capped), else 5 s.
    const dialTimeoutMs = open.dialTimeoutMs > 0 ? Math.min(open.dialTimeoutMs, MAX_DIAL_TIMEOUT_MS) : (o.dialTimeoutMs ?? DIAL_TIMEOUT_MS);
    const deadline = Date.now() + dialTimeoutMs;
    let lookupTimer: NodeJS.Timeout | undefined;
    const decision = await Promise.race([
      o.policy.check(address),
      new Promise<PolicyResult | "timeout">((resolve) => {
        lookupTimer = setTimeout(() => resolve("timeout"), dialTimeoutMs);
      }),
    ]);
    clearTimeout(lookupTimer);
    if (decision === "timeout") {
      counters.dialFailures++;
      const message = `${address}: name resolution took longer than ${dialTimeoutMs} ms`;
      log.warn({ kind: "agent_dial_timeout", reason: message }, "dial failed");
      return await refuse("agent_dial_timeout", message);
    }
    if (!decision.ok) {
      if (decision.kind === "agent_denied") {
        counters.denied++;
        log.warn({ reason: decision.message }, "stream denied");
      } else {
        counters.dialFailures++;
        log.warn({ reason: decision.message }, "dial failed");
      }
      return await refuse(decision.kind, decision.message);
    }
    if (stream.destroyed) return { kind: "refused", errorKind: "agent_disconnected", message: "stream closed before dialling", address, requestId };

    const abort = new AbortController();
    const onEarlyClose = () => abort.abort();
    stream.once("close", onEarlyClose);
    const result = await dial(o.connect ?? net.connect, decision.addresses, decision.target.port, Math.max(1, deadline - Date.now()), abort.signal);
    stream.off("close", onEarlyClose);
    if (!result.ok) {
      counters.dialFailures++;
      log.warn({ kind: result.kind, reason: result.message }, "dial failed");
      return await refuse(result.kind, result.message);
    }
    const socket = result.socket;
    counters.track(socket);
    if (stream.destroyed) {
      socket.destroy();
      return { kind: "refused", errorKind: "agent_disconnected", message: "stream closed while dialling", address, requestId };
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    log.debug({ remote: `${socket.remoteAddress}:${socket.remotePort}` }, "stream connected");
    answerOpen(stream, { ok: true });
    await pipeBothWays(stream, socket);
    log.debug({ bytesToOrigin: socket.bytesWritten, bytesFromOrigin: socket.bytesRead, error: streamError?.message }, "stream closed");
    return { kind: "relayed", address, requestId };
  } catch (e) {
    logger.error({ err: e }, "data stream failed");
    stream.destroy();
    return { kind: "protocol_error", message: (e as Error).message };
  } finally {
    counters.end();
  }
}

/**
 * Bytes both ways with pipe(): backpressure (a full socket pauses the stream, whose unread data then
 * holds back the peer's window, and vice versa), end → end half-close in each direction, and an error
 * or abrupt close on either side destroys the other. Resolves when both are closed.
 */
export function pipeBothWays(stream: Duplex, socket: net.Socket): Promise<void> {
  socket.on("error", () => {});
  stream.on("error", () => {});
  stream.pipe(socket); // stream FIN → socket.end()
  socket.pipe(stream); // origin FIN → stream.end()
  stream.once("close", () => {
    // Closed cleanly only once all of its data was read (pipe then ends the socket). Otherwise the origin
    // gets a TCP RST, not a FIN, so it cannot take a cut-off request for a complete one.
    if (!socket.destroyed && (stream.errored || !stream.readableEnded)) socket.resetAndDestroy();
  });
  socket.once("close", () => {
    if (!stream.destroyed && (socket.errored || !socket.readableEnded)) stream.destroy(socket.errored ?? new Error("origin connection closed"));
  });
  return Promise.all([closed(stream), closed(socket)]).then(() => undefined);
}
