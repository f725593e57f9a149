import type { RequestEvent } from "../../proxy/observe/request-event.ts";

/** Messages to the event-store worker; it handles them in order. */
export type ToEventStore =
  /** Answered with "synced" once written, or "failed". */
  | { readonly op: "insert"; readonly id: number; readonly events: readonly RequestEvent[] }
  | { readonly op: "prune"; readonly id: number; readonly before: number; readonly maxRows: number }
  /** Answered once everything sent before it is written. */
  | { readonly op: "sync"; readonly id: number }
  | { readonly op: "close" };

export type FromEventStore =
  | { readonly op: "pruned"; readonly id: number; readonly deleted: number }
  | { readonly op: "synced"; readonly id: number }
  | { readonly op: "failed"; readonly id: number; readonly what: string; readonly lost: number; readonly message: string };
