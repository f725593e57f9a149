import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Principal } from "../auth/principal.ts";
import { ApiError } from "../errors.ts";

export interface Peer {
  readonly ip: string;
  readonly userAgent: string;
}

/** Filled from the Node request before any handler runs. */
export const kPeer = createContextKey<Peer>({ ip: "", userAgent: "" }, { description: "peer" });
/** Set by the auth interceptor; undefined only on public methods. */
export const kPrincipal = createContextKey<Principal | undefined>(undefined, { description: "principal" });
/** A mutable slot a handler fills with the id it acted on, for the audit row. */
export const kAuditTarget = createContextKey<{ id: string }>({ id: "" }, { description: "audit target" });

export function principalOf(ctx: HandlerContext): Principal {
  const p = ctx.values.get(kPrincipal);
  if (!p) throw new ApiError("unauthenticated", "authentication required");
  return p;
}

export function setAuditTarget(ctx: HandlerContext, id: string): void {
  ctx.values.get(kAuditTarget).id = id;
}
