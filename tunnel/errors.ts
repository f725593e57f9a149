import { ConnectPhaseError, type ErrorCode } from "../lib/errors.ts";

/** Why a stream through an agent could not be opened (lib/errors.ts maps these to 502/504). */
export type TunnelErrorCode = Extract<ErrorCode, "agent_disconnected" | "agent_dial_failed" | "agent_dial_timeout" | "agent_denied">;

const CODES: ReadonlySet<string> = new Set<TunnelErrorCode>(["agent_disconnected", "agent_dial_failed", "agent_dial_timeout", "agent_denied"]);

/** Raised by openStream only, so always before anything reached the origin. */
export class TunnelError extends ConnectPhaseError<TunnelErrorCode> {
  override name = "TunnelError";
}

export function isTunnelErrorCode(s: string): s is TunnelErrorCode {
  return CODES.has(s);
}
