import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";

export class CliError extends Error {
  override name = "CliError";
}

/** Asks for a line on the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!muted) process.stderr.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write("\n");
      resolve(answer);
    });
    muted = true;
  });
}

/** Reads a new password from a file, an environment variable, or (on a terminal) a prompt typed twice. */
export async function readNewPassword(opts: { passwordFile?: string; passwordEnv?: string }): Promise<string> {
  if (opts.passwordFile && opts.passwordEnv) throw new CliError("give --password-file or --password-env, not both");
  if (opts.passwordFile) {
    let text: string;
    try {
      text = readFileSync(opts.passwordFile, "utf8");
    } catch (e) {
      throw new CliError(`--password-file: cannot read ${opts.passwordFile} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
    }
    // Editors and `echo` add a final newline that is not part of the password.
    return text.replace(/\r?\n$/, "");
  }
  if (opts.passwordEnv) {
    const v = process.env[opts.passwordEnv];
    if (v === undefined || v === "") throw new CliError(`--password-env: environment variable ${opts.passwordEnv} is not set`);
    return v;
  }
  if (!process.stdin.isTTY) throw new CliError("no terminal to prompt on: use --password-file FILE or --password-env VAR");
  const first = await promptHidden("New password: ");
  const second = await promptHidden("Repeat it: ");
  if (first !== second) throw new CliError("the two passwords differ; nothing was changed");
  return first;
}
