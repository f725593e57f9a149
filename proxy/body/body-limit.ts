import { Transform } from "node:stream";
import { WarrenError } from "../../lib/errors.ts";
import type { RequestContext } from "../context.ts";
import type { BodyTransform } from "./request-body.ts";

/**
 * Counts request body bytes (for the event) and fails the stream past the route's limit: the check
 * for bodies without Content-Length, or longer than they said (the route stage refused declared ones).
 */
export const bodyLimit: BodyTransform = (ctx: RequestContext) => {
  const max = ctx.route?.maxBodyBytes ?? 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      ctx.bytesIn += chunk.length;
      if (max > 0 && ctx.bytesIn > max) cb(new WarrenError("body_too_large"));
      else cb(null, chunk);
    },
  });
};
