import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Role, type User } from "../../proto/gen/warren/v1/user_pb.ts";
import type { ApiToken } from "../../proto/gen/warren/v1/token_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { UserSchema } from "../../proto/gen/warren/v1/user_pb.ts";
import type { ApiTokenSchema } from "../../proto/gen/warren/v1/token_pb.ts";
import type { RoleName, TokenListRow, UserRow } from "../store/index.ts";
import { fieldError } from "../errors.ts";

export function roleToProto(r: RoleName): Role {
  return r === "admin" ? Role.ADMIN : Role.VIEWER;
}

export function roleFromProto(r: Role, field: string): RoleName {
  switch (r) {
    case Role.ADMIN:
      return "admin";
    case Role.VIEWER:
      return "viewer";
    default:
      throw fieldError(field, "must be ROLE_ADMIN or ROLE_VIEWER");
  }
}

const ts = (ms: number | null) => (ms === null ? undefined : timestampFromMs(ms));

export function userToProto(u: UserRow): MessageInitShape<typeof UserSchema> {
  return {
    id: u.id,
    username: u.username,
    role: roleToProto(u.role),
    disabled: u.disabled === 1,
    createdAt: ts(u.created_at),
    updatedAt: ts(u.updated_at),
    lastLoginAt: ts(u.last_login_at),
  };
}

export function tokenToProto(t: TokenListRow): MessageInitShape<typeof ApiTokenSchema> {
  return {
    id: t.id,
    name: t.name,
    userId: t.user_id,
    username: t.username,
    role: roleToProto(t.role),
    prefix: t.prefix,
    createdAt: ts(t.created_at),
    expiresAt: ts(t.expires_at),
    lastUsedAt: ts(t.last_used_at),
  };
}

export type { User, ApiToken };
