/** Why a stream through an agent could not be opened; the data plane maps these to 502/504. */
export type TunnelErrorCode = "agent_disconnected" | "agent_dial_failed" | "agent_dial_timeout" | "agent_denied";

export class TunnelError extends Error {
  override name = "TunnelError";
  constructor(
    readonly code: TunnelErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isTunnelErrorCode(s: string): s is TunnelErrorCode {
  return s === "agent_disconnected" || s === "agent_dial_failed" || s === "agent_dial_timeout" || s === "agent_denied";
}
