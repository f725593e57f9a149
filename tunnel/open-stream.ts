// Both halves of opening a data stream (DESIGN.md §4 step 4): the gateway sends a length-prefixed
// OpenStream and waits for OpenResult; the agent reads OpenStream, dials, and answers OpenResult.
// After an ok result the stream carries raw bytes both ways.
import type { Duplex } from "node:stream";
import { TunnelProtocolError, readMessage, writeMessage } from "./messages.ts";
import { OPEN_RESULT, OPEN_STREAM, type OpenStreamMessage } from "./message-codecs.ts";
import { TunnelError, isTunnelErrorCode, type TunnelErrorCode } from "./errors.ts";

/** What the gateway asks the agent to dial. */
export interface OpenRequest {
  /** host:port the agent dials ([v6]:port for IPv6 literals). */
  readonly address: string;
  readonly sni?: string | undefined;
  /** The request that made the gateway open this stream, for the agent's logs. */
  readonly requestId: string;
  /** How long the agent may take to connect (the route's connect timeout); 0 = the agent's default. */
  readonly dialTimeoutMs?: number | undefined;
}

/**
 * Gateway half: sends OpenStream and waits up to `timeoutMs` for OpenResult. Rejects with a
 * TunnelError (agent_denied, agent_dial_failed, agent_dial_timeout), or with TunnelProtocolError when
 * the answer is malformed; the caller destroys the stream.
 * `closed()` tells a session that died meanwhile (agent_disconnected) from a slow agent.
 */
export async function requestOpen(stream: Duplex, req: OpenRequest, timeoutMs: number, closed: () => boolean): Promise<void> {
  writeMessage(stream, OPEN_STREAM, { address: req.address, tlsSni: req.sni ?? "", requestId: req.requestId, dialTimeoutMs: req.dialTimeoutMs ?? 0 });
  let result;
  try {
    result = await readMessage(stream, OPEN_RESULT, timeoutMs);
  } catch (e) {
    if (closed()) throw new TunnelError("agent_disconnected", "the agent disconnected before answering the stream", { cause: e });
    // A malformed answer is the agent breaking the protocol: the caller ends the whole session.
    if (e instanceof TunnelProtocolError && e.failure === "malformed") throw e;
    if (e instanceof TunnelProtocolError && e.failure === "timeout") {
      throw new TunnelError("agent_dial_timeout", `the agent did not connect within ${timeoutMs} ms`, { cause: e });
    }
    throw new TunnelError("agent_dial_failed", "the agent closed the stream without answering", { cause: e });
  }
  if (!result.ok) {
    const code = isTunnelErrorCode(result.errorKind) ? result.errorKind : "agent_dial_failed";
    throw new TunnelError(code, result.message || code);
  }
}

/** Agent half: the OpenStream that starts every data stream. Rejects with TunnelProtocolError. */
export function readOpen(stream: Duplex, timeoutMs: number): Promise<OpenStreamMessage> {
  return readMessage(stream, OPEN_STREAM, timeoutMs);
}

/** Agent half: the answer; after `ok` the stream carries raw bytes. */
export function answerOpen(stream: Duplex, result: { ok: true } | { ok: false; errorKind: TunnelErrorCode; message: string }): void {
  writeMessage(stream, OPEN_RESULT, result.ok ? { ok: true, errorKind: "", message: "" } : { ok: false, errorKind: result.errorKind, message: result.message });
}
