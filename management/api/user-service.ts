import type { ServiceImpl } from "@connectrpc/connect";
import { UserService } from "../../proto/gen/warren/v1/user_pb.ts";
import { ApiError, fieldError } from "../errors.ts";
import { checkNewPassword, normalizeUsername } from "../auth/credentials-policy.ts";
import { hashPassword, verifyPassword } from "../auth/password.ts";
import { newId } from "../store/ids.ts";
import type { RoleName, UserRow } from "../store/index.ts";
import { principalOf, setAuditTarget } from "./context.ts";
import { roleFromProto, userToProto } from "./convert.ts";
import type { ApiDeps } from "./deps.ts";

export function userService(d: ApiDeps): ServiceImpl<typeof UserService> {
  const mustFind = (id: string, field = "id"): UserRow => {
    if (id === "") throw fieldError(field, "is required");
    const u = d.store.users.byId(id);
    if (!u) throw new ApiError("not_found", `${field}: no user ${id}`);
    return u;
  };

  /** Refuses a change that would leave no enabled admin: nobody could manage Warren any more. */
  const keepAnAdmin = (target: UserRow, nextRole: RoleName, nextDisabled: boolean) => {
    const loses = target.role === "admin" && !target.disabled && (nextRole !== "admin" || nextDisabled);
    if (loses && d.store.users.countActiveAdmins() <= 1) {
      throw new ApiError("failed_precondition", "this is the last enabled admin; make another admin first");
    }
  };

  return {
    listUsers() {
      return { users: d.store.users.list().map(userToProto) };
    },

    async createUser(req, ctx) {
      const username = normalizeUsername(req.username);
      checkNewPassword(req.password);
      const role = roleFromProto(req.role, "role");
      if (d.store.users.byUsername(username)) throw new ApiError("already_exists", `username: "${username}" is taken`);
      const hash = await hashPassword(req.password);
      const now = d.now();
      const id = newId("usr");
      d.store.users.transaction(() => {
        if (d.store.users.byUsername(username)) throw new ApiError("already_exists", `username: "${username}" is taken`);
        d.store.users.insert({ id, username, password_hash: hash, role, disabled: 0, created_at: now, updated_at: now });
      });
      setAuditTarget(ctx, id);
      return { user: userToProto(d.store.users.byId(id)!) };
    },

    updateUser(req, ctx) {
      setAuditTarget(ctx, req.id);
      const now = d.now();
      const user = d.store.users.transaction(() => {
        const u = mustFind(req.id);
        const role = req.role === undefined ? u.role : roleFromProto(req.role, "role");
        const disabled = req.disabled ?? u.disabled === 1;
        keepAnAdmin(u, role, disabled);
        d.store.users.update(u.id, role, disabled, now);
        // A disabled user loses every session at once, not at its next expiry.
        if (disabled) d.store.sessions.revokeAllForUser(u.id, now);
        return d.store.users.byId(u.id)!;
      });
      return { user: userToProto(user) };
    },

    deleteUser(req, ctx) {
      setAuditTarget(ctx, req.id);
      const me = principalOf(ctx);
      if (req.id === me.user.id) throw new ApiError("failed_precondition", "id: you cannot delete yourself");
      d.store.users.transaction(() => {
        const u = mustFind(req.id);
        keepAnAdmin(u, "viewer", true);
        d.store.users.delete(u.id);
      });
      return {};
    },

    async changePassword(req, ctx) {
      const me = principalOf(ctx);
      const targetId = req.userId === "" ? me.user.id : req.userId;
      setAuditTarget(ctx, targetId);
      if (targetId !== me.user.id && me.role !== "admin") throw new ApiError("permission_denied", "user_id: only an admin may change another user's password");
      const target = mustFind(targetId, "user_id");
      checkNewPassword(req.newPassword, "new_password");
      if (target.id === me.user.id) {
        // Changing one's own password proves knowledge of the old one, so a stolen session cannot lock the owner out.
        if (req.currentPassword === "") throw fieldError("current_password", "is required to change your own password");
        if (!(await verifyPassword(req.currentPassword, target.password_hash))) {
          throw new ApiError("permission_denied", "current_password: does not match");
        }
      }
      const hash = await hashPassword(req.newPassword);
      const now = d.now();
      const revoked = d.store.users.transaction(() => {
        d.store.users.setPassword(target.id, hash, now);
        return d.store.sessions.revokeAllForUser(target.id, now, me.user.id === target.id ? me.sessionId : undefined);
      });
      return { revokedSessions: revoked };
    },
  };
}
