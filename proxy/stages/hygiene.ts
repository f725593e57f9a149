// Stage 1, request hygiene (DESIGN.md §5): what is refused before anything else looks at the request.
// The checks themselves are pure functions in proxy/hygiene.ts; this stage applies them and fills
// the context's request fields. Encoded separators are decided by the route stage (per route).
import { checkFraming, checkHostHeader, checkRequestTarget } from "../hygiene.ts";
import { answer, type Stage, type StageResult } from "../stage.ts";
import type { RequestContext } from "../context.ts";

/** What a 405 for a method Warren never forwards lists as allowed. */
export const COMMON_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

export const hygiene: Stage = {
  name: "hygiene",
  run(ctx: RequestContext): StageResult {
    const req = ctx.req;
    // A gateway is not a forward proxy: CONNECT tunnels are never opened (answered, not dropped).
    if (ctx.method === "CONNECT") return answer("method_not_allowed", ["allow", COMMON_METHODS]);
    const host = checkHostHeader(req.rawHeaders, req.httpVersion);
    if (!host.ok) return answer(host.code);
    const framing = checkFraming(req.rawHeaders);
    if (framing) return answer(framing);
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing (an HTTP/1.0 hop
    // behind would read the body otherwise); Node's parser would de-chunk it and forward it.
    if (req.httpVersion === "1.0" && req.headers["transfer-encoding"] !== undefined) return answer("bad_framing");
    const target = checkRequestTarget(req.url ?? "", ctx.method, host.value);
    if (!target.ok) return answer(target.code);
    // `OPTIONS *` asks about the server, not a resource; no route serves it (nginx answers 400 too).
    if (target.form === "asterisk") return answer("bad_request_target");
    ctx.host = host.host;
    ctx.hostValue = host.value;
    ctx.path = target.path;
    ctx.query = target.query;
    ctx.forwardTarget = target.forwardTarget;
    ctx.routingPath = target.routingPath;
    ctx.encodedSeparator = target.encodedSeparator;
    const headers = req.headers;
    const cl = headers["content-length"];
    ctx.hasBody = (cl !== undefined && cl !== "0") || headers["transfer-encoding"] !== undefined;
    const expect = headers.expect;
    if (expect !== undefined) {
      // Only 100-continue exists (RFC 9110 §10.1.1); Warren answers it itself, once, when it needs the body.
      if (expect.trim().toLowerCase() !== "100-continue") return answer("expectation_failed");
      ctx.expectContinue = ctx.hasBody && (req.httpVersion === "1.1" || req.httpVersion === "2.0");
    }
    if (ctx.raw?.kind === "upgrade") {
      const u = headers.upgrade ?? "";
      const comma = u.indexOf(",");
      ctx.upgradeProtocol = (comma < 0 ? u : u.slice(0, comma)).trim().toLowerCase();
    }
    return undefined;
  },
};
