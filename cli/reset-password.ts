import { resolveStatePaths } from "../management/settings/management-settings.ts";
import { openStore } from "../management/store/index.ts";
import { checkNewPassword, normalizeUsername } from "../management/auth/credentials-policy.ts";
import { hashPassword } from "../management/auth/password.ts";
import { ApiError } from "../management/errors.ts";
import { CliError, readNewPassword } from "./password-input.ts";
import { accessSync, constants } from "node:fs";
import { dirname } from "node:path";

/**
 * Only whoever may write the database (the account warren serve runs as, or root) may reset a
 * password: checked up front, so anyone else gets one clear line instead of a SQLite error. SQLite
 * needs the directory too, for the WAL and shared-memory files.
 */
function requireWriteAccess(databasePath: string): void {
  const checks: [string, number][] = [
    [dirname(databasePath), constants.W_OK | constants.X_OK],
    [databasePath, constants.R_OK | constants.W_OK],
  ];
  for (const [path, mode] of checks) {
    try {
      accessSync(path, mode);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      if (code === "ENOENT") throw new CliError(`no database at ${databasePath} (set CONFIG_DIR or DATABASE_PATH)`);
      throw new CliError(`cannot write ${path} (${code}): run this as the user warren serve runs as, with write access to its database`);
    }
  }
}

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
  requireWriteAccess(databasePath);
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
