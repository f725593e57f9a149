import { existsSync } from "node:fs";
import { Command } from "commander";
import { PACKAGE_VERSION as VERSION } from "../lib/package-info.ts";
import { SettingsError } from "../lib/env.ts";
import { MigrationError } from "../management/store/migrate.ts";
import { CliError } from "./password-input.ts";
import { SecretError } from "../management/secrets/errors.ts";

// `.env` is read first; variables already set in the environment win.
if (existsSync(".env")) process.loadEnvFile(".env");

function fail(e: unknown): never {
  if (e instanceof SettingsError || e instanceof CliError || e instanceof MigrationError || e instanceof SecretError) {
    process.stderr.write(`warren: ${e.message}\n`);
    process.exit(2);
  }
  const errno = e as NodeJS.ErrnoException & { address?: string; port?: number };
  if (errno.code === "EADDRINUSE" || errno.code === "EACCES" || errno.code === "EADDRNOTAVAIL") {
    process.stderr.write(`warren: cannot listen on ${errno.address ?? "?"}:${errno.port ?? "?"}: ${errno.code} (check MANAGEMENT_BIND_ADDRESS / MANAGEMENT_PORT)\n`);
    process.exit(2);
  }
  process.stderr.write(`warren: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
}

const program = new Command("warren").description("Self-hosted reverse proxy and tunnel gateway").version(VERSION, "-v, --version");

program
  .command("serve")
  .description("run management (API, UI, agent tunnels) and the public listeners")
  .action(async () => {
    const { serve } = await import("./serve.ts");
    await serve().catch(fail);
  });

program
  .command("agent")
  .description("dial management, keep the tunnel up and relay streams to origins on this host")
  .action(async () => {
    const { agentCommand } = await import("./agent.ts");
    await agentCommand();
  });

const users = program.command("users").description("manage users directly in the database");
users
  .command("reset-password")
  .argument("<name>", "username")
  .option("--password-file <file>", "read the new password from a file (one trailing newline is ignored)")
  .option("--password-env <var>", "read the new password from an environment variable")
  .description("set a user's password and revoke their sessions; works while the server runs")
  .action(async (name: string, opts: { passwordFile?: string; passwordEnv?: string }) => {
    const { resetPassword } = await import("./reset-password.ts");
    const report = await resetPassword(name, opts).catch(fail);
    process.stdout.write(`${report}\n`);
  });

const secrets = program.command("secrets").description("the key that encrypts stored credentials (DESIGN.md §7)");
secrets
  .command("generate-key")
  .option("--out <file>", "write the key to this new file (mode 600) instead of printing it")
  .description("make a new secrets key: base64 of 32 random bytes, for SECRETS_ENCRYPTION_KEY_FILE")
  .action(async (opts: { out?: string }) => {
    const { generateKey } = await import("./secrets.ts");
    const report = await generateKey(opts).catch(fail);
    process.stdout.write(`${report}\n`);
  });
secrets
  .command("rotate")
  .description("reseal every stored secret with SECRETS_ENCRYPTION_KEY_FILE, opening old ones with SECRETS_ENCRYPTION_PREVIOUS_KEYS; run with the server stopped")
  .action(async () => {
    const { rotateSecrets } = await import("./secrets.ts");
    const report = await rotateSecrets().catch(fail);
    process.stdout.write(`${report}\n`);
  });

await program.parseAsync(process.argv).catch(fail);
