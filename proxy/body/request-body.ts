// The request body on its way upstream, through one list of transforms (the body limit, then the
// upload shaper). Each transform sees every chunk in order and may fail the stream.
import { Readable, Transform } from "node:stream";
import type { RequestContext } from "../context.ts";

/** Returns a Transform for this request, or undefined when it has nothing to do. */
export type BodyTransform = (ctx: RequestContext) => Transform | undefined;

/**
 * The body of a request that node:http handed over as a bare socket (an upgrade request that is
 * forwarded as a plain one): exactly Content-Length bytes from what came after the head and the
 * socket. Anything after them is left unread.
 */
function rawBody(ctx: RequestContext, length: number): Readable {
  const { socket, head } = ctx.raw!;
  let left = length;
  const out = new Readable({ read: () => socket.resume() });
  const take = (chunk: Buffer): void => {
    if (left <= 0) return;
    const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
    left -= part.length;
    if (!out.push(part)) socket.pause();
    if (left === 0) {
      socket.off("data", take);
      socket.pause();
      out.push(null);
    }
  };
  if (head.length > 0) take(head);
  if (left > 0) socket.on("data", take);
  return out;
}

/**
 * The stream to send upstream, or undefined for a request without a body. Raw-socket requests carry
 * a body only with Content-Length (`undefined` is returned for chunked ones: the caller refuses them).
 */
export function requestBody(ctx: RequestContext, transforms: readonly BodyTransform[]): Readable | undefined | "unsupported" {
  if (!ctx.hasBody) return undefined;
  let body: Readable;
  if (ctx.raw !== undefined) {
    const cl = ctx.req.headers["content-length"];
    if (cl === undefined) return "unsupported";
    body = rawBody(ctx, Number(cl));
  } else {
    body = ctx.req;
  }
  for (const t of transforms) {
    const x = t(ctx);
    if (x !== undefined) body = body.pipe(x);
  }
  return body;
}
