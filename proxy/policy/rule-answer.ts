// The answer a policy rule writes itself (a WAF block, a rate limit): its template rendered, its
// inline body, or Warren's error page for the code — never cached, with the rule's extra headers.
import { renderErrorPage } from "../errors.ts";
import { writeAnswer } from "../respond.ts";
import { errorEntry, type ErrorCode } from "../../lib/errors.ts";
import { reasonPhrase } from "../../lib/http-status.ts";
import type { RequestContext } from "../context.ts";
import type { BlockBody } from "../snapshot.ts";

export function writeRuleAnswer(ctx: RequestContext, code: ErrorCode, status: number, body: BlockBody, headers: readonly string[], ruleName: string): void {
  ctx.code = code;
  if (body.kind === "error_page") {
    const page = renderErrorPage(code, ctx.id, ctx.req.headers.accept);
    writeAnswer(ctx, status, ["content-type", page.contentType, "cache-control", "no-store", ...headers], page.body);
  } else if (body.kind === "literal") {
    writeAnswer(ctx, status, ["content-type", body.contentType, "cache-control", "no-store", ...headers], body.body);
  } else {
    const rendered = body.template.render({
      status: String(status),
      status_text: reasonPhrase(status),
      message: errorEntry(code).message,
      request_id: ctx.id,
      host: ctx.host,
      path: ctx.path,
      rule_name: ruleName,
    });
    writeAnswer(ctx, status, ["content-type", body.template.contentType, "cache-control", "no-store", ...headers], rendered);
  }
}
