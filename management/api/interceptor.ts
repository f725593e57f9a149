import { ConnectError, Code, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { ApiError, toConnectError as fromWarrenError } from "../errors.ts";
import { WarrenError } from "../../lib/errors.ts";
import type { Authenticator } from "../auth/authenticator.ts";
import { policyFor, type MethodPolicy } from "../auth/method-access.ts";
import type { Principal } from "../auth/principal.ts";
import type { AuditRepo } from "../store/audit-repo.ts";
import { kAuditTarget, kPeer, kPrincipal } from "./context.ts";

function authorize(policy: MethodPolicy, p: Principal | undefined): void {
  if (policy.access === "public" || policy.access === "agent") return;
  if (!p) throw new ApiError("unauthenticated", "authentication required: log in or send Authorization: Bearer wrn_…");
  if (policy.access === "admin" && p.role !== "admin") throw new ApiError("permission_denied", "this method requires the admin role");
}

/** Maps any thrown value to the ConnectError a client sees. Unknown errors are logged and hidden. */
function toConnectError(e: unknown, log: Logger, procedure: string): ConnectError {
  if (e instanceof WarrenError) {
    if (e.code === "internal_error") log.error({ err: e, procedure }, "internal error in API handler");
    return fromWarrenError(e);
  }
  if (e instanceof ConnectError) return e;
  log.error({ err: e, procedure }, "unexpected error in API handler");
  return new ConnectError("internal error", Code.Internal);
}

/** A stale or bad credential must not block public methods such as Login. */
function authenticateCaller(d: InterceptorDeps, header: Headers, policy: MethodPolicy): Principal | undefined {
  try {
    return d.authenticator.authenticate({ authorization: header.get("authorization"), cookie: header.get("cookie") }, d.now());
  } catch (e) {
    if (policy.access === "public") return undefined;
    throw e;
  }
}

export interface InterceptorDeps {
  readonly authenticator: Authenticator;
  readonly audit: AuditRepo;
  readonly now: () => number;
  readonly log: Logger;
}

/**
 * The one place every RPC passes: authenticate, authorize by the method table, write the audit
 * row for writes (success or failure, never secret values), and map errors at the edge.
 */
export function apiInterceptor(d: InterceptorDeps): Interceptor {
  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const policy = policyFor(req.service.typeName, req.method.name);
    const peer = req.contextValues.get(kPeer);
    const target = { id: "" };
    req.contextValues.set(kAuditTarget, target);
    let principal: Principal | undefined;
    let outcome = "ok";
    try {
      // Agent methods carry agent credentials, which the handler checks itself.
      if (policy.access !== "agent") principal = authenticateCaller(d, req.header, policy);
      authorize(policy, principal);
      req.contextValues.set(kPrincipal, principal);
      return await next(req);
    } catch (e) {
      const ce = toConnectError(e, d.log, procedure);
      outcome = e instanceof WarrenError ? e.code : Code[ce.code].replace(/[A-Z]/g, (c, i: number) => (i ? "_" : "") + c.toLowerCase());
      throw ce;
    } finally {
      if (policy.audited) {
        const msg = req.stream ? undefined : (req.message as { username?: unknown });
        d.audit.insert({
          at: d.now(),
          actor_kind: principal ? (principal.kind === "token" ? "token" : "user") : policy.access === "agent" ? "agent" : "anonymous",
          actor_id: principal ? (principal.tokenId ?? principal.user.id) : policy.access === "agent" ? target.id : "",
          actor_name: principal ? principal.user.username : typeof msg?.username === "string" ? msg.username.slice(0, 64) : "",
          method: procedure,
          target_id: target.id,
          outcome,
          peer_ip: peer.ip,
          detail: "",
        });
      }
    }
  };
}
