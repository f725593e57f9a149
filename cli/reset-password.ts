import { resolveStatePaths } from "../management/settings/management-settings.ts";
import { openStore } from "../management/store/index.ts";
import { checkNewPassword, normalizeUsername } from "../management/auth/credentials-policy.ts";
import { hashPassword } from "../management/auth/password.ts";
import { ApiError } from "../management/errors.ts";
import { CliError, readNewPassword } from "./password-input.ts";
import { existsSync } from "node:fs";

/**
 * `warren users reset-password NAME`: works directly on the SQLite file (safe while the server runs:
 * WAL + busy timeout), sets the password and revokes every session of that user.
 */
export async function resetPassword(name: string, opts: { passwordFile?: string; passwordEnv?: string }): Promise<string> {
  let username: string;
  try {
    username = normalizeUsername(name, "NAME");
  } catch (e) {
    throw new CliError(e instanceof ApiError ? e.message : String(e));
  }
  const { databasePath } = resolveStatePaths(process.env);
  if (!existsSync(databasePath)) throw new CliError(`no database at ${databasePath} (set CONFIG_DIR or DATABASE_PATH)`);
  const password = await readNewPassword(opts);
  try {
    checkNewPassword(password, "password");
  } catch (e) {
    throw new CliError(e instanceof ApiError ? e.message : String(e));
  }
  const hash = await hashPassword(password);
  const store = openStore(databasePath);
  try {
    const now = Date.now();
    const result = store.users.transaction(() => {
      const user = store.users.byUsername(username);
      if (!user) return undefined;
      store.users.setPassword(user.id, hash, now);
      const revoked = store.sessions.revokeAllForUser(user.id, now);
      store.audit.insert({
        at: now,
        actor_kind: "cli",
        actor_id: "",
        actor_name: process.env.USER ?? "",
        method: "cli/users reset-password",
        target_id: user.id,
        outcome: "ok",
        peer_ip: "",
        detail: `revoked ${revoked} sessions`,
      });
      return { user, revoked };
    });
    if (!result) {
      const known = store.users.list().map((u) => u.username);
      throw new CliError(`no user "${username}"${known.length ? ` (users: ${known.join(", ")})` : " (no users exist yet)"}`);
    }
    const lines = [`password of ${result.user.username} (${result.user.id}) reset; revoked ${result.revoked} session(s)`];
    if (result.user.disabled) lines.push(`note: ${result.user.username} is disabled; an admin must enable the account before it can log in`);
    return lines.join("\n");
  } finally {
    store.close();
  }
}
