import type { ServiceImpl } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { TokenService } from "../../proto/gen/warren/v1/token_pb.ts";
import { Role } from "../../proto/gen/warren/v1/user_pb.ts";
import { ApiError, fieldError } from "../errors.ts";
import { API_TOKEN_PREFIX } from "../auth/authenticator.ts";
import { weakerRole } from "../auth/principal.ts";
import { randomSecret, sha256Hex } from "../auth/secrets.ts";
import { newId } from "../store/ids.ts";
import { principalOf, setAuditTarget } from "./context.ts";
import { roleFromProto, tokenToProto } from "./convert.ts";
import type { ApiDeps } from "./deps.ts";

const MAX_TOKEN_LIFETIME_MS = 10 * 365 * 24 * 3600_000;

export function tokenService(d: ApiDeps): ServiceImpl<typeof TokenService> {
  return {
    createToken(req, ctx) {
      const me = principalOf(ctx);
      const name = req.name.trim();
      if (name === "") throw fieldError("name", "is required");
      if (name.length > 64) throw fieldError("name", "must be at most 64 characters");
      if (/[\u0000-\u001f\u007f]/.test(name)) throw fieldError("name", "must not contain control characters");
      const asked = req.role === Role.UNSPECIFIED ? me.role : roleFromProto(req.role, "role");
      if (weakerRole(asked, me.role) !== asked) throw fieldError("role", "cannot exceed your own role");
      const now = d.now();
      let expiresAt: number | null = null;
      if (req.expiresAt) {
        expiresAt = timestampMs(req.expiresAt);
        if (expiresAt <= now) throw fieldError("expires_at", "must be in the future");
        if (expiresAt - now > MAX_TOKEN_LIFETIME_MS) throw fieldError("expires_at", "must be within 10 years");
      }
      const secret = API_TOKEN_PREFIX + randomSecret(32);
      const id = newId("tok");
      d.store.tokens.insert({
        id,
        token_hash: sha256Hex(secret),
        // Enough to tell tokens apart in a list, far too little to guess the rest.
        prefix: secret.slice(0, API_TOKEN_PREFIX.length + 4),
        name,
        user_id: me.user.id,
        role: asked,
        created_at: now,
        expires_at: expiresAt,
      });
      setAuditTarget(ctx, id);
      return { token: tokenToProto(d.store.tokens.byId(id)!), secret };
    },

    listTokens() {
      return { tokens: d.store.tokens.list().map(tokenToProto) };
    },

    deleteToken(req, ctx) {
      if (req.id === "") throw fieldError("id", "is required");
      setAuditTarget(ctx, req.id);
      if (!d.store.tokens.delete(req.id)) throw new ApiError("not_found", `id: no token ${req.id}`);
      return {};
    },
  };
}
