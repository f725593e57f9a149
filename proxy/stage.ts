// The contract every stage in proxy/stages/ implements (DESIGN.md §5).
import type { ErrorCode } from "../lib/errors.ts";
import type { RequestContext } from "./context.ts";

/** Answer the request with this error code's page, plus extra headers (flat [name, value, ...]). */
export interface Answer {
  readonly code: ErrorCode;
  readonly headers?: readonly string[];
}

/** The stage wrote (or will write) the response itself: static answers, redirects, forwarding. */
export const TAKEN = Symbol("taken");

/** undefined: go on to the next stage. */
export type StageResult = undefined | Answer | typeof TAKEN;

export interface Stage {
  readonly name: string;
  run(ctx: RequestContext): StageResult | Promise<StageResult>;
}

export function answer(code: ErrorCode, headers?: readonly string[]): Answer {
  return headers === undefined ? { code } : { code, headers };
}
