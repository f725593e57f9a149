// Stage 2, client identity: the TCP peer (or the PROXY protocol source), or the right-most untrusted
// X-Forwarded-For entry when the peer is a trusted proxy (proxy/client-ip.ts has the rules).
import { clientIp, type TrustedProxies } from "../client-ip.ts";
import type { Stage, StageResult } from "../stage.ts";
import type { RequestContext } from "../context.ts";

export function clientIdentity(trusted: TrustedProxies): Stage {
  return {
    name: "client_identity",
    run(ctx: RequestContext): StageResult {
      if (!trusted.isEmpty) ctx.clientIp = clientIp(ctx.peer, ctx.req.headers["x-forwarded-for"], trusted);
      return undefined;
    },
  };
}
